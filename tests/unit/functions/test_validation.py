import pytest
from imagebot.core.validation import PromptRejected, normalise_prompt, validate_prompt, validate_request


def test_normalise_trims_collapses_and_composes():
    decomposed = "Cafe\u0301  by\tthe\n\nsea  "
    assert normalise_prompt(decomposed) == "Café by the sea"


def test_normalise_drops_control_and_bidi_characters_but_keeps_emoji_joiners():
    hostile = "cat\u0000 in\u202e a\u200b hat 👩\u200d🚀"
    assert normalise_prompt(hostile) == "cat in a hat 👩\u200d🚀"


@pytest.mark.parametrize(
    ("text", "reason", "limit"),
    [
        ("", "empty", 0),
        ("   \n\t ", "empty", 0),
        ("\u200b\u200b", "empty", 0),
        ("\u200d\u200d\u200d", "empty", 0),  # zero-width joiners, which emoji keep
        ("\u200d \u3164\u2800", "empty", 0),  # and fillers that draw nothing
        ("\u200da", "too_short", 2),
        ("a", "too_short", 2),
        ("x" * 11, "too_long", 10),
    ],
)
def test_rejections_carry_reason_and_limit(text, reason, limit):
    with pytest.raises(PromptRejected) as raised:
        validate_prompt(text, min_chars=2, max_chars=10)
    assert (raised.value.reason, raised.value.limit) == (reason, limit)


def test_length_is_counted_after_normalising():
    assert validate_prompt("  ab    cd  ", min_chars=2, max_chars=5) == "ab cd"


@pytest.mark.parametrize(
    ("text", "prompt", "negative"),
    [
        ("a cat in a hat\n--no blurry, text", "a cat in a hat", "blurry, text"),
        ("a cat in a hat --no dogs", "a cat in a hat", "dogs"),
        ("a cat\n--NO  dogs  ", "a cat", "dogs"),
        ("a cat with no--nonsense", "a cat with no--nonsense", ""),
    ],
)
def test_a_negative_prompt_is_split_off(text, prompt, negative):
    request = validate_request(text, min_chars=2, max_chars=500)
    assert (request.prompt, request.negative_prompt) == (prompt, negative)


def test_blocked_terms_are_refused_even_disguised_but_not_inside_other_words():
    for text in ("some GURO please", "g.u.r.o", "ｇｕｒｏ art"):
        with pytest.raises(PromptRejected) as raised:
            validate_request(text, 2, 500)
        assert raised.value.reason == "blocked"
    assert validate_request("a gurometer in a forest", 2, 500).prompt == "a gurometer in a forest"
    assert validate_request("a knight --no gory scenes", 2, 500).negative_prompt == "gory scenes"


def test_an_over_long_negative_part_is_refused():
    with pytest.raises(PromptRejected) as raised:
        validate_request("a cat --no " + "x" * 201, 2, 500)
    assert (raised.value.reason, raised.value.limit) == ("too_long", 200)
