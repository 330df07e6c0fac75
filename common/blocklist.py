"""Prompts that are never drawn. Pure; no I/O; standard library only.

One source (common/blocklist.py), copied by `make sync` into functions/imagebot/core/ (validation
refuses the prompt and tells the user) and gpu_service/ (the GPU service refuses the job again,
in case a message reaches it some other way), each beside its copy of confusables.py; a test
keeps the copies byte-identical.

The list is short on purpose: sexualised minors and graphic gore, in English and Russian, as
terms that are unambiguous in an image prompt. Adult nudity is not on it ("a nude-coloured
dress", "a nude beach by Monet" are drawn): the picture's own safety check, and Gemini's
judgement where translation is on, stand behind it.

What a look-alike cannot walk around:
- `fold`: compatibility forms (NFKD: full-width, mathematical and circled letters), case, marks
  and format characters (accents, zero-width joiners) and look-alike characters of any script
  (Cyrillic, Greek, Cherokee, small capitals...) through Unicode's UTS #39 confusables
  skeleton, as ICU computes it (confusables.py, generated from ICU by tools/confusables.py),
  plus digits and signs for letters ("l0l1"). A term and a prompt are compared folded, so a
  Russian term matches whichever of its letters were swapped for Latin ones.
- Word forms: each term is written as stems with the endings they take (English plurals and
  verb forms, Russian cases and genders), not as one spelling.
- Spacing and masking: a term written in fragments of one or two characters ("n u d e",
  "l.o.l.i", "n*u*d*e"), with a few of its letters masked ("p*dophile", "n_de ch_ld"), or
  with a letter stretched ("gooory").
- Phrases word by word, or written together ("childporn").
Words are matched whole, so an innocent word that contains a term (a "lolipop") passes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .confusables import FOLD


@dataclass(frozen=True)
class _Word:
    """One word of a term: any of its stems followed by any of its endings ("" for none)."""

    stems: tuple[str, ...]
    endings: tuple[str, ...] = ("",)


_EN = ("", "s", "es", "ed", "d", "ing")
_RU_NOUN = (
    "",
    "а",
    "я",
    "ы",
    "и",
    "у",
    "ю",
    "е",
    "о",
    "ой",
    "ей",
    "ом",
    "ем",
    "ам",
    "ям",
    "ах",
    "ях",
    "ами",
    "ями",
    "ов",
    "ев",
)
_RU_ADJ = (
    "ий", "ый", "ой", "ая", "яя", "ое", "ее", "ые", "ие", "ого", "его", "ому", "ему", "ым", "им",
    "ых", "их", "ую", "юю", "ей", "ыми", "ими",
)  # fmt: skip


def _en(*stems: str) -> _Word:
    return _Word(stems, _EN)


# Who: children, in English and Russian.
# Who: children, in English and Russian. Teenagers and school pupils too: with sexual content
# the bot does not guess at an age.
_MINOR = (
    _en("child", "children", "kid", "kiddie", "kiddo", "minor", "preteen", "underage", "toddler"),
    _en("teen", "teenage", "teenager", "schoolgirl", "schoolboy"),
    _Word(("дет",), ("и", "ей", "ям", "ьми", "ях")),  # дети, детей, детьми
    _Word(("детк", "деток"), ("", "и", "ам", "ами", "ах")),  # детки
    _Word(("ребен",), ("ок", "ка", "ку", "ком", "ке")),  # ребёнок, ребёнка (ё folds to е)
    _Word(("малолетк", "школьниц"), ("а", "ы", "и", "у", "ой", "е", "ам", "ами", "ах")),
    _Word(("подрост",), ("ок", "ка", "ку", "ком", "ке", "ки", "ков", "кам", "ками", "ках")),
    _Word(("школьник", "малыш"), _RU_NOUN),
)
_MINOR_ADJ = (_Word(("детск", "малолетн", "несовершеннолетн"), _RU_ADJ),)  # детское, малолетняя
# What: sexual content or nudity (of a minor only: see above).
_SEXUAL = (
    _en("porn", "porno", "pornography", "pornographic", "sex", "sexy", "sexual", "nude", "naked", "nudity"),
    _en("erotic", "erotica", "hentai", "lewd", "nsfw"),
    _Word(("порн",), ("о", "уха", "ухи", "уху", "ухой")),
    _Word(("порнографи",), ("я", "и", "ю", "ей")),
    _Word(("секс",), ("", "а", "е", "у", "ом")),
    _Word(("эротик",), ("а", "и", "у", "ой", "е")),
    _Word(("хентай",)),
)
_SEXUAL_ADJ = (
    _Word(("гол", "голеньк", "обнаженн", "раздет", "эротическ", "сексуальн", "порнографическ"), _RU_ADJ),
)
_WITH = (_Word(("with", "of", "с", "со")),)  # "porn with kids", "порно с детьми"

# A phrase is one word, or a sequence of positions, each a word or a tuple of alternatives.
_Position = _Word | tuple[_Word, ...]
_Phrase = _Word | tuple[_Position, ...]
_TERMS: dict[str, tuple[_Phrase, ...]] = {
    "sexualised minor": (
        (_MINOR, _SEXUAL),
        (_SEXUAL, _MINOR),
        (_SEXUAL, _WITH, _MINOR),
        (_MINOR_ADJ, _SEXUAL),
        (_SEXUAL_ADJ, _MINOR),
        (_MINOR, _SEXUAL_ADJ),
    ),
    "jailbait": (_en("jailbait"),),
    "loli": (_Word(("loli", "lolicon", "lolikon", "shotacon", "лоли", "лоликон", "шотакон"), ("", "s")),),
    "pedophile": (
        _Word(("pedophil", "paedophil", "pedofil"), ("e", "es", "ia", "iac", "iacs", "ic")),
        _Word(("педофил",), (*_RU_NOUN, "ия", "ии", "ию", "ией")),
        _Word(("педофильск",), _RU_ADJ),
    ),
    # Graphic gore ("gore" alone would refuse Al Gore and Gore-Tex).
    "gore": (
        _Word(("gory", "gorier", "goriest", "guro", "гуро", "снафф")),
        _Word(("behead",), ("", "s", "ed", "ing", "ings", "er", "ers")),
        _Word(("decapitat",), ("e", "es", "ed", "ing", "ion", "ions")),
        _Word(("disembowel",), ("", "s", "ed", "led", "ing", "ling", "ment", "ments")),
        _Word(("dismember",), ("", "s", "ed", "ing", "ment", "ments")),
        (_Word(("mutilat",), ("ed", "ing", "ion")), _en("corpse", "body", "bodies", "cadaver")),
        (_Word(("snuff",)), _en("film", "movie", "video")),
        _Word(("расчлененн", "обезглавленн"), _RU_ADJ),
        _Word(("расчленен", "обезглавлен"), ("", "а", "о", "ы")),
        _Word(("расчленени", "обезглавливани"), ("е", "я", "ю", "ем", "и")),
        _Word(("расчлененк",), ("а", "и", "у", "ой", "е")),
        _Word(("расчленил", "обезглавил"), ("", "а", "и", "о")),
        (_Word(("изуродованн",), _RU_ADJ), _Word(("труп",), _RU_NOUN)),
    ),
}
BLOCKED_TERMS: frozenset[str] = frozenset(_TERMS)

# Digits and signs for letters. Applied with the fold, and winning over it: UTS #39 reads "1"
# as "l", but in "l0l1" it stands for an "i".
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_TABLE = {**FOLD, **_LEET}
_WORD = re.compile(r"[^\W_]+")  # letters and digits; every separator splits
# Evasions split a term into fragments of one or two characters ("l.o.l.i", "lo-li"); real
# words are longer, so "lol i" (a laugh, then a sentence) is not read as one.
_FRAGMENT = 2
# A mask between letters stands for one letter each ("n*de", "n_de"); "*" also at a word's ends.
_INNER_MASK = re.compile(r"(?<=[^\W_])[*._\-#?]+(?=[^\W_])")
_MASKED_WORD = re.compile(r"\**[^\W_]+(?:\*+[^\W_]+)*\**")
# A masked word must show at least twice as many letters as it hides: "****" is no "gory".
_SHOWN_PER_MASKED = 2
# Longer than any term's longest form, folded (a test checks it).
_LONGEST_TERM = 80
# A letter stretched three times or more is read once ("gooory"); no term has a letter thrice.
_STRETCHED = re.compile(r"(\w)\1{2,}")


def fold(text: str) -> str:
    """The text as the blocklist compares it (see the module's docstring)."""
    return unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold()).translate(_TABLE)


