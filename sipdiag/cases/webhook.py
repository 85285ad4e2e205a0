"""Delivery of filings and verifications to a ticket system: an HTTP POST of JSON, retried with back-off.

A delivery that still fails is kept in the store as pending (never lost) and re-sent by `sipdiag case notify
--pending`. Only 2xx counts as delivered; 4xx other than 408/429 is not retried (the payload will not become
acceptable by waiting), 5xx, 408, 429 and network errors are.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..errors import UsageError
from ..reports.safe import printable

ATTEMPTS = 4
BACKOFF_S = (0.5, 1.0, 2.0)  # waits between attempts (doubling)
TIMEOUT_S = 10
RETRYABLE_STATUS = (408, 429)


@dataclass(frozen=True, slots=True)
class Delivery:
    delivered: bool
    attempts: int
    error: str | None  # the last failure, one line


def check_url(url: str) -> str:
    """A ticket system's address: http or https with a host, nothing a request line cannot carry. Checked before
    anything is filed: a bad --notify used to fail after the filing was written, so the notification was never
    sent, and its pending row broke every later 'case notify --pending'."""
    try:
        parts = urllib.parse.urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and printable(url) == url and " " not in url
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        ok = False
    if not ok:
        raise UsageError(f"--notify needs an http:// or https:// address, not {url[:80]!r}",
                         hint="e.g. --notify https://tickets.example.com/hooks/sipdiag")
    return url


def post(url: str, payload: dict[str, Any], *, attempts: int = ATTEMPTS,
         backoff: tuple[float, ...] = BACKOFF_S) -> Delivery:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    error = None
    for attempt in range(1, attempts + 1):
        retry = True
        try:
            request = urllib.request.Request(url, data=body, method="POST", headers={
                "Content-Type": "application/json; charset=utf-8", "User-Agent": f"sipdiag/{__version__}",
                "X-Sipdiag-Event": str(payload.get("event", ""))})
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                status = getattr(response, "status", None)  # None from a file: or data: URL (no HTTP at all)
                if status is not None and 200 <= status < 300:
                    return Delivery(True, attempt, None)
                error = f"HTTP {status}" if status is not None else "not an HTTP response"
                retry = status is not None
        except urllib.error.HTTPError as e:
            # the reason phrase is the server's text: shown escaped (it reaches terminals and the store)
            error = f"HTTP {e.code} {printable(str(e.reason))[:200]}"
            retry = e.code >= 500 or e.code in RETRYABLE_STATUS
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as e:
            error = printable(f"{type(e).__name__}: {getattr(e, 'reason', e)}")[:300]
        if not retry:
            return Delivery(False, attempt, error)
        if attempt < attempts:
            time.sleep(backoff[min(attempt - 1, len(backoff) - 1)] if backoff else 0)
    return Delivery(False, attempts, error)
