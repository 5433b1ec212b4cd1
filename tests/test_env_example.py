""".env.example documents every variable the app reads, and only those."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_env_example_lists_every_setting_read_from_the_environment() -> None:
    source = "\n".join(
        path.read_text() for path in [ROOT / "bot" / "settings.py", ROOT / "bot" / "cli.py"]
    )
    read = set(re.findall(r'"((?:SLACK|DATABASE|LEARNLOOP|LOG|PORT)[A-Z_]*)"', source))
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read == documented, f"undocumented: {read - documented}, stale: {documented - read}"
