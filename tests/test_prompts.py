"""prompts/*.yaml load, validate and render."""

from __future__ import annotations

import string
from pathlib import Path

import pytest

import prompts
from prompts import PromptError, load_messages, prompt_sets, render
from prompts.prompt_sets import MIN_PROMPTS, load_prompt_sets


def test_every_message_renders_with_its_placeholders() -> None:
    for name, template in load_messages().items():
        fields = {field for _, field, _, _ in string.Formatter().parse(template) if field}
        rendered = render(name, **{field: f"<{field}>" for field in fields})
        assert rendered.strip() and "{" not in rendered.replace("{{", ""), name


def test_a_missing_value_is_an_error_not_a_blank() -> None:
    with pytest.raises(KeyError):
        render("til_posted")


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("til_usage: [not, text]\n", "'til_usage' must map to a non-empty text"),
        ("broken: 'open {brace'\n", "broken placeholder"),
        ("odd: 'hello {0}'\n", "invalid placeholder"),
        ("- a list\n", "must be a mapping"),
        ("key: [unclosed\n", "not valid YAML"),
    ],
)
def test_a_bad_prompt_file_is_named_with_its_field(
    content: str, complaint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bad.yaml").write_text(content)
    monkeypatch.setattr(prompts, "PROMPTS_DIR", tmp_path)
    load_messages.cache_clear()
    try:
        with pytest.raises(PromptError, match=r"bad\.yaml") as error:
            load_messages()
        assert complaint in str(error.value)
    finally:
        load_messages.cache_clear()


def test_the_built_in_reflection_sets_are_there_with_enough_distinct_prompts() -> None:
    sets = load_prompt_sets()
    assert {"weekly-retro", "learning-log", "onboarding-week-1", "team-health"} <= set(sets)
    for prompt_set in sets.values():
        assert len(set(prompt_set.prompts)) >= MIN_PROMPTS, prompt_set.name
        assert all(prompt.endswith(("?", ".")) for prompt in prompt_set.prompts), prompt_set.name


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("name: bad\ntitle: T\ndescription: D\nprompts: [a, b]\n", "at least 8 prompts"),
        ("name: other\ntitle: T\ndescription: D\nprompts: []\n", "match the file name"),
        ("name: bad\ntitle: ''\ndescription: D\nprompts: []\n", "'title' must be"),
        (
            "name: bad\ntitle: T\ndescription: D\nprompts: [a, a, b, c, d, e, f, g]\n",
            "the same prompt twice",
        ),
        ("name: bad\ntitle: T\ndescription: D\nprompts: [a, b, c, d, e, f, g, 7]\n", "item 8"),
    ],
)
def test_a_bad_prompt_set_is_named_with_its_field(
    content: str, complaint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bad.yaml").write_text(content)
    monkeypatch.setattr(prompt_sets, "SETS_DIR", tmp_path)
    load_prompt_sets.cache_clear()
    try:
        with pytest.raises(PromptError, match=r"bad\.yaml") as error:
            load_prompt_sets()
        assert complaint in str(error.value)
    finally:
        load_prompt_sets.cache_clear()
