"""Reflection prompt sets: prompts/sets/<name>.yaml, validated when loaded."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from prompts import PromptError

SETS_DIR = Path(__file__).parent / "sets"
MIN_PROMPTS = 8
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")


@dataclass(frozen=True)
class PromptSet:
    name: str
    title: str
    description: str
    prompts: tuple[str, ...]


@cache
def load_prompt_sets() -> dict[str, PromptSet]:
    """Every built-in set by name; a bad file stops start-up, naming the file and field."""
    sets = {}
    for path in sorted(SETS_DIR.glob("*.yaml")):
        prompt_set = _parse(path)
        sets[prompt_set.name] = prompt_set
    return sets


def _parse(path: Path) -> PromptSet:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise PromptError(f"{path.name}: not valid YAML ({error})") from None
    if not isinstance(data, dict):
        raise PromptError(f"{path.name}: must be a mapping with name, title, description, prompts")
    for field in ("name", "title", "description"):
        if not isinstance(data.get(field), str) or not data[field].strip():
            raise PromptError(f"{path.name}: '{field}' must be a non-empty text")
    if not _NAME.match(data["name"]) or data["name"] != path.stem:
        raise PromptError(
            f"{path.name}: 'name' must be lower-case words joined by '-' and match the file name"
        )
    prompts = data.get("prompts")
    if not isinstance(prompts, list) or len(prompts) < MIN_PROMPTS:
        raise PromptError(f"{path.name}: 'prompts' must list at least {MIN_PROMPTS} prompts")
    for index, prompt in enumerate(prompts):
        if not isinstance(prompt, str) or not prompt.strip():
            raise PromptError(f"{path.name}: 'prompts' item {index + 1} must be a non-empty text")
    if len(set(prompts)) != len(prompts):
        raise PromptError(f"{path.name}: 'prompts' has the same prompt twice")
    return PromptSet(
        name=data["name"],
        title=data["title"].strip(),
        description=data["description"].strip(),
        prompts=tuple(prompt.strip() for prompt in prompts),
    )
