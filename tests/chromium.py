"""Open a page in Debian's headless Chromium and read what a user would see, over the DevTools protocol.

The protocol runs over a pipe (`--remote-debugging-pipe`: Chromium reads commands on fd 3 and writes replies and
events on fd 4, each a JSON message ended by NUL), so no port is opened and no client library is needed.
Collected while the page loads: console calls, uncaught exceptions, log entries (Chromium reports Content-Security-
Policy refusals there) and every network request. Then one expression is evaluated in the page and, optionally,
a screenshot is taken.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe")
TIMEOUT_S = 60.0


def chromium_path() -> str | None:
    return shutil.which("chromium")


@dataclass
class PageReport:
    console: list[dict[str, Any]] = field(default_factory=list)  # Runtime.consoleAPICalled params
    exceptions: list[dict[str, Any]] = field(default_factory=list)  # Runtime.exceptionThrown params
    log: list[dict[str, Any]] = field(default_factory=list)  # Log.entryAdded entries
    requests: list[str] = field(default_factory=list)  # URLs of Network.requestWillBeSent
    dialogs: list[str] = field(default_factory=list)  # alert/confirm/prompt messages (Page.javascriptDialogOpening)
    value: Any = None  # what the expression returned
    screenshot: bytes | None = None  # PNG

    @property
    def errors(self) -> list[str]:
        """Everything that counts as a console error: console.error/assert, exceptions, error/warning log entries."""
        out = [f"console.{c['type']}: {c.get('args')}" for c in self.console if c["type"] in ("error", "assert",
                                                                                            "warning")]
        out += [f"exception: {e['exceptionDetails'].get('text')}" for e in self.exceptions]
        out += [f"log {e['level']} ({e.get('source')}): {e['text']}" for e in self.log
                if e["level"] in ("error", "warning")]
        return out


class _Pipe:
    def __init__(self, proc: subprocess.Popen, write_fd: int, read_fd: int) -> None:
        self.proc, self.write_fd, self.read_fd = proc, write_fd, read_fd
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str) -> dict[str, Any]:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self._read()
            if event.get("method") == method:
                return event
            self.events.append(event)

    def drain(self, seconds: float) -> None:
        """Read the events that arrive within `seconds` (late console messages)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if b"\0" not in self.buffer and not select.select([self.read_fd], [], [], end - time.monotonic())[0]:
                return
            self.events.append(self._read())

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_S
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.read_fd], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer over the DevTools pipe")
            chunk = os.read(self.read_fd, 1 << 16)
            if not chunk:
                raise RuntimeError(f"Chromium closed the DevTools pipe (exit {self.proc.poll()})")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)


def _high(fd: int) -> int:
    """`fd` moved to 10 or above, so that the redirections to 3 and 4 below cannot overwrite one another."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


def open_page(path: Path, expression: str, *, screenshot_of: str | None = None,
              window: tuple[int, int] = (1280, 1000)) -> PageReport:
    """Load `path` in headless Chromium, evaluate `expression` (its value returned by value) and, with
    `screenshot_of` (a CSS selector), take a PNG of that element's box."""
    exe = chromium_path()
    if exe is None:
        raise FileNotFoundError("chromium")
    to_chrome_r, to_chrome_w = (_high(fd) for fd in os.pipe())
    from_chrome_r, from_chrome_w = (_high(fd) for fd in os.pipe())
    with tempfile.TemporaryDirectory(prefix="sipdiag-chromium-") as profile:
        # bash (dash takes single-digit descriptors only) puts our pipe ends on the descriptors Chromium expects
        # (3: commands in, 4: messages out).
        command = (f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w} {to_chrome_r}<&- {from_chrome_w}>&-')
        proc = subprocess.Popen(
            ["bash", "-c", command, exe, *FLAGS, f"--user-data-dir={profile}",
             f"--window-size={window[0]},{window[1]}", "about:blank"],
            pass_fds=(to_chrome_r, from_chrome_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        pipe = _Pipe(proc, to_chrome_w, from_chrome_r)
        report = PageReport()
        try:
            target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Network", "Page"):
                pipe.send(f"{domain}.enable", session=session)
            pipe.events.clear()  # about:blank's own events
            pipe.send("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
            pipe.wait_event("Page.loadEventFired")
            pipe.drain(0.5)
            result = pipe.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                               session=session)
            if "exceptionDetails" in result:
                raise RuntimeError(f"expression failed: {result['exceptionDetails']}")
            report.value = result["result"].get("value")
            if screenshot_of is not None:
                box = pipe.send("Runtime.evaluate", {"expression": (
                    f"(() => {{ const e = document.querySelector({json.dumps(screenshot_of)}); e.scrollIntoView();"
                    " const r = e.getBoundingClientRect();"
                    " return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height}; })()"),
                    "returnByValue": True}, session=session)["result"]["value"]
                shot = pipe.send("Page.captureScreenshot", {"format": "png", "clip": {**box, "scale": 1},
                                                            "captureBeyondViewport": False}, session=session)
                report.screenshot = base64.b64decode(shot["data"])
            for event in pipe.events:
                params = event.get("params", {})
                if event.get("method") == "Runtime.consoleAPICalled":
                    report.console.append(params)
                elif event.get("method") == "Runtime.exceptionThrown":
                    report.exceptions.append(params)
                elif event.get("method") == "Log.entryAdded":
                    report.log.append(params["entry"])
                elif event.get("method") == "Network.requestWillBeSent":
                    report.requests.append(params["request"]["url"])
                elif event.get("method") == "Page.javascriptDialogOpening":
                    report.dialogs.append(params.get("message", ""))
            try:
                pipe.send("Browser.close")
            except (RuntimeError, TimeoutError):
                pass
        finally:
            os.close(to_chrome_w)
            os.close(from_chrome_r)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return report
