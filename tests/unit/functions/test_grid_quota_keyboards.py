"""The pure parts of issue 16: what a grid costs, its buttons, and a set's buttons."""

import pytest
from imagebot.core import keyboards, quota, texts
from imagebot.core.vocabulary import GRID_SIZE, STYLES

POLICY = quota.QuotaPolicy(burst=3, refill_seconds=20.0, daily_limit=10)
NOW = 1_800_000_000.0  # 2027-01-15 08:00 UTC


def buttons(markup):
    return [b for row in markup["inline_keyboard"] for b in row]


def test_a_grid_costs_two_pictures_a_set_three_and_a_picture_one():
    assert quota.job_cost(1) == 1
    assert quota.job_cost(GRID_SIZE) == quota.GRID_COST == 2
    assert quota.SET_COST == len(STYLES) == 3


def test_a_grid_is_charged_one_token_and_two_daily_pictures_at_once():
    admission = quota.admit(None, POLICY, NOW, cost=quota.GRID_COST)
    assert admission.admitted
    assert (admission.state.tokens, admission.state.used_today) == (2.0, 2)


def test_a_grid_with_no_token_left_is_refused_whole_and_spends_nothing():
    empty = quota.QuotaState(tokens=0.5, updated_at=NOW, day="2027-01-15", used_today=2)
    refused = quota.admit(empty, POLICY, NOW, cost=quota.GRID_COST)
    assert not refused.admitted and refused.reason == "rate"
    assert refused.retry_after_seconds == 10  # half a token to go
    assert (refused.state.tokens, refused.state.used_today) == (0.5, 2)


def test_a_grid_that_would_pass_the_daily_limit_is_refused():
    nine_used = quota.QuotaState(tokens=3.0, updated_at=NOW, day="2027-01-15", used_today=9)
    assert quota.admit(nine_used, POLICY, NOW, cost=quota.GRID_COST).reason == "daily"
    assert quota.admit(nine_used, POLICY, NOW).admitted


def test_a_set_after_a_picture_still_starts_at_once():
    one_drawn = quota.admit(None, POLICY, NOW).state
    admission = quota.admit(one_drawn, POLICY, NOW + 1, cost=quota.SET_COST)
    assert admission.admitted and admission.state.used_today == 1 + quota.SET_COST


def test_the_grid_keyboard_has_upscale_and_variation_for_each_candidate():
    markup = keyboards.grid_actions("u42", "en")
    rows = markup["inline_keyboard"]
    assert [b["text"] for b in rows[0]] == ["⬆1", "⬆2", "⬆3", "⬆4"]
    assert [b["text"] for b in rows[1]] == ["🔀1", "🔀2", "🔀3", "🔀4"]
    assert [b["callback_data"] for b in rows[0] + rows[1]] == [
        *(f"up:{n}:u42" for n in range(1, 5)),
        *(f"vary:{n}:u42" for n in range(1, 5)),
    ]
    assert [b["callback_data"] for b in rows[2]] == ["again:u42", "file:u42"]


def test_a_flagged_candidate_gets_no_buttons():
    data = [b["callback_data"] for b in buttons(keyboards.grid_actions("u42", "en", flagged=(2, 4)))]
    assert "up:2:u42" not in data and "vary:4:u42" not in data
    assert {"up:1:u42", "up:3:u42", "vary:1:u42", "vary:3:u42"} <= set(data)


def test_every_new_callback_fits_telegrams_64_bytes_and_parses_back():
    longest_job = "u" + "9" * 39
    set_job = f"u{'9' * 19}-realistic"
    markups = [
        keyboards.grid_actions(longest_job, "ru"),
        keyboards.photo_actions(longest_job, "pixel", "ru"),
        keyboards.settings_menu(None, "square", "ru", candidates=4),
        keyboards.set_actions([(set_job, "realistic")], [(longest_job, "pixel", True)], "ru"),
    ]
    for button in (b for markup in markups for b in buttons(markup)):
        assert len(button["callback_data"].encode()) <= 64
        assert keyboards.parse(button["callback_data"]) is not None, button
    assert keyboards.parse("up:5:u1") is None and keyboards.parse("vary:0:u1") is None
    assert keyboards.parse("count:2") is None


def test_the_set_keyboard_has_a_row_per_style_and_a_new_try_for_a_closed_one():
    markup = keyboards.set_actions(
        [("s-ghibli", "ghibli"), ("s-realistic", "realistic")], [("s-pixel", "pixel", True)], "en"
    )
    rows = [[b["callback_data"] for b in row] for row in markup["inline_keyboard"]]
    assert rows == [
        ["again:s-ghibli", "grid:s-ghibli", "file:s-ghibli"],
        ["again:s-realistic", "grid:s-realistic", "file:s-realistic"],
        ["again:s-pixel"],  # flagged: a new seed
    ]
    failed = keyboards.set_actions([], [("s-pixel", "pixel", False)], "en")
    assert buttons(failed)[0]["callback_data"] == "retry:s-pixel"  # failed: the same seed again


@pytest.mark.parametrize("language", list(texts.CATALOGUE))
def test_the_new_texts_exist_in_every_language(language):
    for key in texts.CATALOGUE["en"]:
        assert key in texts.CATALOGUE[language]
    assert "2" in texts.render(language, "help_more", grid_cost=quota.GRID_COST, set_cost=quota.SET_COST)
