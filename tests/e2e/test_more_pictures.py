"""More than one picture through the whole local stack (issue 16): a 2x2 grid and its ⬆n and
🔀n, and all three styles as one album. Each ends with the calls checked on the fake Bot API."""

from __future__ import annotations

import json

import pytest
from google.cloud import storage

from tests.conftest import PROJECT
from tests.e2e.conftest import E2E_BUCKET
from tests.support.events import unique_ids
from tests.support.pubsub import TopicTap

pytestmark = pytest.mark.e2e
chats = unique_ids(24_000_000)  # each module its own users: the stack is shared
GPU_TOPIC = "generation-jobs"  # what the GPU service is pushed (local/stack.py)


def in_chat(chat_id: int):
    return lambda call: call.ok and str(call.params.get("chat_id")) == str(chat_id)


def keyboard(call) -> list[list[dict]]:
    return call.param_json("reply_markup")["inline_keyboard"]


def jobs_sent_to_gpu(tap: TopicTap, expect: int, timeout: float = 30.0) -> list[dict]:
    return [json.loads(message.data) for message in tap.drain(expect=expect, timeout=timeout)]


@pytest.fixture
def gpu_jobs(stack) -> TopicTap:
    """Every job sent to the GPU service from now on."""
    return TopicTap(PROJECT, GPU_TOPIC)


@pytest.fixture
def bucket(stack) -> storage.Bucket:
    return storage.Client(project=PROJECT).bucket(E2E_BUCKET)


def grid_for(telegram, chat_id: int) -> tuple:
    """A grid drawn for a user who chose four at a time in /style: its collage photo call."""
    telegram.send_text(chat_id=chat_id, user_id=chat_id, text="/style")
    menu = telegram.wait_for_call("sendMessage", in_chat(chat_id), timeout=30)
    four = next(b["callback_data"] for row in keyboard(menu) for b in row if b["callback_data"] == "count:4")
    since = telegram.last_seq()
    telegram.press_button(chat_id, chat_id, menu.result["message_id"], four)
    ticked = telegram.wait_for_call("editMessageText", in_chat(chat_id), since=since, timeout=30)
    assert "✓ Four at a time (2x2)" in [b["text"] for row in keyboard(ticked) for b in row]
    since = telegram.last_seq()
    telegram.send_text(chat_id=chat_id, user_id=chat_id, text="/ghibli a paper boat on a pond")
    return telegram.wait_for_call("sendPhoto", in_chat(chat_id), since=since, timeout=90)


def test_a_grid_request_gives_one_collage_with_eight_working_buttons(telegram, gpu_jobs, bucket):
    chat_id = next(chats)
    collage = grid_for(telegram, chat_id)
    [sent] = [job for job in jobs_sent_to_gpu(gpu_jobs, 1) if job["chat_id"] == chat_id]
    assert sent["candidates"] == 4  # one job, one batch of four
    job_id = sent["job_id"]
    assert collage.params["caption"].startswith("<b>Ghibli Art, 4 variants</b> · seeds ")
    rows = keyboard(collage)
    assert [b["callback_data"] for b in rows[0]] == [f"up:{n}:{job_id}" for n in range(1, 5)]
    assert [b["callback_data"] for b in rows[1]] == [f"vary:{n}:{job_id}" for n in range(1, 5)]
    assert len(telegram.calls("sendPhoto")) >= 1
    # Every ⬆ works: each sends its own candidate, as it lies in the bucket.
    extension = sent_extension(bucket, job_id)
    for n in range(1, 5):
        since = telegram.last_seq()
        telegram.press_button(chat_id, chat_id, collage.result["message_id"], f"up:{n}:{job_id}")
        photo = telegram.wait_for_call("sendPhoto", in_chat(chat_id), since=since, timeout=30)
        candidate = bucket.blob(f"candidates/{job_id}/{n}.{extension}").download_as_bytes()
        assert telegram.file_bytes(photo.result["photo"][-1]["file_id"]) == candidate


def sent_extension(bucket: storage.Bucket, job_id: str) -> str:
    [output] = list(bucket.list_blobs(prefix=f"outputs/{job_id}."))
    return output.name.rsplit(".", 1)[-1]


def test_upscale_sends_candidate_two_with_the_usual_buttons_and_no_gpu_call(telegram, gpu_jobs, bucket):
    chat_id = next(chats)
    collage = grid_for(telegram, chat_id)
    job_id = next(job["job_id"] for job in jobs_sent_to_gpu(gpu_jobs, 1) if job["chat_id"] == chat_id)
    since = telegram.last_seq()
    telegram.press_button(chat_id, chat_id, collage.result["message_id"], f"up:2:{job_id}")
    photo = telegram.wait_for_call("sendPhoto", in_chat(chat_id), since=since, timeout=30)
    seeds = [int(s) for s in collage.params["caption"].split("seeds ")[1].split("\n")[0].split("–")]
    assert photo.params["caption"].startswith(f"<b>Ghibli Art</b> · seed {seeds[0] + 1}\n")
    candidate = bucket.blob(f"candidates/{job_id}/2.{sent_extension(bucket, job_id)}").download_as_bytes()
    assert telegram.file_bytes(photo.result["photo"][-1]["file_id"]) == candidate
    data = [b["callback_data"] for row in keyboard(photo) for b in row]
    assert data[0].startswith("again:") and any(d.startswith("same:pixel:") for d in data)
    assert gpu_jobs.quiet(wait=2.0) == []  # the GPU service got no new job


