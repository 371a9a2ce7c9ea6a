"""The API server: one ASGI app (FastAPI) with REST under /v1 and GraphQL at /graphql.

Errors are answered at once with a clear status: 401 (no usable token), 403 (no permission; the
body never says whether the account exists), 400 (a request that cannot be answered as asked).
Bound to 127.0.0.1 unless configured otherwise; anywhere else only with TLS certificate files.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from strawberry.fastapi import GraphQLRouter

from spendstream.api.access import Forbidden, Principal, TokenKeys, Unauthorized
from spendstream.api.read_model import BadRequest
from spendstream.api.rest import principal, router
from spendstream.api.schema import build_schema
from spendstream.config import Config, ConfigError


def create_app(config: Config, keys: TokenKeys) -> FastAPI:
    app = FastAPI(title="spendstream API", version="1", docs_url="/docs", openapi_url="/openapi.json")
    app.state.config, app.state.keys = config, keys

    async def graphql_context(who: Annotated[Principal, Depends(principal)]) -> dict:
        return {"principal": who, "config": config}

    app.include_router(router)
    app.include_router(GraphQLRouter(build_schema(config), context_getter=graphql_context), prefix="/graphql")
    app.add_exception_handler(Unauthorized, _status(401, {"WWW-Authenticate": "Bearer"}))
    app.add_exception_handler(Forbidden, _status(403))
    app.add_exception_handler(BadRequest, _status(400))
    app.add_exception_handler(RequestValidationError, _invalid)

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
