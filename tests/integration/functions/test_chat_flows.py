"""Commands and buttons handled by the worker (validate_prompt), against the emulators and the
fake Bot API, in both languages."""

from __future__ import annotations

import pytest
from google.cloud import storage
from imagebot.core.answer_to import AnswerTo
from imagebot.core.jobs import State, seed_for
from imagebot.core.ops import Mode, Ops
from imagebot.core.updates import Button, Command, Prompt, encode_event
from imagebot.flows import validate_prompt

from tests.conftest import BUCKET, PROJECT
from tests.integration.functions.conftest import OPERATOR_ID, TOPICS
from tests.support.events import pubsub_event_data, unique_ids
from tests.support.images import png
from tests.support.jobs import put_job
from tests.support.pubsub import TopicTap

ids = unique_ids(11_000_000)


@pytest.fixture
def validated(emulators) -> TopicTap:
    return TopicTap(PROJECT, TOPICS["VALIDATED_TOPIC"])


def send(event, runtime) -> None:
    validate_prompt.handle_message(pubsub_event_data(encode_event(event)), runtime)


def command(name: str, user_id: int, language: str = "en", args: str = "") -> Command:
    return Command(next(ids), user_id, user_id, 1, name, args, language)


def press(action: str, *args: str, user_id: int, message_id: int = 1, language: str = "en") -> Button:
    return Button(next(ids), user_id, user_id, message_id, "cbq", action, args, language)


def last_text(telegram, method: str = "sendMessage") -> str:
    return telegram.calls(method)[-1].params["text"]


def buttons(call) -> list[str]:
    return [b["text"] for row in call.param_json("reply_markup")["inline_keyboard"] for b in row]


@pytest.mark.parametrize(
    ("language", "heading"),
    [
        ("en", "Default style: <b>none, I ask each time</b>"),
        ("ru", "Стиль по умолчанию: <b>не выбран, спрашиваю каждый раз</b>"),
    ],
)
def test_style_menu_sets_a_default_style_that_later_prompts_use(
    runtime, telegram, validated, language, heading
):
    user = next(ids)
    send(command("style", user, language), runtime)
    menu = telegram.calls("sendMessage")[-1]
    assert menu.params["text"].startswith(heading)

    send(
        press("default", "pixel", user_id=user, message_id=menu.result["message_id"], language=language),
        runtime,
    )
    send(
        press("aspect", "landscape", user_id=user, message_id=menu.result["message_id"], language=language),
        runtime,
    )
    edited = telegram.calls("editMessageText")[-1]
    assert "✓ Pixel Art" in buttons(edited) and any(
        b.startswith("✓ ") and b != "✓ Pixel Art" for b in buttons(edited)
    )

    prompt = Prompt(next(ids), user, user, 2, "a harbour", language)
    send(prompt, runtime)
    job = runtime.jobs.get_job(f"u{prompt.update_id}")
    assert (job.state, job.style, job.aspect, job.language) == (
        State.VALIDATED,
        "pixel",
        "landscape",
        language,
    )
    assert [m.data.decode() for m in validated.drain(expect=1)] == [job.job_id]


def test_lang_switches_every_later_answer(runtime, telegram):
    user = next(ids)
    send(command("lang", user, "en"), runtime)
    menu = telegram.calls("sendMessage")[-1]
    assert menu.params["text"] == "Choose your language:" and buttons(menu) == ["✓ English", "Русский"]
    send(press("lang", "ru", user_id=user, message_id=menu.result["message_id"]), runtime)
    assert last_text(telegram, "editMessageText") == "Выберите язык:"
    send(command("limits", user, "en"), runtime)
    assert last_text(telegram).startswith("Сегодня использовано 0 из 50 картинок, осталось 50.")


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Today you have used 1 of 50 pictures; 49 left."),
        ("ru", "Сегодня использовано 1 из 50 картинок, осталось 49."),
    ],
)
def test_limits_show_what_is_left_today(runtime, telegram, language, expected):
    user = next(ids)
    job_id = f"u{next(ids)}"
    put_job(runtime, job_id, user, State.VALIDATED)
    from imagebot.flows import rate_limit

    rate_limit.admit(job_id, runtime)
    send(command("limits", user, language), runtime)
    assert last_text(telegram).startswith(expected)


