"""A Telegram update goes in, a photo comes out: through every real process of the local stack."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from google.cloud import firestore, storage
from PIL import Image

from local.event_bridge import finalized_event, object_resource
from local.scenarios import draw
from local.stack import TINY_FLAG_WORD
from tests.conftest import PROJECT
from tests.e2e.conftest import E2E_BUCKET
from tests.support.events import unique_ids
from tests.support.waits import answered, nothing_more_for, published, wait_until

pytestmark = pytest.mark.e2e
chats = unique_ids(20_000_000)
FINAL = ("delivered", "rejected", "failed")


def job(job_id: str) -> dict | None:
    return firestore.Client(project=PROJECT).collection("jobs").document(job_id).get().to_dict()


def final(job_id: str) -> dict | None:
    current = job(job_id)
    return current if current is not None and current["state"] in FINAL else None


def settled_job(job_id: str, timeout: float = 10.0) -> dict:
    """The job once it reached a final state (delivery marks it just after sendPhoto returns)."""
    return wait_until(lambda: final(job_id), timeout, f"job {job_id} final")


def calls_in_chat(telegram, method: str, chat_id: int) -> list:
    return [call for call in telegram.calls(method) if str(call.params.get("chat_id")) == str(chat_id)]


@pytest.mark.parametrize(
    ("style", "label"), [("ghibli", "Ghibli Art"), ("realistic", "Realistic"), ("pixel", "Pixel Art")]
)
def test_each_style_comes_back_as_a_valid_photo(telegram, style, label):
    chat_id = next(chats)
    drawing = draw(telegram, chat_id, f"a {style} harbour at dawn", style)

    image = Image.open(io.BytesIO(drawing.png))
    image.load()
    # Pixel art is a lossless PNG; the other styles are JPEG (gpu_service/styles.py encodings).
    expected_format, extension = ("PNG", "png") if style == "pixel" else ("JPEG", "jpg")
    assert image.format == expected_format and min(image.size) >= 64
    assert drawing.photo.params["caption"].startswith(f"<b>{label}</b>")
    done = settled_job(drawing.job_id)
    assert done["state"] == "delivered" and done["style"] == style
    assert list(done["times"]) and set(done["times"]) >= {
        "received",
        "validated",
        "queued",
        "generated",
        "delivered",
    }
    blob = (
        storage.Client(project=PROJECT).bucket(E2E_BUCKET).get_blob(f"outputs/{drawing.job_id}.{extension}")
    )
    assert blob is not None and blob.content_type == Image.MIME[expected_format]
    assert blob.metadata["style"] == style and blob.metadata["chat_id"] == str(chat_id)
    if style == "pixel":
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 16)) <= 16
    # The status message made way for the photo.
    status_id = done["status_message_id"]
    assert any(
        call.params["message_id"] == status_id for call in calls_in_chat(telegram, "deleteMessage", chat_id)
    )


def test_a_russian_prompt_is_drawn_from_english_and_captioned_in_the_users_words(telegram):
    # The stack runs the Vertex AI stand-in (local/fake_vertex.py): its word table makes the
    # English, so this checks the wiring, not the quality of a translation.
    chat_id = next(chats)
    prompt = "рыжая лиса в снегу"

    drawing = draw(telegram, chat_id, prompt, "ghibli")

    done = settled_job(drawing.job_id)
    assert (done["prompt"], done["model_prompt"]) == (prompt, "red fox in the snow")
    assert prompt in drawing.photo.params["caption"]
    assert "red fox" not in drawing.photo.params["caption"]
    # The English is there on request: a button under the photo puts it in the caption.
    buttons = [
        b["callback_data"] for row in drawing.photo.param_json("reply_markup")["inline_keyboard"] for b in row
    ]
    assert f"drawn:{drawing.job_id}" in buttons


def test_an_overflowed_job_is_drawn_on_the_vertex_endpoint_and_delivered_once(stack, telegram):
    # The stack runs GPU_ROUTE=auto. A job that has waited half an hour for the Cloud Run service
    # makes the next one overflow: rate_limit → vertex-jobs → dispatch_vertex → the Vertex AI
    # stand-in's predict → the GPU service's AIP predict route → the bucket → deliver_image.
    db = firestore.Client(project=PROJECT)
    db.collection("config").document("gpu_endpoint").delete()  # no endpoint failure on record
    jobs = db.collection("jobs")
    waiting = f"e2e-waiting-{next(chats)}"
    # Past OVERFLOW_QUEUE_AGE_SECONDS, short of the sweep's JOB_DEADLINE_SECONDS (conftest.py).
    half_an_hour_ago = datetime.now(UTC) - timedelta(minutes=30)
    jobs.document(waiting).set(
        {"job_id": waiting, "state": "queued", "gpu_route": "cloudrun", "times": {"queued": half_an_hour_ago}}
    )
    try:
        chat_id = next(chats)
        drawing = draw(telegram, chat_id, f"a lighthouse in a storm {chat_id}", "realistic")
    finally:
        jobs.document(waiting).delete()  # it would count in every later test's queue

    done = settled_job(drawing.job_id)
    assert done["state"] == "delivered" and done["gpu_route"] == "vertex" and "handed_back" not in done
    predicted = httpx.get(f"{stack.urls['vertex']}/_fake/predictions").json()["job_ids"]
    assert predicted.count(drawing.job_id) == 1
    nothing_more_for(stack, lambda: final(drawing.job_id))
    assert len(calls_in_chat(telegram, "sendPhoto", chat_id)) == 1
    assert drawing.photo.params["caption"].startswith("<b>Realistic</b>")


def test_the_same_update_delivered_twice_yields_one_photo(stack, telegram):
    chat_id = next(chats)
    first = telegram.send_text(chat_id=chat_id, user_id=chat_id, text="a windmill in a tulip field")
    again = telegram.send_text(
        chat_id=chat_id, user_id=chat_id, text="a windmill in a tulip field", update_id=first.update_id
    )
    assert first.status == again.status == 200
    question = telegram.wait_for_call(
        "sendMessage", lambda c: str(c.params["chat_id"]) == str(chat_id) and c.param_json("reply_markup")
    )
    data = question.param_json("reply_markup")["inline_keyboard"][0][1]["callback_data"]
    press = telegram.press_button(chat_id, chat_id, question.result["message_id"], data)
    telegram.press_button(
        chat_id, chat_id, question.result["message_id"], data, force=True, update_id=press.update_id
    )
    telegram.wait_for_call("sendPhoto", lambda c: str(c.params["chat_id"]) == str(chat_id))
    # Both copies of the prompt and of the press handled; after that nothing more can come.
    answered(stack, "validate_prompt", 2, update_id=str(first.update_id))
    answered(stack, "validate_prompt", 2, update_id=str(press.update_id))
    nothing_more_for(stack, lambda: final(f"u{first.update_id}"))

    assert len(calls_in_chat(telegram, "sendPhoto", chat_id)) == 1
    questions = [c for c in calls_in_chat(telegram, "sendMessage", chat_id) if c.param_json("reply_markup")]
    assert len(questions) == 1
    user = firestore.Client(project=PROJECT).collection("users").document(str(chat_id)).get().to_dict()
    assert user["quota"]["used_today"] == 1


def test_a_second_finalize_event_for_the_same_object_sends_nothing(stack, telegram):
    chat_id = next(chats)
    drawing = draw(telegram, chat_id, "a hot air balloon over hills", "ghibli")
    blob = storage.Client(project=PROJECT).bucket(E2E_BUCKET).get_blob(f"outputs/{drawing.job_id}.jpg")
    headers, body = finalized_event(object_resource(blob))
    headers["ce-id"] = "a-different-event-for-the-same-object"
    # deliver_image answers once it has handled the event: a photo it sent would be recorded.
    response = httpx.post(stack.urls["deliver_image"], headers=headers, content=body, timeout=30)
    assert response.is_success
    nothing_more_for(stack, lambda: final(drawing.job_id))
    assert len(calls_in_chat(telegram, "sendPhoto", chat_id)) == 1


@pytest.mark.parametrize("secret", ["wrong-secret", None])
def test_a_wrong_secret_is_refused_and_nothing_is_published(telegram, prompts_tap, secret):
    chat_id = next(chats)
    kwargs = {"secret": secret} if secret else {"omit_secret": True}
    refused = telegram.send_text(chat_id=chat_id, user_id=chat_id, text="a forged prompt", **kwargs)
    assert refused.status == 401
    assert published(prompts_tap, refused.update_id) == []  # so nothing downstream can follow
    assert job(f"u{refused.update_id}") is None
    assert calls_in_chat(telegram, "sendMessage", chat_id) == []


@pytest.mark.parametrize(
    ("text", "answer"), [("\u200b", "Your prompt is empty"), ("x" * 501, "at most 500 characters")]
)
def test_an_empty_or_over_long_prompt_gets_a_clear_message_and_no_job(stack, telegram, text, answer):
    chat_id = next(chats)
    sent = telegram.send_text(chat_id=chat_id, user_id=chat_id, text=text)
    reply = telegram.wait_for_call("sendMessage", lambda c: str(c.params["chat_id"]) == str(chat_id))
    assert answer in reply.params["text"]
    answered(stack, "validate_prompt", 1, update_id=str(sent.update_id))
    nothing_more_for(stack, lambda: final(f"u{sent.update_id}"))
    assert settled_job(f"u{sent.update_id}")["state"] == "rejected"
    assert len(calls_in_chat(telegram, "sendMessage", chat_id)) == 1
    assert calls_in_chat(telegram, "sendPhoto", chat_id) == []


def test_a_sticker_or_an_edit_neither_crashes_nor_makes_a_job(telegram, prompts_tap):
    chat_id = next(chats)
    sticker = telegram.send_sticker(chat_id, chat_id)
    assert sticker.status == 200 and "or from a photo" in sticker.reply.params["text"]
    telegram.send_text(chat_id=chat_id, user_id=chat_id, text="/help")
    edited = telegram.edit_message(chat_id, chat_id, "an edited prompt", ignore_allowed_updates=True)
    assert edited.status == 200
    assert published(prompts_tap, sticker.update_id, edited.update_id) == []
    assert job(f"u{sticker.update_id}") is None and job(f"u{edited.update_id}") is None
    assert calls_in_chat(telegram, "sendPhoto", chat_id) == []
    assert telegram.send_text(chat_id=chat_id, user_id=chat_id, text="/start").status == 200


def gpu_log(stack, job_id: str) -> list[dict]:
    """The GPU service's JSON log lines about the job (its log context carries the job id)."""
    lines = stack.supervisor.log_path("gpu_service").read_text(errors="replace").splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    return [record for record in records if record.get("job_id") == job_id]


