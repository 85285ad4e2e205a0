"""A placeholder for a field of an analysis that is not made yet.

The rule engine's first stage runs on an analysis whose streams and media are still being bound and rated, and
whose RTP statistics may still be finishing in the capture reader (sipdiag.checks.background, sipdiag.ingest
CaptureRead): those fields hold LATER, which refuses every use, so that a rule can never read an empty or made-up
value in their place. A rule that meets it is run again once the analysis is whole.
"""

from __future__ import annotations

from typing import Any


class NotReady(Exception):
    """A rule touched a field of the analysis that is not made yet (LATER)."""


class _Later:
    """Any use raises NotReady, comparisons and text too; `is`/`is not` (None checks) are the only questions it
    answers, and they say it is something."""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> Any:
        raise NotReady

    __getattr__ = __iter__ = __reversed__ = __len__ = __bool__ = __getitem__ = __contains__ = _refuse
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = _refuse  # type: ignore[assignment]
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _refuse
    __int__ = __float__ = __index__ = __format__ = __str__ = __repr__ = _refuse  # type: ignore[assignment]


LATER = _Later()
