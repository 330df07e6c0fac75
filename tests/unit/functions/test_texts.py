import re
import string

from imagebot.core.texts import CATALOGUE, language_for, plural_form, render


def test_every_language_has_every_text_with_the_same_placeholders():
    fields = {
        key: {f for _, f, _, _ in string.Formatter().parse(text) if f}
        for key, text in CATALOGUE["en"].items()
    }
    for language, catalogue in CATALOGUE.items():
        assert catalogue.keys() == CATALOGUE["en"].keys(), language
        for key, text in catalogue.items():
            assert {f for _, f, _, _ in string.Formatter().parse(text) if f} == fields[key], (language, key)


def test_language_follows_telegram_language_code():
    assert language_for("ru") == "ru"
    assert language_for("en-GB") == "en"
    assert language_for("xx") == "en"
    assert language_for(None) == "en"


def test_user_text_is_escaped_for_html():
    caption = render("en", "caption", style="Pixel Art", prompt='<b>cat</b> & "dog"', seed=5)
    assert "&lt;b&gt;cat&lt;/b&gt; &amp; &quot;dog&quot;" in caption
    assert re.fullmatch(r"<b>Pixel Art</b> · seed 5\n[^<>]*", caption)


def test_captions_stay_within_telegrams_limit_after_parsing():
    import re as _re
    from html import unescape

    from imagebot.core.texts import caption

    text = caption("en", "Pixel Art", "<&>" * 300, 123, negative="x" * 300)
    plain = unescape(_re.sub(r"<[^>]+>", "", text))
    assert len(plain) <= 1024
    assert "seed 123" in plain and "without:" in plain
    shown = caption("ru", "Pixel Art", "ы" * 1000, 123, negative="x" * 300, drawn_as="<&>" * 400)
    plain = unescape(_re.sub(r"<[^>]+>", "", shown))
    assert len(plain) <= 1024 and "нарисовано по: <&><&>" in plain


def test_waits_read_naturally():
    from imagebot.core.texts import wait_text

    assert wait_text("en", 0.2) == "1 s" and wait_text("en", 42) == "42 s" and wait_text("ru", 300) == "5 мин"


def test_russian_counts_take_the_form_their_number_needs():
    forms = ["символ", "символа", "символов"]
    expected = {
        1: 0,
        2: 1,
        4: 1,
        5: 2,
        11: 2,
        12: 2,
        14: 2,
        20: 2,
        21: 0,
        22: 1,
        25: 2,
        101: 0,
        111: 2,
        112: 2,
    }
    assert {n: plural_form("ru", n, forms) for n in expected} == {n: forms[i] for n, i in expected.items()}
    assert render("ru", "rejected_too_short", limit=2).endswith("хотя бы 2 символа.")
    assert render("ru", "rejected_too_short", limit=21).endswith("хотя бы 21 символ.")
    assert render("ru", "rejected_too_long", limit=500).endswith("не больше 500 символов.")
    assert render("ru", "rejected_too_long", limit=1).endswith("не больше 1 символа.")
    assert render("ru", "limits", used=0, limit=21, left=21, hours=1, minutes=0).startswith(
        "Сегодня использовано 0 из 21 картинки"
    )


def test_english_counts_are_singular_only_for_one():
    assert (
        render("en", "rejected_too_short", limit=1)
        == "Your prompt is too short: at least 1 character, please."
    )
    assert "at most 500 characters" in render("en", "rejected_too_long", limit=500)


def test_no_count_in_a_russian_text_is_followed_by_a_word_of_fixed_form():
    # A number filled in before a noun must choose the noun's form ({n:форма|формы|форм}): only
    # short units (с, мин, ч, МБ, Мп), «фото» (which does not change) and prepositions may follow.
    counts = "limit|max|min|used|left|position|seconds|minutes|hours|min_side|max_megabytes|max_megapixels"
    bare_count = re.compile(rf"\{{({counts})\}} (?!(с|мин|ч|МБ|Мп|фото|из)\b)[а-яё]", re.IGNORECASE)
    assert {key for key, text in CATALOGUE["ru"].items() if bare_count.search(text)} == set()


def test_the_russian_texts_speak_to_the_user_as_vy_and_in_russian():
    texts = re.sub(r"\{[^}]*\}", "", " ".join(CATALOGUE["ru"].values())).lower()  # no placeholders
    assert not re.search(r"\b(ты|тебя|тебе|твой|твоя|твои|пришли|нажми|выбери|напиши)\b", texts)
    assert "seed" not in texts and "портрет" not in texts and "пейзаж" not in texts