def flagged_notice(telegram, chat_id: int, job_id: str, since: int):
    """The status message that tells the user the picture was flagged, with its Again button."""

    def notice(call) -> bool:
        return (
            str(call.params.get("chat_id")) == str(chat_id)
            and "flagged as unsafe" in call.params.get("text", "")
            and call.params.get("reply_markup") is not None
            and f"again:{job_id}"
            in [b["callback_data"] for row in call.param_json("reply_markup")["inline_keyboard"] for b in row]
        )

    return wait_until(
        lambda: next(
            (c for m in ("editMessageText", "sendMessage") for c in telegram.calls(m, since) if notice(c)),
            None,
        ),
        120,
        f"the flagged notice for {job_id}",
    )


def test_a_flagged_picture_is_refused_in_one_attempt_and_the_user_told_with_again(stack, telegram):
    # The stack's tiny pipeline has a safety checker that flags every picture of a prompt with
    # TINY_FLAG_WORD (gpu_service/safety.py MarkedPromptChecker; local/stack.py sets it).
    chat_id = next(chats)
    since = telegram.last_seq()
    sent = telegram.send_text(chat_id=chat_id, user_id=chat_id, text=f"a {TINY_FLAG_WORD} harbour {chat_id}")
    assert sent.status == 200
    question = telegram.wait_for_call(
        "sendMessage",
        lambda c: str(c.params["chat_id"]) == str(chat_id) and c.param_json("reply_markup"),
        since=since,
    )
    data = next(
        b["callback_data"]
        for row in question.param_json("reply_markup")["inline_keyboard"]
        for b in row
        if b["callback_data"].startswith("style:ghibli:")
    )
    assert telegram.press_button(chat_id, chat_id, question.result["message_id"], data).status == 200
    job_id = data.split(":")[2]

    notice = flagged_notice(telegram, chat_id, job_id, since)
    done = settled_job(job_id)
    assert (done["state"], done["reason"]) == ("rejected", "flagged")
    answered(stack, "report_progress", 1, job_id=job_id)
    nothing_more_for(stack, lambda: final(job_id))
    # One push attempt: the GPU drew, flagged and rejected the job once, and answered it 2xx,
    # so Pub/Sub delivered it no second time (a redelivery would log again under the job id).
    records = gpu_log(stack, job_id)
    assert [r["message"] for r in records if "safety checker" in r["message"]] == [
        "the safety checker flagged the picture; refused"
    ]
    rejected = [r for r in records if r["message"].startswith("job rejected")]
    assert len(rejected) == 1 and rejected[0].get("delivery_attempt") in (None, 1), rejected
    assert len({r["message_id"] for r in records if "message_id" in r}) == 1
    assert calls_in_chat(telegram, "sendPhoto", chat_id) == []
    assert not list(
        storage.Client(project=PROJECT).bucket(E2E_BUCKET).list_blobs(prefix=f"outputs/{job_id}.")
    )

    # Again is a new job with a new seed (the word is still in the prompt, so it is flagged too).
    since = telegram.last_seq()
    notice_id = notice.params.get("message_id") or notice.result["message_id"]
    again = telegram.press_button(chat_id, chat_id, int(notice_id), f"again:{job_id}")
    assert again.status == 200
    retried = settled_job(f"u{again.update_id}", timeout=120)
    assert retried["job_id"] != job_id and retried["seed"] != done["seed"]
    assert (retried["state"], retried["reason"]) == ("rejected", "flagged")
    flagged_notice(telegram, chat_id, retried["job_id"], since)
