"""Prompts that are never drawn. Pure; no I/O.

One source (common/blocklist.py), copied by `make sync` into functions/imagebot/core/ (validation
refuses the prompt and tells the user) and gpu_service/ (the GPU service refuses the job again,
in case a message reaches it some other way); a test keeps the copies byte-identical.

The list is short on purpose: terms that are unambiguous in an image prompt, matched as whole
words so that innocent words that contain one (a "lolipop") pass. Matching
happens after NFKC normalisation and case folding, with accents, zero-width characters and
common look-alike letters removed, so "L0L1", "l.o.l.i", "ｌｏｌｉ" and "lo\u200bli" are caught.
"""

from __future__ import annotations

import re
import unicodedata

# Sexual content involving minors, and graphic gore. Multi-word terms match as phrases, and
# also written together ("childporn").
BLOCKED_TERMS: frozenset[str] = frozenset(
    {
        # sexualised minors
        "child porn",
        "child pornography",
        "child sex",
        "child nude",
        "nude child",
        "naked child",
        "nude children",
        "naked children",
        "nude kid",
        "naked kid",
        "nude minor",
        "naked minor",
        "underage nude",
        "underage naked",
        "underage sex",
        "preteen nude",
        "jailbait",
        "loli",
        "lolicon",
        "shotacon",
        "pedophile",
        "pedophilia",
        "paedophile",
        "paedophilia",
        # graphic gore ("gore" alone would refuse Al Gore and Gore-Tex)
        "gory",
        "guro",
        "beheading",
        "beheaded",
        "decapitated",
        "decapitation",
        "disembowelled",
        "disemboweled",
        "disembowelment",
        "dismembered",
        "dismemberment",
        "mutilated corpse",
        "snuff film",
    }
)

# Digits and symbols that stand in for letters, and look-alike letters of other scripts.
_LOOK_ALIKES = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "@": "a",
        "$": "s",
        "а": "a",  # Cyrillic
        "е": "e",
        "о": "o",
        "р": "p",
        "с": "c",
        "х": "x",
        "у": "y",
        "і": "i",
        "к": "k",
        "ο": "o",  # Greek
        "ι": "i",
        "α": "a",
    }
)
_WORD = re.compile(r"[^\W_]+")  # letters and digits; every separator splits
_PHRASES = {tuple(term.split()): term for term in BLOCKED_TERMS}
_SQUEEZED = {term.replace(" ", ""): term for term in BLOCKED_TERMS}
# Evasions split a term into fragments of one or two characters ("l.o.l.i", "lo-li"); real
# words are longer, so "lol i" (a laugh, then a sentence) is not read as one.
_FRAGMENT = 2


def words(prompt: str) -> list[str]:
    """The prompt as lower-case words, normalised as described above."""
    text = unicodedata.normalize("NFKC", prompt).casefold()
    # Take accents off (NFD splits them into combining marks) and drop invisible characters.
    text = "".join(
        char for char in unicodedata.normalize("NFD", text) if unicodedata.category(char) not in ("Mn", "Cf")
    )
    return _WORD.findall(text.translate(_LOOK_ALIKES))


def blocked_term(prompt: str) -> str | None:
    """The first blocked term the prompt contains, or None."""
    found = words(prompt)
    for start, word in enumerate(found):
        if word in _SQUEEZED:  # a one-word term, or a phrase written together ("childporn")
            return _SQUEEZED[word]
        for phrase, term in _PHRASES.items():  # a phrase, word by word ("child porn")
            if tuple(found[start : start + len(phrase)]) == phrase:
                return term
        joined = ""
        for fragment in found[start:]:  # a term in fragments ("l.o.l.i")
            if len(fragment) > _FRAGMENT:
                break
            joined += fragment
            if joined in _SQUEEZED:
                return _SQUEEZED[joined]
    return None


def is_blocked(prompt: str) -> bool:
    return blocked_term(prompt) is not None
