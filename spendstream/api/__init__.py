"""The API layer: REST and GraphQL over what the pipeline wrote, for people and services.

``spendstream api serve`` runs it (uvicorn, 127.0.0.1 by default). Every request carries a JWT;
what it may see is decided per account by ``access``; what it reads comes from InfluxDB through
``read_model``; ``rest`` and ``schema`` are two faces of the same reads.
"""
