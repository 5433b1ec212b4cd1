"""The sandbox page in Debian's Chromium: what a person does there reaches the real app.

CI sets LEARNLOOP_REQUIRE_BROWSER=1, so a browser that cannot be installed or launched fails
there instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Error, expect

from tests.browser import SandboxPage, chromium, install_chromium, running_sandbox

# The first test may wait for apt-get to install Chromium.
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = install_chromium()
    if reason is None:
        try:
            with chromium() as launched:
                yield launched
            return
        except Error as error:
            reason = f"Chromium did not start: {error}"
    if os.environ.get("LEARNLOOP_REQUIRE_BROWSER") == "1":
        pytest.fail(f"a browser is required here: {reason}")
    pytest.skip(reason)


@pytest.fixture
def sandbox(browser: Browser, tmp_path: Path) -> Iterator[SandboxPage]:
    """A fresh `learnloop sandbox` (its own SQLite file) in a fresh browser page."""
    with running_sandbox(f"sqlite:///{tmp_path / 'sandbox.db'}", tmp_path) as started:
        context = browser.new_context()
        try:
            yield SandboxPage(context.new_page(), started.address)
        finally:
            context.close()


def test_a_til_posted_on_the_page_gets_the_books_reaction(sandbox: SandboxPage) -> None:
    sandbox.send("TIL: `git worktree` checks out a second branch #git")
    expect(sandbox.message("#general", "git worktree").locator("code")).to_have_text("git worktree")
    expect(sandbox.reaction("#general", "git worktree", "books")).to_be_visible()


def test_ask_reaches_the_experts_dm_where_ill_take_it_is_clicked(sandbox: SandboxPage) -> None:
    sandbox.act_as("Bob Brown")
    sandbox.send("/expert add #postgres")
    expect(sandbox.message("#general", "Added")).to_contain_text("only visible to you")
    sandbox.act_as("Alice Andersen")
    sandbox.send("/ask Which of our queries are slow? #postgres")
    expect(sandbox.message("#general", "Question from")).to_contain_text("Alice Andersen")

    sandbox.act_as("Bob Brown")
    sandbox.open("Messages")
    request = sandbox.message("LearnLoop · Messages", "has a question")
    expect(request).to_contain_text("Which of our queries are slow?")
    request.get_by_role("button", name="I'll take it").click()
    expect(sandbox.message("LearnLoop · Messages", "You're on it")).to_be_visible()

    sandbox.open("# general")
    question = sandbox.message("#general", "Question from")
    question.get_by_role("button", name="1 reply").click()
    expect(sandbox.log("Thread")).to_contain_text("Bob Brown is on it.")


def test_app_home_shows_the_persons_week(sandbox: SandboxPage) -> None:
    sandbox.send("TIL: the App Home is a view the app publishes #slack")
    expect(sandbox.reaction("#general", "App Home", "books")).to_be_visible()
    sandbox.open("Home")
    home = sandbox.page.get_by_role("region", name="LearnLoop · Home")
    expect(home).to_contain_text("Your week in LearnLoop")
    expect(home).to_contain_text("This week you posted 1 TIL")


def test_reactions_threads_and_the_save_as_til_shortcut(sandbox: SandboxPage) -> None:
    sandbox.send("pytest's tmp_path gives every test its own folder")
    tip = sandbox.message("#general", "tmp_path")
    tip.hover()
    tip.get_by_role("button", name="More actions").click()
    sandbox.page.get_by_role("menuitem", name="Save as TIL").click()
    expect(sandbox.message("#general", "Saved as a TIL")).to_contain_text("only visible to you")
    expect(sandbox.reaction("#general", "tmp_path", "books")).to_be_visible()

    sandbox.act_as("Carol Tanaka")
    tip.hover()
    tip.get_by_role("button", name="Add reaction").click()
    sandbox.page.get_by_role("menuitem", name=":bulb:").click()
    expect(sandbox.reaction("#general", "tmp_path", "bulb")).to_have_attribute(
        "aria-pressed", "true"
    )
    tip.get_by_role("button", name="Reply in thread").click()
    reply = sandbox.page.get_by_role("textbox", name="Reply in the thread")
    reply.fill("and tmp_path_factory for a whole session")
    reply.press("Enter")
    expect(sandbox.log("Thread").get_by_role("listitem")).to_have_count(2)
    expect(tip.get_by_role("button", name="1 reply")).to_be_visible()
