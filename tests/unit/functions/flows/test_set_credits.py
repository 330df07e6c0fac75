"""A set (all three styles) paid with credits, on in-memory edges: charged once, by its first
job admitted, for the jobs still to be drawn; a job of it that ends without its own admission
(refused at its creation, failed before admission) gives its share back once, and the set's
message says so; a pause after the set was charged leaves its jobs queued. The books balance."""

from imagebot.core.jobs import State
from imagebot.core.ops import Mode, Ops
from imagebot.core.payments import Credits, Payment
from imagebot.core.updates import Command, encode_event
from imagebot.edges.translation import Answer, Translator
from imagebot.flows import deliver_image, rate_limit, report_failure, validate_prompt

from tests.support.events import pubsub_event_data
from tests.support.fakes import FakeServices
from tests.support.images import png
from tests.support.ledger import assert_balanced

DEAD = {
    "CloudPubSubDeadLetterSourceSubscription": "validated",
    "CloudPubSubDeadLetterSourceDeliveryCount": "5",
}
GHIBLI, REALISTIC, PIXEL = (f"u700-{style}" for style in ("ghibli", "realistic", "pixel"))
BACK_1 = "💫 Your 1 credit is back."


def paying(rt: FakeServices) -> FakeServices:
    """User 7 holds 10 credits and has no free pictures left: every picture costs one."""
    rt.payments.record_payment(Payment("charge-1", 7, "p10", stars=50, credits=10, paid_at=rt.now()))
    rt.jobs.free_left = 0
    return rt


def start_set(rt: FakeServices) -> None:
    validate_prompt.handle_message(
        pubsub_event_data(encode_event(Command(700, 7, 7, 3, "all", "a red tram in the rain"))), rt
    )


def admit(rt: FakeServices, job_id: str) -> None:
    rate_limit.handle_message(pubsub_event_data(job_id.encode(), job_id=job_id), rt)


def deliver(rt: FakeServices, job_id: str) -> None:
    """The GPU's part for a queued job, then its finalize event."""
    rt.jobs.move_job(job_id, State.GENERATED, rt.clock)
    rt.objects[("images", f"outputs/{job_id}.png")] = png()
    meta = {"contract": "2", "job_id": job_id, "chat_id": "7", "style": "ghibli", "seed": "10"}
    meta |= {"width": "64", "height": "64", "candidates": "1"}
    event = {"bucket": "images", "name": f"outputs/{job_id}.png", "generation": "1"}
    deliver_image.handle_event({**event, "contentType": "image/png", "metadata": meta}, f"e-{job_id}", rt)


def set_message(rt: FakeServices) -> str:
    [message] = [
        call for call in rt.bot.calls if call.method == "sendMessage" and "All three" in call.params["text"]
    ]
    return str(message.params["text"])


def paid(rt: FakeServices, job_id: str) -> tuple[State, int, bool]:
    job = rt.jobs.get_job(job_id)
    assert job is not None
    return job.state, job.paid_credits, job.credits_returned


def test_a_pause_after_a_set_was_charged_leaves_its_other_jobs_queued_with_their_shares():
    rt = paying(FakeServices())
    start_set(rt)
    admit(rt, GHIBLI)  # the set charged: three credits
    rt.config.set_ops(Ops(mode=Mode.PAUSED))
    admit(rt, REALISTIC)
    admit(rt, PIXEL)
    assert [paid(rt, job_id) for job_id in (GHIBLI, REALISTIC, PIXEL)] == [(State.QUEUED, 1, False)] * 3
    assert rt.payments.credits_of(7) == Credits(held=7, bought=10, spent=3)
    assert not any("paused" in text for text in rt.bot.texts())
    assert_balanced(rt)


def test_a_job_refused_by_a_pause_before_its_set_was_charged_is_not_charged():
    rt = paying(FakeServices())
    start_set(rt)
    rt.config.set_ops(Ops(mode=Mode.PAUSED))
    admit(rt, GHIBLI)
    rt.config.set_ops(Ops())
    admit(rt, REALISTIC)  # the set charged for the two still to be drawn
    admit(rt, PIXEL)
    assert [paid(rt, job_id) for job_id in (GHIBLI, REALISTIC, PIXEL)] == [
        (State.REJECTED, 0, False),
        (State.QUEUED, 1, False),
        (State.QUEUED, 1, False),
    ]
    assert rt.payments.credits_of(7) == Credits(held=8, bought=10, spent=2)
    assert_balanced(rt)


def test_a_job_of_a_set_failed_before_its_admission_gives_its_share_back_once():
    rt = paying(FakeServices())
    start_set(rt)
    admit(rt, GHIBLI)  # the set charged: three credits
    dead_letter = pubsub_event_data(b"{}", job_id=REALISTIC, **DEAD)  # its validated message's
    report_failure.handle_dead_letter(dead_letter, rt)
    assert paid(rt, REALISTIC) == (State.FAILED, 1, True)
    report_failure.handle_dead_letter(dead_letter, rt)  # redelivered
    assert rt.payments.credits_of(7) == Credits(held=8, bought=10, spent=2)
    assert rt.payments.logged.count(("credits returned", REALISTIC)) == 1
    admit(rt, PIXEL)
    deliver(rt, GHIBLI)
    deliver(rt, PIXEL)
    text = set_message(rt)
    assert "Realistic could not be drawn." in text and text.endswith(BACK_1)
    assert_balanced(rt)


def test_a_job_of_an_enhanced_set_refused_at_its_creation_gives_its_share_back():
    """The pixel job's words are refused by the model while the ghibli job, created before it,
    is admitted by another instance: the set was charged for the pixel job too."""
    rt = paying(FakeServices())
    rt.users.update_user(7, enhance=True)

    def generate(question: str) -> Answer:
        if "pixel art" not in question:
            return Answer("a red tram in the rain, detailed")
        admit(rt, GHIBLI)  # meanwhile, elsewhere
        return Answer("", unsafe=True)

    rt.translator = Translator(
        generate, model="m", cached=lambda key: None, remember=lambda k, v: None, count=len
    )
    start_set(rt)
    assert paid(rt, PIXEL) == (State.REJECTED, 1, True)
    assert rt.payments.credits_of(7) == Credits(held=8, bought=10, spent=2)
    admit(rt, REALISTIC)
    deliver(rt, GHIBLI)
    deliver(rt, REALISTIC)
    assert set_message(rt).endswith(BACK_1)
    assert rt.payments.jobs_owed_credits() == []
    assert_balanced(rt)
