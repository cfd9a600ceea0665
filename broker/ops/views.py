"""GET /metrics for Prometheus: a bearer token (VD_METRICS_TOKEN) or, without one, loopback only."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Depends, Request, Response, status
from prometheus_client import CONTENT_TYPE_LATEST

from broker.auth.deps import public
from broker.deps import RuntimeDep, SessionDep
from broker.errors import CodedHTTPException
from broker.ops import metrics

router = APIRouter(tags=["operations"])


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_access(request: Request, token: str) -> None:
    if token:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise CodedHTTPException(status.HTTP_401_UNAUTHORIZED, "Metrics need the bearer token.",
                                     code="metrics_token_required", headers={"WWW-Authenticate": "Bearer"})
    elif not _is_loopback(request.client.host if request.client else None):
        raise CodedHTTPException(status.HTTP_403_FORBIDDEN,
                                 "Metrics answer loopback clients only; set VD_METRICS_TOKEN to scrape remotely.",
                                 code="metrics_loopback_only")


@router.get("/metrics", dependencies=[Depends(public)], include_in_schema=False)
async def prometheus_metrics(request: Request, db: SessionDep, runtime: RuntimeDep) -> Response:
    """Expose operational figures in the Prometheus text format."""
    ops = runtime.ops
    _check_access(request, ops.settings.metrics_token)
    snapshot = await metrics.take_snapshot(db=db, hub=runtime.hub, draining=ops.drain.draining)
    return Response(ops.metrics.render(snapshot), media_type=CONTENT_TYPE_LATEST)