def test_a_variation_of_candidate_three_gives_four_new_pictures_drawn_from_it(telegram, gpu_jobs, bucket):
    chat_id = next(chats)
    collage = grid_for(telegram, chat_id)
    job_id = next(job["job_id"] for job in jobs_sent_to_gpu(gpu_jobs, 1) if job["chat_id"] == chat_id)
    since = telegram.last_seq()
    telegram.press_button(chat_id, chat_id, collage.result["message_id"], f"vary:3:{job_id}")
    variations = telegram.wait_for_call("sendPhoto", in_chat(chat_id), since=since, timeout=90)
    assert variations.params["caption"].startswith("<b>Ghibli Art, 4 variations of variant 3</b> · seeds ")
    [sent] = [job for job in jobs_sent_to_gpu(gpu_jobs, 1) if job["chat_id"] == chat_id]
    assert sent["candidates"] == 4 and sent["strength"] == 0.35
    assert sent["input_image"] == f"candidates/{job_id}/3.{sent_extension(bucket, job_id)}"
    new_id = sent["job_id"]
    assert [b["callback_data"] for b in keyboard(variations)[0]] == [f"up:{n}:{new_id}" for n in range(1, 5)]
    assert len(list(bucket.list_blobs(prefix=f"candidates/{new_id}/"))) == 4  # four new pictures


def test_all_three_styles_give_one_album_of_three_and_one_buttons_message(telegram):
    chat_id = next(chats)
    telegram.send_text(chat_id=chat_id, user_id=chat_id, text="/all a red tram in the rain")
    album = telegram.wait_for_album(chat_id, timeout=120)
    captions = [message["caption"] for message in album]
    assert [c.split(" · ")[0] for c in captions] == ["Ghibli Art", "Realistic", "Pixel Art"]
    assert len({c.split("seed ")[1].split("\n")[0] for c in captions}) == 1  # one seed in every style
    buttons = telegram.wait_for_call(
        "sendMessage", lambda c: in_chat(chat_id)(c) and "All three styles" in c.params["text"], timeout=30
    )
    rows = keyboard(buttons)
    assert [row[0]["text"] for row in rows] == ["🔁 Ghibli Art", "🔁 Realistic", "🔁 Pixel Art"]
    assert len(telegram.albums(chat_id)) == 1
    # The buttons work: Again for Realistic draws one more Realistic picture.
    since = telegram.last_seq()
    telegram.press_button(chat_id, chat_id, buttons.result["message_id"], rows[1][0]["callback_data"])
    again = telegram.wait_for_call("sendPhoto", in_chat(chat_id), since=since, timeout=90)
    assert again.params["caption"].startswith("<b>Realistic</b> · seed ")


def test_all_three_styles_under_a_photo_keeps_its_seed(telegram):
    chat_id = next(chats)
    telegram.send_text(chat_id=chat_id, user_id=chat_id, text="/pixel a windmill by a canal")
    photo = telegram.wait_for_call("sendPhoto", in_chat(chat_id), timeout=90)
    seed = photo.params["caption"].split("seed ")[1].split("\n")[0]
    press = next(
        b["callback_data"] for row in keyboard(photo) for b in row if b["callback_data"].startswith("all:")
    )
    since = telegram.last_seq()
    telegram.press_button(chat_id, chat_id, photo.result["message_id"], press)
    album = telegram.wait_for_album(chat_id, since=since, timeout=120)
    assert [m["caption"].split("seed ")[1].split("\n")[0] for m in album] == [seed] * 3


def test_in_a_group_only_the_requester_may_press_the_new_buttons(telegram, gpu_jobs):
    group, requester, other = -next(chats), next(chats), next(chats)
    telegram.send_text(
        chat_id=group, user_id=requester, text="/realistic a yellow ferry at noon", chat_type="supergroup"
    )
    photo = telegram.wait_for_call("sendPhoto", in_chat(group), timeout=90)
    jobs_sent_to_gpu(gpu_jobs, 1)
    pressed = [
        b["callback_data"]
        for row in keyboard(photo)
        for b in row
        if b["callback_data"][:4] in ("grid", "all:")
    ]
    assert len(pressed) == 2
    since = telegram.last_seq()
    for data in pressed:
        # Toasted at the webhook (requester-only), in its reply; nothing is published.
        reply = telegram.press_button(group, other, photo.result["message_id"], data).reply
        assert reply is not None and reply.params["text"] == (
            "Only the one who asked for this picture can use its buttons."
        )
    assert gpu_jobs.quiet(wait=2.0) == []
    sent = [c.method for c in telegram.calls(since=since) if in_chat(group)(c)]
    assert not {"sendMessage", "sendPhoto", "sendMediaGroup"} & set(sent), sent
