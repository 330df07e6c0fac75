"""The blocklist's look-alike table is what ICU computes (tools/confusables.py writes it)."""

from __future__ import annotations

import unicodedata

import icu

from tools import confusables


def test_the_table_is_generated_from_the_pinned_icu() -> None:
    assert confusables.TARGET.read_text() == confusables.module_text(), "run python -m tools.confusables"


def test_each_entry_folds_to_the_skeleton_icu_gives_or_a_small_capitals_letter() -> None:
    # Checked against ICU itself, not against the generator's own reading of it.
    checker = icu.SpoofChecker()
    table = confusables.build()
    assert table[ord("а")] == "a" and table[ord("ο")] == "o"  # Cyrillic a, Greek omicron
    assert table[ord("ɴ")] == "n" and table[ord("ᴄ")] == "c"  # small capitals
    assert table[0x200D] == "" and table[0x0301] == ""  # a zero-width joiner, an acute accent
    for char in ("і", "ѕ", "ԁ", "ɡ", "Ꮯ"):  # Cyrillic, Latin, Cherokee
        skeleton = confusables.prefold(checker.getSkeleton(0, char))
        assert table[ord(char)] == skeleton.translate(table), unicodedata.name(char)
