"""The job document typed (core/jobs.Job): what to_doc writes, from_doc reads back, and the
documents older code and the GPU service leave are read."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from imagebot.core.jobs import DeliveryClaim, Job, State, move, updated
from imagebot.core.vocabulary import ASPECTS, STYLES

from gpu_service import jobs as gpu_jobs

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC))
words = st.text(min_size=1, max_size=30)
maybe = st.none

jobs = st.builds(
    Job,
    job_id=st.from_regex(r"u[0-9]{1,9}", fullmatch=True),
    state=st.sampled_from(State),
    chat_id=st.integers(-(10**12), 10**12),
    user_id=st.integers(1, 10**10),
    update_id=maybe() | st.integers(0, 10**9),
    message_id=maybe() | st.integers(1, 10**6),
    language=st.sampled_from(["en", "ru", "de"]),
    times=st.dictionaries(st.sampled_from([s.value for s in State]), moments, max_size=4),
    expire_at=maybe() | moments,
    prompt=maybe() | words,
    model_prompt=maybe() | words,
    negative_prompt=st.just("") | words,
    style=maybe() | st.sampled_from(STYLES),
    aspect=st.sampled_from(ASPECTS),
    seed=maybe() | st.integers(0, 2**32 - 1),
    enhance=maybe() | st.booleans(),
    source_job_id=maybe() | st.just("u7"),
    status_message_id=maybe() | st.integers(1, 10**6),
    admitted_by=maybe() | words,
    reason=maybe() | st.sampled_from(["rate", "daily", "flagged", "too_long"]),
    retry_after_seconds=st.integers(0, 86400),
    told=st.booleans(),
    refusal_shown=maybe() | st.booleans(),
    gpu_route=maybe() | st.sampled_from(["cloudrun", "vertex"]),
    negative_applied=st.booleans(),
    delivery_claim=maybe() | st.builds(DeliveryClaim, by=words, at=moments),
    delivery_retry_at=maybe() | moments,
    delivery_attempts=st.integers(0, 20),
    delivery_error=maybe() | words,
    photo_file_id=maybe() | words,
    durations_ms=maybe() | st.dictionaries(st.sampled_from(["queued", "delivered"]), st.integers(0, 10**6)),
)


@given(jobs)
def test_a_job_reads_back_from_its_document_as_it_was(job):
    assert Job.from_doc(job.to_doc()) == job


def test_a_new_job_is_written_as_the_functions_always_wrote_it():
    received = Job(
        "u1",
        State.RECEIVED,
        chat_id=7,
        user_id=8,
        update_id=1,
        message_id=3,
        times={"received": T0},
    )
    assert received.to_doc() == {
        "job_id": "u1",
        "state": "received",
        "chat_id": 7,
        "user_id": 8,
        "update_id": 1,
        "message_id": 3,
        "language": "en",
        "times": {"received": T0},
    }
    # A prompt job carries its drawing fields, the style None until the user chooses one.
    asking = Job(
        "u2",
        State.AWAITING_STYLE,
        chat_id=7,
        user_id=8,
        prompt="a fox",
        model_prompt="a fox",
        seed=5,
        times={"received": T0, "awaiting_style": T0},
    ).to_doc()
    assert {k: asking[k] for k in ("style", "negative_prompt", "aspect", "seed")} == {
        "style": None,
        "negative_prompt": "",
        "aspect": "square",
        "seed": 5,
    }
    assert "enhance" not in asking and "delivery_attempts" not in asking and "told" not in asking


def test_an_older_document_is_read_with_defaults_and_its_unknown_fields_left_out():
    job = Job.from_doc({"state": "generating", "chat_id": 7, "times": {"generating": T0}, "legacy": 1}, "u9")
    assert (job.job_id, job.state, job.language, job.aspect, job.negative_prompt) == (
        "u9",
        State.GENERATING,
        "en",
        "square",
        "",
    )
    assert (job.told, job.negative_applied, job.delivery_attempts, job.prompt) == (True, True, 0, None)
    assert "legacy" not in job.to_doc()


def test_the_document_the_gpu_service_leaves_is_read():
    doc = Job(
        "u3", State.QUEUED, chat_id=7, user_id=7, prompt="a fox", style="pixel", seed=1, times={"queued": T0}
    ).to_doc()
    later = T0 + timedelta(seconds=2)
    doc = updated(doc, gpu_jobs.changes_for(gpu_jobs.GENERATING, T0 + timedelta(seconds=1)))
    doc = updated(doc, gpu_jobs.changes_for(gpu_jobs.GENERATED, later, seed=42, negative_applied=False))
    job = Job.from_doc(doc)
    assert (job.state, job.seed, job.negative_applied, job.times["generated"]) == (
        State.GENERATED,
        42,
        False,
        later,
    )
    assert set(job.times) == {"queued", "generating", "generated"}
    flagged = Job.from_doc(updated(doc, gpu_jobs.changes_for(gpu_jobs.REJECTED, later, reason="flagged")))
    assert (flagged.state, flagged.reason) == (State.REJECTED, "flagged")


def test_a_deferred_delivery_reads_back_with_its_claim_and_error():
    doc = Job("u4", State.GENERATED, chat_id=7, user_id=7, times={"generated": T0}).to_doc()
    doc = updated(doc, {"delivery_claim": {"by": "event-1", "at": T0}})
    assert Job.from_doc(doc).delivery_claim == DeliveryClaim("event-1", T0)
    doc = updated(doc, {**move(State.GENERATED, State.FAILED, T0), "delivery_error": "502"})
    job = Job.from_doc(doc)
    assert (job.state, job.delivery_error) == (State.FAILED, "502")