def _literal(text: str, masked: bool) -> str:
    folded = fold(text)
    if not masked:
        return re.escape(folded)
    return "".join(f"[{re.escape(char)}*]" for char in folded)


def _word_pattern(word: _Word, masked: bool) -> str:
    stems = "|".join(_literal(stem, masked) for stem in word.stems)
    endings = "|".join(_literal(ending, masked) for ending in word.endings)
    return f"(?:{stems})(?:{endings})"


def _position_pattern(position: _Position, masked: bool) -> str:
    options = (position,) if isinstance(position, _Word) else position
    return "(?:" + "|".join(_word_pattern(word, masked) for word in options) + ")"


def _pattern(masked: bool, before: str, after: str) -> re.Pattern[str]:
    terms = []
    for index, phrases in enumerate(_TERMS.values()):  # group t<index> names the term: _NAMES
        alternatives = []
        for phrase in phrases:
            positions = (phrase,) if isinstance(phrase, _Word) else phrase
            # Word by word, or written together ("childporn").
            alternatives.append(" ?".join(_position_pattern(position, masked) for position in positions))
        terms.append(f"(?P<t{index}>{'|'.join(alternatives)})")
    return re.compile(f"{before}(?:{'|'.join(terms)}){after}")


_NAMES = {f"t{index}": name for index, name in enumerate(_TERMS)}
_WORD_START, _WORD_END = r"(?<!\S)", r"(?!\S)"
_WHOLE_WORDS = _pattern(masked=False, before=_WORD_START, after=_WORD_END)
_INSIDE_FRAGMENTS = _pattern(masked=False, before="", after="")
_FROM_FRAGMENTS = _pattern(masked=False, before="", after=_WORD_END)
_MASKED = _pattern(masked=True, before=_WORD_START, after=_WORD_END)


