import pytest

from imagebot.validation import PromptRejected, normalise_prompt, validate_prompt


def test_normalise_trims_collapses_and_composes():
    decomposed = "Cafe\u0301  by\tthe\n\nsea  "
    assert normalise_prompt(decomposed) == "Café by the sea"


def test_normalise_drops_control_and_bidi_characters_but_keeps_emoji_joiners():
    hostile = "cat\u0000 in\u202e a\u200b hat 👩\u200d🚀"
    assert normalise_prompt(hostile) == "cat in a hat 👩\u200d🚀"


@pytest.mark.parametrize(
    ("text", "reason", "limit"),
    [("", "empty", 0), ("   \n\t ", "empty", 0), ("\u200b\u200b", "empty", 0), ("a", "too_short", 2), ("x" * 11, "too_long", 10)],
)
def test_rejections_carry_reason_and_limit(text, reason, limit):
    with pytest.raises(PromptRejected) as raised:
        validate_prompt(text, min_chars=2, max_chars=10)
    assert (raised.value.reason, raised.value.limit) == (reason, limit)


def test_length_is_counted_after_normalising():
    assert validate_prompt("  ab    cd  ", min_chars=2, max_chars=5) == "ab cd"
