import inspect

import pytest
from imagebot.core import keyboards, registry, texts
from imagebot.core.registry import AnsweredBy


@pytest.mark.parametrize("declared", registry.COMMANDS, ids=lambda c: c.name)
def test_every_command_has_its_handler_and_menu_texts(declared):
    handler = registry.handler(declared.handler)
    # webhook handlers build the reply from (command, settings, language); worker ones act
    expected = 3 if declared.answered_by is AnsweredBy.WEBHOOK else 2
    assert len(inspect.signature(handler).parameters) == expected
    for language in texts.CATALOGUE:
        assert not declared.in_menu or texts.render(language, f"cmd_{declared.name}")


@pytest.mark.parametrize("declared", registry.ACTIONS, ids=lambda a: a.name)
def test_every_button_has_its_handler_and_a_toast_in_each_language(declared):
    handler = registry.handler(declared.handler)
    # requester-only handlers are handed the job the button names
    assert len(inspect.signature(handler).parameters) == (3 if declared.requester_only else 2)
    assert declared.args[-1] is None or not declared.requester_only
    sample = tuple("u1" if allowed is None else allowed[0] for allowed in declared.args)
    assert keyboards.parse(keyboards.encode(declared.name, *sample)) == keyboards.Callback(
        declared.name, sample
    )
    for language in texts.CATALOGUE:
        assert declared.toast(language, sample).strip()


def test_names_are_declared_once():
    assert len({c.name for c in registry.COMMANDS}) == len(registry.COMMANDS)
    assert len({a.name for a in registry.ACTIONS}) == len(registry.ACTIONS)


def test_the_buttons_of_a_job_only_work_for_the_requester():
    # under a photo, under a failure, the style question, under a grid (issue 16), the status (cancel)
    job_buttons = {
        "style",
        "again",
        "other",
        "same",
        "file",
        "drawn",
        "retry",
        "grid",
        "all",
        "up",
        "vary",
        "cancel",
    }
    assert {a.name for a in registry.ACTIONS if a.requester_only} == job_buttons
