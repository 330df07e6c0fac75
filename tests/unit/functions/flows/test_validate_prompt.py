"""validate_prompt with in-memory edges: prompts, commands and buttons reach their handlers."""

from imagebot.core.jobs import State
from imagebot.core.updates import Button, Command, Prompt, encode_event
from imagebot.flows import validate_prompt

from tests.support.events import pubsub_event_data
from tests.support.fakes import FakeServices
from tests.support.jobs import job_doc


def deliver(rt, event):
    validate_prompt.handle_message(pubsub_event_data(encode_event(event)), rt)


def test_a_prompt_with_a_default_style_becomes_a_validated_job_once():
    rt = FakeServices()
    rt.users.update_user(7, default_style="pixel")
    prompt = Prompt(update_id=501, chat_id=7, user_id=7, message_id=3, text="a lighthouse at dusk")
    deliver(rt, prompt)
    deliver(rt, prompt)  # Pub/Sub delivers at least once
    job = rt.jobs.get_job("u501")
    assert job.state == State.VALIDATED and job.style == "pixel" and job.prompt == "a lighthouse at dusk"
    assert rt.publisher.on("validated") == [b"u501"]


def test_a_prompt_without_a_style_is_asked_about_with_the_three_buttons():
    rt = FakeServices()
    deliver(rt, Prompt(update_id=502, chat_id=7, user_id=7, message_id=3, text="a fox in the snow"))
    question = rt.bot.calls[-1]
    assert rt.jobs.get_job("u502").state == State.AWAITING_STYLE
    assert [b["callback_data"] for b in question.params["reply_markup"]["inline_keyboard"][0]] == [
        "style:ghibli:u502",
        "style:realistic:u502",
        "style:pixel:u502",
    ]
    assert rt.publisher.published == []


def test_a_photo_button_works_only_for_whoever_asked_for_the_photo():
    rt = FakeServices()
    rt.jobs.docs["u9"] = job_doc("u9", 7, State.DELIVERED)  # user 7's picture
    deliver(rt, Button(503, 7, 8, 4, "cb", "again", ("u9",)))  # user 8 presses "Again"
    # Nothing happens (the webhook's toast told them whose picture it is): no job, no message.
    assert rt.bot.calls == [] and rt.publisher.published == [] and "u503" not in rt.jobs.docs
    deliver(rt, Button(504, 7, 7, 4, "cb", "again", ("u9",)))
    assert rt.jobs.get_job("u504").source_job_id == "u9" and rt.publisher.on("validated") == [b"u504"]


def test_only_whoever_asked_may_choose_the_style_in_a_group():
    rt = FakeServices()
    group = -100
    deliver(rt, Prompt(update_id=510, chat_id=group, user_id=7, message_id=3, text="a fox in the snow"))
    deliver(rt, Button(511, group, 8, 4, "cb", "style", ("pixel", "u510")))  # user 8 presses it
    assert rt.jobs.get_job("u510").state == State.AWAITING_STYLE and rt.publisher.published == []
    assert rt.bot.texts()[-1].startswith("Which style")  # nothing said to user 8
    deliver(rt, Button(512, group, 7, 4, "cb", "style", ("pixel", "u510")))
    job = rt.jobs.get_job("u510")
    assert (job.state, job.style, job.style_update_id) == (State.VALIDATED, "pixel", 512)
    assert rt.publisher.on("validated") == [b"u510"]
    deliver(rt, Button(512, group, 7, 4, "cb", "style", ("pixel", "u510")))  # a redelivery
    deliver(rt, Button(513, group, 7, 4, "cb", "style", ("ghibli", "u510")))  # a second press
    assert rt.publisher.on("validated") == [b"u510"] and rt.jobs.get_job("u510").style == "pixel"


def test_operator_commands_answer_only_operators():
    rt = FakeServices()
    deliver(rt, Command(505, 7, 7, 3, "pause"))
    assert rt.config.get_ops().mode.value == "normal" and rt.bot.calls == []
    deliver(rt, Command(506, 99, 99, 3, "pause"))
    assert rt.config.get_ops().mode.value == "paused" and rt.bot.methods() == ["sendMessage"]


def test_an_undecodable_message_is_dropped():
    rt = FakeServices()
    validate_prompt.handle_message(pubsub_event_data(b"not json"), rt)
    validate_prompt.handle_message({"message": {"data": "%%%"}}, rt)
    assert rt.jobs.docs == {} and rt.bot.calls == []


def test_a_prompt_in_a_forum_topic_is_answered_there_and_its_job_remembers_the_topic():
    rt = FakeServices()
    deliver(
        rt, Prompt(update_id=560, chat_id=-100, user_id=7, message_id=3, text="a fox", message_thread_id=42)
    )
    deliver(rt, Prompt(update_id=561, chat_id=-100, user_id=7, message_id=4, text="x", message_thread_id=42))
    question, refusal = rt.bot.calls
    assert rt.jobs.get_job("u560").message_thread_id == 42
    assert (question.to.message_thread_id, question.to.reply_to) == (42, 3)
    assert (refusal.to.message_thread_id, refusal.to.reply_to) == (42, 4)
    assert "too short" in refusal.params["text"]
