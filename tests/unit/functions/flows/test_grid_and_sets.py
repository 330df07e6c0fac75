"""Issue 16 on in-memory edges: a grid's collage and its ⬆n / 🔀n, and all three styles as one
album (rate limiting and the GPU stand still: jobs are put where those steps leave them)."""

import json

from imagebot.core.contract import GenerationJob
from imagebot.core.jobs import State
from imagebot.core.quota import GRID_COST
from imagebot.core.updates import Button, Command, Prompt, encode_event
from imagebot.core.vocabulary import FLAGGED
from imagebot.flows import deliver_image, rate_limit, report_progress, validate_prompt
from imagebot.steps.failure import fail

from tests.support.events import pubsub_event_data
from tests.support.fakes import FakeServices
from tests.support.images import png
from tests.support.jobs import job_doc

COLOURS = ("red", "green", "blue", "gold")  # candidate n is plain COLOURS[n - 1]
GRID_META = {"contract": "2", "chat_id": "7", "style": "ghibli", "width": "64", "height": "64"}


def send(rt, event):
    validate_prompt.handle_message(pubsub_event_data(encode_event(event)), rt)


def finalized(name: str, **metadata: str) -> dict:
    job_id = name.rsplit("/", 1)[-1].split(".")[0]
    meta = {**GRID_META, "job_id": job_id, "seed": "10", **metadata}
    return {"bucket": "images", "name": name, "generation": "1", "contentType": "image/png", "metadata": meta}


def keyboard_data(call) -> list[list[str]]:
    return [[b["callback_data"] for b in row] for row in call.params["reply_markup"]["inline_keyboard"]]


def delivered_grid(rt: FakeServices, job_id: str = "u1", **fields) -> None:
    rt.jobs.docs[job_id] = job_doc(job_id, 7, State.GENERATED, seed=10, candidates=4, cost=2, **fields)
    rt.objects[("images", f"outputs/{job_id}.png")] = png()
    for n in range(1, 5):
        rt.objects[("images", f"candidates/{job_id}/{n}.png")] = png(colour=COLOURS[n - 1])
    deliver_image.handle_event(finalized(f"outputs/{job_id}.png", candidates="4"), "e-1", rt)


def test_a_grid_is_delivered_as_one_collage_with_its_eight_buttons():
    rt = FakeServices()
    delivered_grid(rt)
    [photo] = [call for call in rt.bot.calls if call.method == "sendPhoto"]
    assert photo.params["caption"].startswith("<b>Ghibli Art, 4 variants</b> · seeds 10–13\n")
    assert keyboard_data(photo) == [
        ["up:1:u1", "up:2:u1", "up:3:u1", "up:4:u1"],
        ["vary:1:u1", "vary:2:u1", "vary:3:u1", "vary:4:u1"],
        ["again:u1", "file:u1"],
    ]
    assert rt.jobs.get_job("u1").state == State.DELIVERED


def test_a_flagged_candidate_is_named_in_the_caption_and_gets_no_buttons():
    rt = FakeServices()
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.GENERATED, seed=10, candidates=4)
    rt.objects[("images", "outputs/u1.png")] = png()
    deliver_image.handle_event(finalized("outputs/u1.png", candidates="4", flagged="3"), "e-1", rt)
    photo = rt.bot.calls[0]
    assert "Variants 3 were flagged" in photo.params["caption"]
    assert "up:3:u1" not in sum(keyboard_data(photo), []) and rt.jobs.get_job("u1").flagged == [3]
    rt.bot.calls.clear()
    send(rt, Button(600, 7, 7, 4, "cb", "up", ("3", "u1")))
    assert rt.bot.texts() == ["Variant 3 was flagged as unsafe: there is nothing to send."]