def _joined_fragments(words: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """The words, each run of fragments written together, as one text; and where the runs are."""
    joined: list[str] = []
    runs: list[tuple[int, int]] = []
    at = 0  # where the next word starts in the text
    run: list[str] = []
    for word in [*words, ""]:  # "" ends the last run
        if word and len(word) <= _FRAGMENT:
            run.append(word)
            continue
        for part in ["".join(run)] if len(run) > 1 else run:
            if len(run) > 1:
                runs.append((at, at + len(part)))
            joined.append(part)
            at += len(part) + 1
        run = []
        if word:
            joined.append(word)
            at += len(word) + 1
    return " ".join(joined), runs


def _in_fragments(text: str, runs: list[tuple[int, int]]) -> re.Match[str] | None:
    """A term inside a run of fragments ("a g o r y"), or begun in one and going on after it
    ("a n u d e child"): a run has no word boundary to start from."""
    for start, end in runs:
        if found := _INSIDE_FRAGMENTS.search(text, start, end):
            return found
        # Only as far as the longest term could reach, cut at a word's end.
        reach = text.find(" ", end + _LONGEST_TERM)
        found = _FROM_FRAGMENTS.search(text, start, len(text) if reach < 0 else reach)
        if found and found.start() < end:
            return found
    return None


def blocked_term(prompt: str) -> str | None:
    """The blocked term the prompt contains (its name in BLOCKED_TERMS), or None."""
    text = fold(prompt)
    found = _find(text)
    if found is None and _STRETCHED.search(text):
        found = _find(_STRETCHED.sub(r"\1", text))  # "gooory"
    return None if found is None or found.lastgroup is None else _NAMES[found.lastgroup]


def _find(text: str) -> re.Match[str] | None:
    words, runs = _joined_fragments(_WORD.findall(text))
    found = _WHOLE_WORDS.search(words) or _in_fragments(words, runs)
    if found is None:
        masked = " ".join(_MASKED_WORD.findall(_INNER_MASK.sub(lambda mask: "*" * len(mask[0]), text)))
        for candidate in _MASKED.finditer(masked):
            hidden = candidate[0].count("*")
            if len(candidate[0].replace(" ", "")) - hidden >= _SHOWN_PER_MASKED * hidden:
                return candidate
    return found


def is_blocked(prompt: str) -> bool:
    return blocked_term(prompt) is not None
