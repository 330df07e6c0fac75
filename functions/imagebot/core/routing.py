"""Which GPU home draws a job: the Cloud Run service, or the Vertex AI endpoint (pure).

GPU_ROUTE says how to choose:
- cloudrun: always the Cloud Run service (the default; no endpoint needed);
- vertex:   always the endpoint (a region or project without Cloud Run L4 quota);
- auto:     the Cloud Run service, until the oldest job waiting for it has waited longer than
            OVERFLOW_QUEUE_AGE_SECONDS: then new jobs go to the endpoint, until the Cloud Run
            queue catches up. A saturated service and a service that is down look alike here,
            and both are reasons to overflow.

In economy mode `auto` never overflows: the budget guard asked for less spend, and an endpoint
scaling out to absorb the queue is more spend. The endpoint's minimum replicas keep serving
jobs routed to it explicitly (`vertex`).

An endpoint that just failed to answer (flows/dispatch_vertex.py handed a job back) is left alone by `auto`
for ENDPOINT_REST: otherwise, with Cloud Run saturated and the endpoint down, every new job
would make the detour, and with a hanging endpoint wait out the predict timeout first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum

from imagebot.core.ops import Mode


class GpuRoute(StrEnum):
    CLOUD_RUN = "cloudrun"
    VERTEX = "vertex"


ROUTE_SETTINGS = ("cloudrun", "vertex", "auto")
ENDPOINT_REST = timedelta(minutes=5)


def choose_route(
    setting: str,
    mode: Mode,
    oldest_waiting_since: Callable[[], datetime | None],
    endpoint_failed_at: Callable[[], datetime | None],
    now: datetime,
    overflow_after_seconds: float,
) -> GpuRoute:
    """The route for a new job. The two lookups (Firestore reads) are made only in auto mode,
    the second only when the queue is old enough to overflow, so the fixed routes cost nothing."""
    if setting == "cloudrun":
        return GpuRoute.CLOUD_RUN
    if setting == "vertex":
        return GpuRoute.VERTEX
    if mode != Mode.NORMAL:
        return GpuRoute.CLOUD_RUN
    since = oldest_waiting_since()
    if since is None or (now - since).total_seconds() <= overflow_after_seconds:
        return GpuRoute.CLOUD_RUN
    failed_at = endpoint_failed_at()
    if failed_at is not None and now - failed_at < ENDPOINT_REST:
        return GpuRoute.CLOUD_RUN
    return GpuRoute.VERTEX
