"""The API server: one ASGI app (FastAPI) with REST under /v1 and GraphQL at /graphql.

Custom cost and metric events are ingested at /v1/cost-events and /v1/metric-events (ingest.py).
The web console is served at /console/ (static files that call the same GraphQL endpoint).
Errors are answered at once with a clear status: 401 (no usable token), 403 (no permission; the
body never says whether the account exists), 400 (a request that cannot be answered as asked).
Bound to 127.0.0.1 unless configured otherwise; anywhere else only with TLS certificate files.
"""

from __future__ import annotations

import ipaddress
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import HTTPConnection
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET

from spendstream.api.access import Forbidden, TokenKeys, Unauthorized
from spendstream.api.alert_feed import AlertFeed
from spendstream.api.cost_feed import CostFeed
from spendstream.api.ingest import Publisher, Refused, refused
from spendstream.api.ingest import router as ingest_router
from spendstream.api.read_model import BadRequest, Unavailable
from spendstream.api.rest import principal, router
from spendstream.api.schema import build_schema
from spendstream.api.settings import SettingsStore
from spendstream.config import Config, ConfigError

CONSOLE = Path(__file__).parent / "console"  # the web console: static files, no build step


class TokenGraphQLRouter(GraphQLRouter):
    """Tokens over HTTP in the Authorization header; over a WebSocket in ``connection_init``.

    Browsers cannot set headers on a WebSocket, so its ``connection_init`` payload carries
    ``{"Authorization": "Bearer <token>"}``; without a valid one the socket is closed (4403).
    """

    async def on_ws_connect(self, context: dict):
        params = context.get("connection_params") or {}
        header = str(params.get("Authorization") or params.get("authorization") or "")
        scheme, _, token = header.partition(" ")
        try:
            if scheme.lower() != "bearer" or not token:
                raise Unauthorized("no bearer token in connection_init")
            context["principal"] = context["keys"].verify(token.strip())
        except Unauthorized:
            raise ConnectionRejectionError({"error": "a valid bearer token is required"}) from None
        return UNSET


def create_app(config: Config, keys: TokenKeys) -> FastAPI:
    feed, costs, publisher = AlertFeed(config), CostFeed(config), Publisher(config)
    settings = SettingsStore(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        feed.start()
        costs.start()
        try:
            yield
        finally:
            feed.stop()
            costs.stop()
            publisher.close()

    app = FastAPI(
        title="spendstream API", version="1", docs_url="/docs", openapi_url="/openapi.json", lifespan=lifespan
    )
    app.state.config, app.state.keys, app.state.feed, app.state.publisher = config, keys, feed, publisher

    async def graphql_context(connection: HTTPConnection) -> dict:
        context = {
            "config": config,
            "feed": feed,
            "costs": costs,
            "settings": settings,
            "keys": keys,
            "principal": None,
        }
        if connection.scope["type"] == "http":  # a WebSocket authenticates in connection_init
            context["principal"] = principal(connection)
        return context

    app.include_router(router)
    app.include_router(ingest_router, prefix="")
    graphql = TokenGraphQLRouter(
        build_schema(config),
        context_getter=graphql_context,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
    )
    app.include_router(graphql, prefix="/graphql")
    app.add_exception_handler(Unauthorized, _status(401, {"WWW-Authenticate": "Bearer"}))
    app.add_exception_handler(Forbidden, _status(403))
    app.add_exception_handler(BadRequest, _status(400))
    app.add_exception_handler(Unavailable, _status(503))
    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(RequestValidationError, _invalid)

    app.mount("/console", StaticFiles(directory=CONSOLE, html=True), name="console")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/console/")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"status": "ok"}

    return app


def _status(code: int, headers: dict[str, str] | None = None):
    async def handler(request: Request, error: Exception) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=code, headers=headers)

    return handler


async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
    problems = [f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in error.errors()]
    return JSONResponse({"error": "; ".join(problems)}, status_code=400)


def serve(config: Config) -> None:
    """Run the server until interrupted (uvicorn)."""
    import uvicorn

    api = config.api
    if not _loopback(api.host) and not (api.tls_cert_file and api.tls_key_file):
        raise ConfigError(
            f"api.host {api.host} is not a loopback address: set api.tls_cert_file and api.tls_key_file "
            "(tokens must not cross a network in clear text)"
        )
    app = create_app(config, TokenKeys.from_settings(api))
    uvicorn.run(
        app,
        host=api.host,
        port=api.port,
        ssl_certfile=api.tls_cert_file or None,
        ssl_keyfile=api.tls_key_file or None,
        log_level="warning",
        timeout_keep_alive=5,
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
