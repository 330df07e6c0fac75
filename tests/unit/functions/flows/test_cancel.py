"""✖ Cancel with in-memory edges: shown while a job waits, refunded once before drawing, final
after (no photo, no apology, no second refund), and only the requester's to press."""

from datetime import timedelta

from imagebot.core.jobs import DeliveryClaim, State
from imagebot.core.updates import Button, encode_event
from imagebot.flows import deliver_image, rate_limit, report_failure, sweep_stuck_jobs, validate_prompt
from imagebot.steps.status import show_status

from tests.support.events import pubsub_event_data
from tests.support.fakes import FakeServices
from tests.support.images import png
from tests.support.jobs import job_doc


def press(rt, update_id, job_id, user_id=7):
    button = Button(update_id, 7, user_id, 55, f"cb{update_id}", "cancel", (job_id,))
    validate_prompt.handle_message(pubsub_event_data(encode_event(button)), rt)


def keyboard_data(call):
    markup = call.params.get("reply_markup") or {"inline_keyboard": []}
    return [button["callback_data"] for row in markup["inline_keyboard"] for button in row]


def test_a_queued_job_shows_cancel_in_its_status():
    rt = FakeServices()
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.VALIDATED)
    rate_limit.handle_message(pubsub_event_data(b"u1", job_id="u1"), rt)
    [status] = rt.bot.calls
    assert status.method == "sendMessage" and keyboard_data(status) == ["cancel:u1"]


def test_a_style_of_all_three_has_no_cancel_of_its_own():
    """A set is charged and sent as one: cancelling one style would leave its album waiting."""
    rt = FakeServices()
    rt.jobs.docs["s1-pixel"] = job_doc("s1-pixel", 7, State.QUEUED, set_id="s1")
    show_status(rt.jobs.get_job("s1-pixel"), "waiting", rt)
    [status] = rt.bot.calls
    assert keyboard_data(status) == []


def test_cancel_before_drawing_refunds_once_and_says_so():
    rt = FakeServices()
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.QUEUED, status_message_id=55)
    press(rt, 10, "u1")
    press(rt, 10, "u1")  # the same press, redelivered
    press(rt, 11, "u1")  # a second press
    job = rt.jobs.get_job("u1")
    assert job.state == State.CANCELLED and rt.jobs.refunds == ["u1"]
    edits = [call for call in rt.bot.calls if call.method == "editMessageText"]
    assert {call.params["text"] for call in edits} == {"✖ Cancelled. It doesn't count towards today's limit."}
    assert all(keyboard_data(call) == [] for call in edits)  # no Cancel left under it


def test_cancel_while_drawing_ends_the_job_and_its_picture_is_never_sent():
    rt = FakeServices()
    rt.jobs.docs["u2"] = job_doc("u2", 7, State.GENERATING, status_message_id=55)
    press(rt, 12, "u2")
    assert rt.jobs.get_job("u2").state == State.CANCELLED and rt.jobs.refunds == []
    assert rt.bot.texts() == ["✖ Cancelled. I won't send this picture."]
    rt.objects[("images", "outputs/u2.png")] = png()  # drawn all the same (an older GPU)
    event = {"bucket": "images", "name": "outputs/u2.png", "generation": "1", "contentType": "image/png"}
    deliver_image.handle_event({**event, "metadata": {}}, "event-1", rt)
    assert "sendPhoto" not in rt.bot.methods() and rt.jobs.get_job("u2").state == State.CANCELLED


def test_a_drawn_job_or_one_being_sent_is_too_late_to_cancel():
    rt = FakeServices()
    rt.jobs.docs["u3"] = job_doc("u3", 7, State.GENERATED, status_message_id=55)
    claim = DeliveryClaim("event/1", rt.now() - timedelta(seconds=3))  # sending right now
    rt.jobs.docs["u4"] = job_doc("u4", 7, State.GENERATING, delivery_claim=claim)
    press(rt, 13, "u3")
    press(rt, 14, "u4")
    assert rt.jobs.get_job("u3").state == State.GENERATED and rt.jobs.get_job("u4").state == State.GENERATING
    assert rt.bot.calls == [] and rt.jobs.refunds == []


def test_only_the_requester_may_cancel():
    rt = FakeServices()
    rt.jobs.docs["u5"] = job_doc("u5", 7, State.QUEUED, status_message_id=55)
    press(rt, 15, "u5", user_id=8)
    assert rt.jobs.get_job("u5").state == State.QUEUED and rt.bot.calls == []


def test_a_cancelled_job_is_never_swept_nor_apologised_for():
    rt = FakeServices()
    long_ago = rt.now() - timedelta(seconds=rt.settings.job_deadline_seconds + 1)
    rt.jobs.docs["u6"] = job_doc("u6", 7, State.CANCELLED, now=long_ago)
    assert sweep_stuck_jobs.sweep(rt) == 0
    dead = {"CloudPubSubDeadLetterSourceSubscription": "gpu", "CloudPubSubDeadLetterSourceDeliveryCount": "5"}
    report_failure.handle_dead_letter(pubsub_event_data(b"{}", job_id="u6", **dead), rt)
    assert rt.jobs.get_job("u6").state == State.CANCELLED and rt.bot.calls == []


def test_a_final_status_has_no_cancel():
    rt = FakeServices()
    for state in (State.FAILED, State.REJECTED, State.CANCELLED, State.GENERATED):
        rt.jobs.docs[state.value] = job_doc(state.value, 7, state)
        show_status(rt.jobs.get_job(state.value), "text", rt)
    assert all(keyboard_data(call) == [] for call in rt.bot.calls)