def test_upscale_sends_that_candidate_alone_with_the_usual_buttons_and_no_gpu_or_charge():
    rt = FakeServices()
    delivered_grid(rt)
    rt.bot.calls.clear()
    press = Button(601, 7, 7, 4, "cb", "up", ("2", "u1"))
    send(rt, press)
    send(rt, press)  # redelivered: still one photo
    [photo] = rt.bot.calls
    assert photo.method == "sendPhoto" and photo.params["photo"][1] == png(colour=COLOURS[1])
    assert photo.params["caption"].startswith("<b>Ghibli Art</b> · seed 11\n")  # candidate 2's seed
    assert keyboard_data(photo)[0] == ["again:u601", "file:u601"]
    assert rt.publisher.published == []  # nothing validated, nothing sent to the GPU
    upscaled = rt.jobs.get_job("u601")
    assert upscaled.state == State.DELIVERED and upscaled.cost == 0
    assert upscaled.output_name == "candidates/u1/2.png" and upscaled.source_job_id == "u1"


def test_a_variation_is_a_new_grid_from_that_candidate_at_a_low_strength():
    rt = FakeServices()
    delivered_grid(rt)
    send(rt, Button(602, 7, 7, 4, "cb", "vary", ("3", "u1")))
    job = rt.jobs.get_job("u602")
    assert (job.state, job.candidates, job.cost) == (State.VALIDATED, 4, GRID_COST)
    assert job.input_image == "candidates/u1/3.png" and job.strength == 0.35
    rate_limit.admit("u602", rt, "m-1")
    [body] = rt.publisher.on("generation-jobs")
    sent = GenerationJob.from_json(body)
    assert (sent.candidates, sent.input_image, sent.strength) == (4, "candidates/u1/3.png", 0.35)
    status = next(call for call in rt.bot.calls if call.method == "sendMessage")
    assert status.params["text"].startswith("⏳ Ghibli Art, 4 variations of variant 3: you're")
    assert rt.jobs.get_job("u602").cache_key is None  # a grid never comes from the prompt cache


def test_another_user_in_the_group_cannot_press_a_grids_buttons():
    rt = FakeServices()
    delivered_grid(rt)
    rt.bot.calls.clear()
    send(rt, Button(603, 7, 8, 4, "cb", "up", ("1", "u1")))
    send(rt, Button(604, 7, 8, 4, "cb", "vary", ("1", "u1")))
    # The webhook toasts a stranger's press (requester-only); one that slips through to the
    # worker does nothing at all.
    assert rt.bot.texts() == [] and rt.publisher.published == []
    assert rt.jobs.get_job("u603") is None and rt.jobs.get_job("u604") is None


def test_four_at_a_time_in_style_makes_every_prompt_a_grid_and_the_menu_says_so():
    rt = FakeServices()
    send(rt, Button(605, 7, 7, 4, "cb", "count", ("4",)))
    assert "Pictures: <b>Four at a time (2x2)</b>" in rt.bot.calls[-1].params["text"]
    rt.users.update_user(7, default_style="pixel")
    send(rt, Prompt(update_id=606, chat_id=7, user_id=7, message_id=3, text="a lighthouse at dusk"))
    job = rt.jobs.get_job("u606")
    assert (job.candidates, job.cost) == (4, GRID_COST)


def test_four_variants_under_a_photo_draws_a_grid_of_the_same_words_and_style():
    rt = FakeServices()
    rt.jobs.docs["u9"] = job_doc("u9", 7, State.DELIVERED, style="realistic")
    send(rt, Button(607, 7, 7, 4, "cb", "grid", ("u9",)))
    job = rt.jobs.get_job("u607")
    assert (job.style, job.prompt, job.candidates, job.state) == (
        "realistic",
        "a paper boat on a pond",
        4,
        State.VALIDATED,
    )


# -- all three styles ----------------------------------------------------------------------------


def started_set(rt: FakeServices, update_id: int = 700) -> list[str]:
    send(rt, Command(update_id, 7, 7, 3, "all", "a red tram in the rain"))
    return [f"u{update_id}-{style}" for style in ("ghibli", "realistic", "pixel")]


def drawn(rt: FakeServices, job_id: str) -> dict:
    """The GPU's part: the job generated and its output written; the event to deliver."""
    rt.jobs.move_job(job_id, State.QUEUED, rt.clock)
    rt.jobs.move_job(job_id, State.GENERATED, rt.clock)
    rt.objects[("images", f"outputs/{job_id}.png")] = png()
    return finalized(f"outputs/{job_id}.png", candidates="1")


