"""Debian's chromium, driven by playwright-core (node) for the static site's tests, with the
site served by Python's http.server on 127.0.0.1. Real browser, real WebAuthn (Chromium's
virtual authenticator over CDP), real files; nothing mocked."""

from __future__ import annotations

import functools
import http.server
import json
import os
import select
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

DRIVER = Path(__file__).with_name("browser_driver.js")
CHROMIUM = "/usr/bin/chromium"
PLAYWRIGHT_CORE_VERSION = "1.65.2"  # as .ci/setup/browser.sh installs it
ANSWER_TIMEOUT_S = 120  # a guard against a hung browser, not a measurement


def playwright_core() -> Path:
    found = os.environ.get("SOP_PLAYWRIGHT_CORE")
    if found:
        return Path(found)
    cache = Path(os.environ.get("SOP_CACHE", "/var/cache/sop-pipeline"))
    return cache / f"playwright-core-{PLAYWRIGHT_CORE_VERSION}" / "node_modules" / "playwright-core"


def require_browser_tools() -> None:
    """chromium, node and playwright-core: CI fails without them, a laptop skips."""
    missing = [t for t in ("node",) if shutil.which(t) is None]
    if not Path(CHROMIUM).is_file():
        missing.append(CHROMIUM)
    if not (playwright_core() / "package.json").is_file():
        missing.append(str(playwright_core()))
    if missing:
        message = f"missing {', '.join(missing)}: run .ci/setup/browser.sh as root"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


class BrowserError(RuntimeError):
    pass


class Browser:
    """One chromium with one virtual authenticator; commands of browser_driver.js."""

    def __init__(self, workdir: Path) -> None:
        profile = workdir / "profile"
        self.downloads = workdir / "downloads"
        profile.mkdir(parents=True)
        self.downloads.mkdir(parents=True)
        env = {**os.environ, "SOP_PLAYWRIGHT_CORE": str(playwright_core())}
        self._proc = subprocess.Popen(
            ["node", str(DRIVER), str(profile), str(self.downloads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
            env=env,
            text=True,
        )
        self.started = self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], ANSWER_TIMEOUT_S)
        if not ready:
            raise BrowserError("the browser driver did not answer")
        line = self._proc.stdout.readline()
        if not line:
            raise BrowserError(f"the browser driver ended (exit {self._proc.wait()})")
        answer: dict[str, Any] = json.loads(line)
        if not answer.get("ok"):
            raise BrowserError(answer.get("error", "unknown error"))
        return answer

    def __call__(self, cmd: str, **args: Any) -> dict[str, Any]:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self._proc.stdin.flush()
        return self._answer()

    def close(self) -> None:
        if self._proc.poll() is None:
            with suppress(BrowserError, BrokenPipeError):
                self("close")
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


@contextmanager
def browser(workdir: Path) -> Iterator[Browser]:
    b = Browser(workdir)
    try:
        yield b
    finally:
        b.close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(directory: Path) -> Iterator[int]:
    """``directory`` over HTTP on 127.0.0.1 (an ephemeral port), for as long as the block."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
