"""The sandbox page in Debian's Firefox ESR too: the same page, no Chromium-only features.

CI sets LEARNLOOP_REQUIRE_BROWSER=1, so a browser that cannot be installed or launched fails
there instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import running_sandbox
from tests.firefox import FirefoxTab, firefox_tab, install_firefox

pytestmark = pytest.mark.timeout(900)

TEXT_OF_MESSAGES = "[...document.querySelectorAll('#messages > li')].map(li => li.textContent)"


@pytest.fixture
def tab(tmp_path: Path) -> Iterator[tuple[FirefoxTab, str]]:
    reason = install_firefox()
    if reason is None:
        try:
            with (
                running_sandbox(f"sqlite:///{tmp_path / 'sandbox.db'}", tmp_path) as started,
                firefox_tab() as opened,
            ):
                yield opened, started.address
            return
        except RuntimeError as error:
            reason = f"Firefox did not start: {error}"
    if os.environ.get("LEARNLOOP_REQUIRE_BROWSER") == "1":
        pytest.fail(f"a browser is required here: {reason}")
    pytest.skip(reason)


def test_in_firefox_a_til_gets_its_books_reaction_and_the_home_tab_shows_the_week(
    tab: tuple[FirefoxTab, str],
) -> None:
    firefox, address = tab
    firefox.goto(address)
    firefox.wait_for(
        "document.getElementById('title').textContent.includes('general')",
        what="the page to open #general",
    )
    firefox.evaluate(
        "(() => { const box = document.getElementById('composer-text');"
        " box.value = 'TIL: Firefox runs the sandbox too #browsers';"
        " document.getElementById('composer').requestSubmit(); return true; })()"
    )
    firefox.wait_for(
        f"{TEXT_OF_MESSAGES}.some(t => t.includes('Firefox runs the sandbox')"
        " && t.includes(':books:'))",
        what="the TIL with LearnLoop's :books: reaction",
    )
    firefox.evaluate("document.getElementById('open-home').click() || true")
    firefox.wait_for(
        "document.getElementById('home').textContent.includes('Your week in LearnLoop')",
        what="the App Home",
    )
    assert "This week you posted 1 TIL" in firefox.evaluate(
        "document.getElementById('home').textContent"
    )
