"""Delivery of filings and verifications to a ticket system: an HTTP POST of JSON, retried with back-off.

A delivery that still fails is kept in the store as pending (never lost) and re-sent by `sipdiag case notify
--pending`. Only 2xx counts as delivered; 4xx other than 408/429 is not retried (the payload will not become
acceptable by waiting), 5xx, 408, 429 and network errors are.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from .. import __version__

ATTEMPTS = 4
BACKOFF_S = (0.5, 1.0, 2.0)  # waits between attempts (doubling)
TIMEOUT_S = 10
RETRYABLE_STATUS = (408, 429)


@dataclass(frozen=True, slots=True)
class Delivery:
    delivered: bool
    attempts: int
    error: str | None  # the last failure, one line


def post(url: str, payload: dict[str, Any], *, attempts: int = ATTEMPTS,
         backoff: tuple[float, ...] = BACKOFF_S) -> Delivery:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    error = None
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": f"sipdiag/{__version__}",
            "X-Sipdiag-Event": str(payload.get("event", ""))})
        retry = True
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                if 200 <= response.status < 300:
                    return Delivery(True, attempt, None)
                error = f"HTTP {response.status}"
        except urllib.error.HTTPError as e:
            error = f"HTTP {e.code} {e.reason}"
            retry = e.code >= 500 or e.code in RETRYABLE_STATUS
        except (urllib.error.URLError, OSError, ValueError) as e:
            error = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
        if not retry:
            return Delivery(False, attempt, error)
        if attempt < attempts:
            time.sleep(backoff[min(attempt - 1, len(backoff) - 1)] if backoff else 0)
    return Delivery(False, attempts, error)
