"""Debian's Firefox ESR driven over WebDriver BiDi, the W3C protocol Firefox serves itself.

Playwright drives only its own patched Firefox, which cannot be downloaded here, and Debian
packages no geckodriver; Firefox's built-in BiDi server needs neither. This is the little of
the protocol the sandbox's Firefox test needs: open a page, run a script, read its value.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

FIREFOX = Path("/usr/bin/firefox-esr")
_LISTENING = re.compile(r"WebDriver BiDi listening on (ws://\S+)")
START_SECONDS = 60


def install_firefox() -> str | None:
    """Install Debian's firefox-esr when it is missing; the reason it cannot be had, or None."""
    if FIREFOX.exists():
        return None
    if not shutil.which("apt-get") or os.geteuid() != 0:
        return f"{FIREFOX} is missing and only root can install it: apt-get install firefox-esr"
    environ = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "firefox-esr"],
    ):
        done = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            return f"{' '.join(command)} failed: {(done.stderr or done.stdout)[-500:]}"
    return None if FIREFOX.exists() else f"apt-get installed firefox-esr, but not at {FIREFOX}"


class FirefoxTab:
    """One tab of a headless Firefox, by BiDi commands."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self.command("session.new", capabilities={})
        tree = self.command("browsingContext.getTree")
        self._context = tree["contexts"][0]["context"]

    def command(self, method: str, **params: Any) -> Any:
        number = next(self._ids)
        self._socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            answer = json.loads(self._socket.recv(timeout=30))
            if answer.get("id") != number:
                continue  # an event
            if answer.get("type") == "error":
                raise RuntimeError(f"{method}: {answer.get('error')}: {answer.get('message')}")
            return answer["result"]

    def goto(self, url: str) -> None:
        self.command("browsingContext.navigate", context=self._context, url=url, wait="complete")

    def evaluate(self, expression: str) -> Any:
        """The value of a page expression (awaited if a promise), as JSON-like Python."""
        result = self.command(
            "script.evaluate",
            expression=f"JSON.stringify(({expression}))",
            target={"context": self._context},
            awaitPromise=True,
        )
        if result.get("type") == "exception":
            raise RuntimeError(result["exceptionDetails"].get("text"))
        value = result["result"].get("value")
        return None if value is None else json.loads(value)

    def wait_for(self, expression: str, *, timeout: float = 10, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while not (value := self.evaluate(expression)):
            if time.monotonic() > deadline:
                raise AssertionError(f"Firefox: timed out after {timeout}s waiting for {what}")
            time.sleep(0.1)
        return value


@contextmanager
def firefox_tab() -> Iterator[FirefoxTab]:
    """Headless firefox-esr with a throwaway profile, and its first tab."""
    with tempfile.TemporaryDirectory(prefix="learnloop-firefox-") as profile:
        process = subprocess.Popen(
            [str(FIREFOX), "--headless", "--remote-debugging-port=0", "--profile", profile],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ | {"MOZ_CRASHREPORTER_DISABLE": "1"},
        )
        try:
            assert process.stderr is not None
            deadline = time.monotonic() + START_SECONDS
            address = None
            while address is None and time.monotonic() < deadline:
                line = process.stderr.readline()
                if not line:
                    raise RuntimeError(f"firefox-esr exited with {process.wait()}")
                if match := _LISTENING.search(line):
                    address = match.group(1)
            if address is None:
                raise RuntimeError("firefox-esr never said where its BiDi server listens")
            with connect(f"{address}/session", max_size=None) as socket:
                yield FirefoxTab(socket)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
