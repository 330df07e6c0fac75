"""report_progress with in-memory edges."""

from imagebot.core.jobs import State
from imagebot.flows import report_progress

from tests.support.events import pubsub_event_data
from tests.support.fakes import FakeServices
from tests.support.jobs import job_doc

STARTED = b'{"version": 1, "job_id": "u1", "state": "generating"}'


def test_the_status_says_drawing_once_the_gpu_starts():
    rt = FakeServices()
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.GENERATING, style="pixel", status_message_id=55)
    report_progress.handle_message(pubsub_event_data(STARTED), rt)
    assert rt.bot.methods() == ["editMessageText", "sendChatAction"] and "Pixel Art" in rt.bot.texts()[0]


def test_progress_for_a_job_already_delivered_changes_nothing():
    rt = FakeServices()
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.DELIVERED)
    report_progress.handle_message(pubsub_event_data(STARTED), rt)
    report_progress.handle_message(pubsub_event_data(b"{}"), rt)
    assert rt.bot.calls == []
