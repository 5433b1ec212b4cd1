"""Debian's Chromium driven by Playwright, and a real `learnloop sandbox` to point it at.

Shared by the browser tests and the README's screenshot (``python -m tests.browser PATH``).
Playwright's own browser downloads are never used: Chromium comes from Debian's packages.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from bot.sandbox import CONNECT_A_WORKSPACE

CHROMIUM = Path("/usr/bin/chromium")
# As root Chromium needs --no-sandbox; the rest keeps it off a network this machine lacks.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SANDBOX_START_SECONDS = 30
LEARNLOOP_SANDBOX = (sys.executable, "-m", "bot", "sandbox")


@dataclass(frozen=True)
class Started:
    address: str
    lines: list[str]
    """What the sandbox printed on starting."""


_ADDRESS = re.compile(r"LearnLoop sandbox: open (http://127\.0\.0\.1:\d+/)")


def install_chromium() -> str | None:
    """Install Debian's chromium when it is missing; the reason it cannot be had, or None."""
    if CHROMIUM.exists():
        return None
    if not shutil.which("apt-get") or os.geteuid() != 0:
        return f"{CHROMIUM} is missing and only root can install it: apt-get install chromium"
    environ = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            return f"{' '.join(command)} failed: {(done.stderr or done.stdout)[-500:]}"
    return None if CHROMIUM.exists() else f"apt-get installed chromium, but not at {CHROMIUM}"


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium from /usr/bin/chromium (install_chromium first)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def running_sandbox(
    database_url: str, cwd: Path, command: Sequence[str] = LEARNLOOP_SANDBOX
) -> Iterator[Started]:
    """The sandbox started as a person starts it (`learnloop sandbox`, or `make run`), on any
    free port, without Slack credentials; stopped with SIGTERM, its process group and all."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MAKE"))}
    process = subprocess.Popen(
        command,
        env=environ | {"DATABASE_URL": database_url, "PORT": "0", "LOG_LEVEL": "WARNING"},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not lines or CONNECT_A_WORKSPACE not in lines[-1]:
            line = process.stdout.readline()
            if not line:
                _, errors = process.communicate(timeout=SANDBOX_START_SECONDS)
                raise AssertionError(f"the sandbox stopped before it was ready: {lines} {errors}")
            lines.append(line.rstrip("\n"))
        address = next(m.group(1) for m in map(_ADDRESS.search, lines) if m)
        yield Started(address, lines)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=SANDBOX_START_SECONDS)


class SandboxPage:
    """The sandbox page as a person uses it: by labels, roles and visible text."""

    def __init__(self, page: Page, address: str) -> None:
        self.page = page
        page.set_default_timeout(10_000)
        page.goto(address)
        expect(self.log("#general")).to_be_visible()

    def act_as(self, person: str) -> None:
        """Switch the acting user by their display name (``Bob Brown``)."""
        select = self.page.get_by_label("Acting as")
        option = select.locator("option", has_text=person)
        select.select_option(value=option.get_attribute("value"))

    def open(self, conversation: str) -> None:
        """Open a channel (``# general``) or the app's ``Home`` or ``Messages``."""
        sidebar = self.page.get_by_role("navigation", name="Conversations")
        sidebar.get_by_role("button", name=re.compile(re.escape(conversation))).click()

    def send(self, text: str) -> None:
        box = self.page.get_by_role("textbox", name=re.compile(r"^Message"))
        box.fill(text)
        box.press("Enter")
        expect(box).to_have_value("")

    def log(self, title: str) -> Locator:
        return self.page.get_by_role("log", name=title)

    def message(self, title: str, text: str) -> Locator:
        """The message of the conversation ``title`` that contains ``text``."""
        return self.log(title).get_by_role("listitem").filter(has_text=text)

    def reaction(self, title: str, text: str, emoji: str) -> Locator:
        """The :emoji: reaction under that message."""
        group = self.message(title, text).get_by_role("group", name="Reactions")
        return group.get_by_role("button", name=re.compile(f"^:{re.escape(emoji)}: "))


def take_screenshot(path: Path) -> None:
    """A short team conversation in the sandbox, photographed for the README."""
    reason = install_chromium()
    if reason:
        raise SystemExit(reason)
    with (
        tempfile.TemporaryDirectory(prefix="learnloop-screenshot-") as scratch,
        running_sandbox(f"sqlite:///{Path(scratch) / 'shot.db'}", Path(scratch)) as started,
        chromium() as browser,
    ):
        page = browser.new_page(viewport={"width": 1280, "height": 760})
        sandbox = SandboxPage(page, started.address)
        sandbox.act_as("Bob Brown")
        sandbox.send("/expert add #postgres")
        sandbox.act_as("Alice Andersen")
        sandbox.send("TIL: `git worktree add ../hotfix main` checks out a second branch #git")
        expect(sandbox.reaction("#general", "git worktree", "books")).to_be_visible()
        sandbox.send("/ask Which of our queries are slow? #postgres")
        sandbox.act_as("Bob Brown")
        question = sandbox.message("#general", "Question from")
        question.get_by_role("button", name="Reply in thread").click()
        reply = page.get_by_role("textbox", name="Reply in the thread")
        reply.fill("Turn on pg_stat_statements and sort by total_exec_time")
        reply.press("Enter")
        expect(sandbox.log("Thread").get_by_role("listitem")).to_have_count(2)
        page.mouse.move(0, 0)
        page.screenshot(path=str(path))


if __name__ == "__main__":
    take_screenshot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/sandbox.png"))
