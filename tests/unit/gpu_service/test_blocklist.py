"""The GPU side's blocklist (tests/contract/ checks that both sides agree)."""

from __future__ import annotations

import pytest

from gpu_service.blocklist import BLOCKED_TERMS, blocked_term, is_blocked


@pytest.mark.parametrize(
    ("prompt", "term"),
    [
        ("loli in a park", "loli"),
        ("LOLI", "loli"),
        ("L0L1", "loli"),  # digits for letters
        ("l.o.l.i", "loli"),  # separators
        ("lo-li", "loli"),
        ("l o l i", "loli"),
        ("ｌｏｌｉ", "loli"),  # full-width letters (NFKC)
        ("lo\u200bli", "loli"),  # a zero-width space
        ("lòli", "loli"),  # an accent
        ("l\u043eli", "loli"),  # a Cyrillic o
        ("child porn", "child porn"),
        ("child   porn", "child porn"),
        ("childporn", "child porn"),
        ("a gory battlefield", "gory"),
        ("Beheading!", "beheading"),
    ],
)
def test_blocked_terms_are_found_through_simple_disguises(prompt: str, term: str) -> None:
    assert blocked_term(prompt) == term
    assert is_blocked(prompt)


@pytest.mark.parametrize(
    "prompt",
    [
        "a lolipop on a table",  # contains a term, but is another word
        "lol i love cats",  # a laugh, not a term in fragments
        "Al Gore giving a speech",
        "a hiker in a gore-tex jacket",
        "children playing in a park",
        "a nude beach in the style of Monet",
        "кот в шляпе",
        "",
    ],
)
def test_innocent_prompts_pass(prompt: str) -> None:
    assert blocked_term(prompt) is None
    assert not is_blocked(prompt)


def test_the_terms_are_normalised_lower_case_words() -> None:
    assert BLOCKED_TERMS and all(term == term.strip().lower() and "  " not in term for term in BLOCKED_TERMS)
    assert all(term.replace(" ", "").isalpha() for term in BLOCKED_TERMS)
