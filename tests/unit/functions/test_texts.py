import re
import string

from imagebot.core.texts import CATALOGUE, language_for, render


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