def test_all_makes_three_jobs_of_one_seed_and_one_set():
    rt = FakeServices()
    job_ids = started_set(rt)
    jobs = [rt.jobs.get_job(job_id) for job_id in job_ids]
    assert [job.style for job in jobs] == ["ghibli", "realistic", "pixel"]
    assert len({job.seed for job in jobs}) == 1 and {job.set_id for job in jobs} == {"u700"}
    assert rt.jobs.sets["u700"]["jobs"] == job_ids
    assert rt.publisher.on("validated") == [job_id.encode() for job_id in job_ids]


def test_the_set_goes_out_as_one_album_and_one_buttons_message_once_all_three_are_drawn():
    rt = FakeServices()
    job_ids = started_set(rt)
    events = [drawn(rt, job_id) for job_id in job_ids]
    deliver_image.handle_event(events[0], "e-1", rt)
    deliver_image.handle_event(events[1], "e-2", rt)
    assert rt.bot.calls == []  # waiting for the third
    deliver_image.handle_event(events[2], "e-3", rt)
    for n, event in enumerate(events):  # every event again: nothing more
        deliver_image.handle_event(event, f"e-again-{n}", rt)
    assert rt.bot.methods() == ["sendMediaGroup", "sendMessage"]
    album, message = rt.bot.calls
    captions = [photo[3] for photo in album.params["photos"]]
    assert [c.split(" · ")[0] for c in captions] == [
        "<b>Ghibli Art</b>",
        "<b>Realistic</b>",
        "<b>Pixel Art</b>",
    ]
    assert message.params["text"].startswith("🎨 <b>All three styles</b> · seed ")
    assert [row[0] for row in keyboard_data(message)] == [f"again:{job_id}" for job_id in job_ids]
    assert all(rt.jobs.get_job(job_id).state == State.DELIVERED for job_id in job_ids)


def test_a_flagged_style_is_left_out_with_a_note_and_a_new_try():
    rt = FakeServices()
    ghibli, realistic, pixel = started_set(rt)
    deliver_image.handle_event(drawn(rt, ghibli), "e-1", rt)
    deliver_image.handle_event(drawn(rt, realistic), "e-2", rt)
    rt.jobs.move_job(pixel, State.REJECTED, rt.clock, reason=FLAGGED)  # the GPU's safety checker
    progress = json.dumps({"job_id": pixel, "state": "rejected", "reason": FLAGGED}).encode()
    report_progress.handle_message(pubsub_event_data(progress), rt)
    assert rt.bot.methods() == ["sendMediaGroup", "sendMessage"]
    assert len(rt.bot.calls[0].params["photos"]) == 2
    note = rt.bot.calls[1]
    assert "Pixel Art was flagged as unsafe and is left out." in note.params["text"]
    assert keyboard_data(note)[-1] == [f"again:{pixel}"]


def test_one_style_left_goes_out_as_a_photo_and_a_failed_one_is_told():
    rt = FakeServices()
    ghibli, realistic, pixel = started_set(rt)
    fail(ghibli, "dead-lettered", rt)
    deliver_image.handle_event(drawn(rt, pixel), "e-1", rt)
    rt.jobs.move_job(realistic, State.REJECTED, rt.clock, reason=FLAGGED)
    report_progress.handle_message(
        pubsub_event_data(json.dumps({"job_id": realistic, "state": "rejected", "reason": FLAGGED}).encode()),
        rt,
    )
    assert rt.bot.methods() == ["sendPhoto", "sendMessage"]  # an album needs two
    text = rt.bot.calls[1].params["text"]
    assert "Ghibli Art could not be drawn." in text and "Realistic was flagged" in text
    assert keyboard_data(rt.bot.calls[1]) == [
        [f"again:{pixel}", f"grid:{pixel}", f"file:{pixel}"],
        [f"retry:{ghibli}"],
        [f"again:{realistic}"],
    ]


def test_all_without_a_prompt_says_how_and_a_bad_prompt_is_refused():
    rt = FakeServices()
    send(rt, Command(710, 7, 7, 3, "all", ""))
    send(rt, Command(711, 7, 7, 3, "all", "a"))
    assert rt.bot.texts()[0] == "Add a prompt after the command, for example: /all a cat in a hat"
    assert "too short" in rt.bot.texts()[1] and rt.publisher.published == []
