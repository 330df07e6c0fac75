"""How the blocklist reads a prompt (the GPU side's copy; tests/contract/ checks that both sides
agree, and the disguised-prompt corpus runs at both checkpoints: test_refusals.py here,
tests/unit/functions/test_blocklist.py there)."""

from __future__ import annotations

import pytest

from gpu_service.blocklist import BLOCKED_TERMS, blocked_term, fold, is_blocked


@pytest.mark.parametrize(
    ("prompt", "term"),
    [
        ("loli in a park", "loli"),
        ("child porn", "sexualised minor"),
        ("голые дети", "sexualised minor"),
        ("a gory battlefield", "gore"),
        ("Beheading!", "gore"),
        ("педофилы", "pedophile"),
    ],
)
def test_a_blocked_prompt_is_named_by_its_term(prompt: str, term: str) -> None:
    assert term in BLOCKED_TERMS
    assert blocked_term(prompt) == term
    assert is_blocked(prompt)


def test_the_fold_reads_look_alikes_as_the_letters_they_imitate() -> None:
    assert fold("ᴘᴇᴅᴏ") == fold("pedo") == fold("\u0440\u0435d\u043e")  # small capitals; Cyrillic р, е, о
    assert fold("L0L1") == "loli"  # digits for letters: "1" is an "i" here, not UTS #39's "l"
    assert fold("lo\u200bli") == "loli" and fold("lòlí") == "loli"  # zero-width space, accents


def test_a_masked_word_must_show_twice_as_many_letters_as_it_hides() -> None:
    assert blocked_term("g*ry") == "gore"
    assert blocked_term("g**y") is None  # which word is that?
    assert blocked_term("****") is None


def test_fragments_are_read_together_only_when_each_is_short() -> None:
    assert blocked_term("lo li") == "loli"
    assert blocked_term("lol i love cats") is None
    assert blocked_term("a g o r y scene") == "gore"  # inside a run of fragments


def test_whole_words_only() -> None:
    assert blocked_term("a lolipop") is None
    assert blocked_term("Edward Gorey") is None
    assert blocked_term("") is None


def test_no_form_of_a_term_is_longer_than_the_reach_of_a_search_from_fragments() -> None:
    # The blocklist's own tables: the bound is theirs to keep.
    from gpu_service import blocklist

    def longest(word: blocklist._Word) -> int:
        return max(len(fold(stem + ending)) for stem in word.stems for ending in word.endings)

    def options(position: blocklist._Position) -> tuple[blocklist._Word, ...]:
        return (position,) if isinstance(position, blocklist._Word) else position

    for phrases in blocklist._TERMS.values():
        for phrase in phrases:
            positions = (phrase,) if isinstance(phrase, blocklist._Word) else phrase
            reach = sum(max(map(longest, options(p))) + 1 for p in positions)
            assert reach < blocklist._LONGEST_TERM
