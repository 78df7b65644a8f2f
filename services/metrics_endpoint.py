"""`GET /metrics` of an HTTP service: its process's Prometheus metrics, in the text format.

Who may read it: with METRICS_TOKEN set, whoever presents it as a bearer (and nobody else);
without, loopback clients only (a Prometheus or an agent on the same host). uvicorn takes the
client from X-Forwarded-For only when the proxy itself is on loopback, so a request relayed
by a local reverse proxy counts as the remote client it came from. The route stays out of the
OpenAPI documents.
"""

import hmac
import ipaddress
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from shared.db.metrics_collector import database_registry
from shared.db.threads import in_thread
from shared.settings import Settings

CHALLENGE = {"WWW-Authenticate": "Bearer"}


def install_metrics(app: FastAPI, settings: Settings, *, with_database: bool = False) -> None:
    """Serve the process's metrics (prometheus_client's default registry) at /metrics, and
    `with_database` the desk's figures read from the app's database at each scrape."""
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if token:
            if not _bearer_matches(request.headers.get("authorization"), token):
                return JSONResponse(
                    {"detail": "metrics need the metrics token"}, 401, headers=CHALLENGE
                )
        elif not _loopback(request):
            return JSONResponse(
                {"detail": "metrics are served to loopback clients, or with METRICS_TOKEN"}, 403
            )
        registries = [REGISTRY]
        if with_database:
            registries.append(database_registry(request.app.state.sessions))
        # The database's figures are read as they are rendered: never on the event loop.
        body = await in_thread(_exposition, registries)
        return Response(body, media_type=CONTENT_TYPE_LATEST)


def _exposition(registries: Sequence[CollectorRegistry]) -> bytes:
    return b"".join(generate_latest(registry) for registry in registries)


def _bearer_matches(authorization: str | None, token: str) -> bool:
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
