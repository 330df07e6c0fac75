"""AnswerTo: where an answer goes (chat, forum topic, quoted message) and its Bot API fields."""

from imagebot.core.answer_to import AnswerTo
from imagebot.core.jobs import Job, State
from imagebot.core.updates import Button, Command


def command(chat_id, thread=None):
    return Command(
        update_id=1, chat_id=chat_id, user_id=7, message_id=5, name="help", message_thread_id=thread
    )


def test_an_answer_in_a_topic_names_the_topic_and_quotes_what_it_answers():
    assert AnswerTo.of_event(command(-100, thread=42)).params() == {
        "chat_id": -100,
        "message_thread_id": 42,
        "reply_parameters": {"message_id": 5, "allow_sending_without_reply": True},
    }


def test_a_private_chat_answer_has_neither_topic_nor_quote():
    assert AnswerTo.of_event(command(7)).params() == {"chat_id": 7}


def test_a_button_answer_goes_to_the_pressed_messages_topic():
    button = Button(
        update_id=2,
        chat_id=-100,
        user_id=7,
        message_id=9,
        callback_query_id="q",
        action="again",
        args=("u1",),
        message_thread_id=3,
    )
    to = AnswerTo.of_event(button)
    assert (to.chat_id, to.message_thread_id, to.reply_to) == (-100, 3, 9)


def test_a_jobs_answers_go_to_its_prompts_topic_quoting_the_prompt_even_after_a_round_trip():
    job = Job(job_id="u1", state=State.RECEIVED, chat_id=-100, message_id=4, message_thread_id=42)
    stored = Job.from_doc(job.to_doc())
    assert stored.message_thread_id == 42
    assert AnswerTo.of_job(stored) == AnswerTo(-100, 42, 4)
    assert AnswerTo.of_job(stored).quoting(11) == AnswerTo(-100, 42, 11)
    assert "message_thread_id" not in Job(job_id="u2", state=State.RECEIVED).to_doc()


def test_a_chat_action_names_the_topic_but_quotes_nothing():
    assert AnswerTo(-100, 42, 4).params(quote=False) == {"chat_id": -100, "message_thread_id": 42}
