from datetime import UTC, datetime, timedelta

from imagebot.core.jobs import Job
from imagebot.core.stats import percentile, summarise

T0 = datetime(2026, 11, 22, 12, tzinfo=UTC)


def delivered(seconds):
    return {"state": "delivered", "times": {"received": T0, "delivered": T0 + timedelta(seconds=seconds)}}


def as_jobs(docs):
    """The documents as JobStore hands them out (older ones carry no more than these fields)."""
    return [Job.from_doc(doc, f"u{n}") for n, doc in enumerate(docs)]


def test_percentiles_use_the_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([float(v) for v in range(1, 101)], 0.95) == 95.0
    assert percentile([5.0, 1.0, 3.0, 2.0], 0.5) == 2.0


def test_a_day_of_jobs_is_counted_by_outcome_with_latency_of_delivered_ones():
    jobs = [
        delivered(2),
        delivered(4),
        delivered(10),
        {"state": "failed", "times": {"received": T0}},
        {"state": "rejected"},
        {"state": "queued"},
    ]
    day = summarise(as_jobs(jobs))
    assert (day.jobs, day.delivered, day.failed, day.rejected) == (6, 3, 1, 1)
    assert (day.p50_seconds, day.p95_seconds) == (4.0, 10.0)


def test_jobs_drawn_on_the_vertex_endpoint_and_handed_back_are_counted():
    jobs = [
        {**delivered(3), "gpu_route": "vertex"},
        {**delivered(3), "gpu_route": "cloudrun", "handed_back": "ServiceUnavailable: 503"},
        {**delivered(3), "gpu_route": "cloudrun"},
        delivered(3),  # before routing existed
    ]
    day = summarise(as_jobs(jobs))
    assert (day.on_vertex, day.handed_back) == (1, 1)
