"""deliver_image with in-memory edges: one photo per job, whatever the number of events."""

from imagebot.core.jobs import State
from imagebot.flows import deliver_image

from tests.support.fakes import FakeServices
from tests.support.images import png
from tests.support.jobs import job_doc


def finalized(name: str) -> dict:
    return {"bucket": "images", "name": name, "generation": "1", "contentType": "image/png", "metadata": {}}


def test_a_finished_picture_is_sent_once_and_the_job_closed():
    rt = FakeServices()
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.GENERATED, status_message_id=55)
    rt.objects[("images", "outputs/u1.png")] = png()
    deliver_image.handle_event(finalized("outputs/u1.png"), "event-1", rt)
    deliver_image.handle_event(finalized("outputs/u1.png"), "event-1", rt)  # Eventarc redelivers
    job = rt.jobs.get_job("u1")
    assert job["state"] == State.DELIVERED and job["photo_file_id"]
    assert rt.bot.methods() == ["sendPhoto", "deleteMessage"]
    assert rt.users.get_user(7)["history"][0]["job_id"] == "u1"


def test_objects_that_are_not_outputs_are_left_alone():
    rt = FakeServices()
    deliver_image.handle_event(finalized("uploads/u1.png"), "event-2", rt)
    deliver_image.handle_event({"name": "no bucket"}, "event-3", rt)
    assert rt.bot.calls == []
