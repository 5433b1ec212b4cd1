"""User-facing texts as data (prompts/*.yaml), validated when loaded.

Each file maps a name to a template using {placeholders}; a file or field that is wrong is
named in the error, so a bad edit stops start-up instead of surfacing in Slack.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path
from typing import Any

import yaml

PROMPTS_DIR = Path(__file__).parent


class PromptError(ValueError):
    """A prompt file is malformed; the message names the file and the field."""


@cache
def load_messages() -> dict[str, str]:
    """Every template from every prompts/*.yaml, keyed by name; names are unique across files."""
    messages: dict[str, str] = {}
    for path in sorted(PROMPTS_DIR.glob("*.yaml")):
        data = _read(path)
        for name, template in data.items():
            if not isinstance(name, str) or not isinstance(template, str) or not template.strip():
                raise PromptError(f"{path.name}: {name!r} must map to a non-empty text")
            if name in messages:
                raise PromptError(f"{path.name}: {name!r} is defined twice")
            _check_placeholders(path.name, name, template)
            messages[name] = template.strip()
    return messages


def render(name: str, **values: Any) -> str:
    """The named template filled with values; a missing value is an error, not a blank."""
    template = load_messages()[name]
    return template.format(**values)


def _read(path: Path) -> dict[Any, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise PromptError(f"{path.name}: not valid YAML ({error})") from None
    if not isinstance(data, dict):
        raise PromptError(f"{path.name}: must be a mapping of names to texts")
    return data


def _check_placeholders(file_name: str, name: str, template: str) -> None:
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(template) if field]
    except ValueError as error:
        raise PromptError(f"{file_name}: {name!r} has a broken placeholder ({error})") from None
    for field in fields:
        if not field.isidentifier():
            raise PromptError(f"{file_name}: {name!r} has an invalid placeholder {{{field}}}")