def test_history_resends_the_latest_photos_by_file_id_without_drawing(runtime, telegram):
    user = next(ids)
    send(command("history", user), runtime)
    assert last_text(telegram) == "No pictures yet. Send me a prompt!"

    photo = png(32, 32, "navy")
    file_ids = []
    for n in range(2):
        sent = runtime.bot.send_photo(AnswerTo(user), ("p.png", photo, "image/png"), caption="x")
        file_ids.append(sent["photo"][-1]["file_id"])
        runtime.users.add_to_history(
            user, {"job_id": f"h{n}", "file_id": file_ids[-1], "style": "ghibli", "prompt": f"picture {n}"}
        )
    before = len(telegram.calls("sendPhoto"))
    send(command("history", user), runtime)
    resent = telegram.calls("sendPhoto")[before:]
    assert [call.params["photo"] for call in resent] == file_ids  # oldest first, newest last
    assert resent[-1].params["caption"] == "<b>Ghibli Art</b>\npicture 1"


@pytest.mark.parametrize(
    ("action", "args", "style", "same_seed"),
    [
        ("again", (), "ghibli", False),
        ("other", ("pixel",), "pixel", False),
        ("same", ("realistic",), "realistic", True),
        ("retry", (), "ghibli", True),
    ],
)
def test_photo_buttons_start_a_new_job_from_the_old_one(
    runtime, telegram, validated, action, args, style, same_seed
):
    user, source_id = next(ids), f"u{next(ids)}"
    source = put_job(runtime, source_id, user, State.DELIVERED, negative_prompt="fog", aspect="portrait")
    button = press(action, *args, source_id, user_id=user)
    send(button, runtime)
    send(button, runtime)  # a redelivery makes no second job

    job = runtime.jobs.get_job(f"u{button.update_id}")
    assert (job.prompt, job.negative_prompt, job.aspect, job.style) == (
        source.prompt,
        "fog",
        "portrait",
        style,
    )
    assert (job.seed == source.seed) is same_seed
    assert job.seed == (source.seed if same_seed else seed_for(job.job_id))
    assert [m.data.decode() for m in validated.drain(expect=2, timeout=2)] == [job.job_id]


def test_a_button_on_someone_elses_job_does_nothing(runtime, telegram, validated):
    """The webhook toasts them whose picture it is (test_webhook.py); the worker stays silent."""
    owner, stranger, source_id = next(ids), next(ids), f"u{next(ids)}"
    put_job(runtime, source_id, owner, State.DELIVERED)
    send(press("again", source_id, user_id=stranger), runtime)
    assert telegram.calls() == []
    assert validated.quiet(0.5) == []


def test_original_file_is_sent_as_a_document_with_the_same_bytes(runtime, telegram):
    user, job_id = next(ids), f"u{next(ids)}"
    blob = storage.Client(project=PROJECT).bucket(BUCKET).blob(f"outputs/{job_id}.png")
    blob.upload_from_string(b"\x89PNG original bytes", content_type="image/png")
    put_job(runtime, job_id, user, State.DELIVERED, output_name=blob.name, delivered_message_id=1)
    send(press("file", job_id, user_id=user), runtime)
    document = telegram.calls("sendDocument")[-1]
    assert telegram.file_bytes(document.result["document"]["file_id"]) == b"\x89PNG original bytes"

    blob.delete()
    send(press("file", job_id, user_id=user), runtime)
    assert last_text(telegram).startswith("The original file is no longer stored.")


def test_operators_see_stats_and_pause_and_resume_admissions(runtime, telegram):
    send(command("stats", OPERATOR_ID), runtime)
    stats = last_text(telegram)
    assert stats.startswith("<b>Today</b>\nJobs: ") and "Mode: <b>normal</b>" in stats

    send(command("pause", OPERATOR_ID, "ru"), runtime)
    assert runtime.config.get_ops().mode == Mode.PAUSED and runtime.config.get_ops().set_by == "operator"
    assert last_text(telegram).startswith("⏸ Приём заданий приостановлен")
    send(command("resume", OPERATOR_ID), runtime)
    assert runtime.config.get_ops().mode == Mode.NORMAL


def test_operator_commands_from_anyone_else_change_nothing(runtime, telegram):
    runtime.config.set_ops(Ops())
    before = len(telegram.calls("sendMessage"))
    send(command("pause", next(ids)), runtime)
    assert runtime.config.get_ops().mode == Mode.NORMAL
    assert len(telegram.calls("sendMessage")) == before
