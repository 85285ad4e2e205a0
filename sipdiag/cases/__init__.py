"""Cases (issue 8): analyses filed under ticket ids, triage, verification of a fix, notifications to a ticket
system. `CaseStore(url)` is the library API; `sipdiag analyze --ticket`, `sipdiag case ...` and `sipdiag verify`
are its command line.

The names below load on first use (PEP 562 module __getattr__): a batch worker needs `cases.summary` and
`cases.triage` for every capture, the store (sqlite3, the PostgreSQL driver's ssl) only where a capture is filed;
importing the package for the first pulled in the second, 40-50 ms of every batch's start and every first
analysis of `--jobs 1`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .backends import StoreError, default_path
    from .compare import Comparison
    from .store import VANTAGES, Case, CaseStore, Filing, UnknownTicket, Verification
    from .triage import Triage

_HOMES = {"StoreError": "backends", "default_path": "backends", "Comparison": "compare", "VANTAGES": "store",
          "Case": "store", "CaseStore": "store", "Filing": "store", "UnknownTicket": "store",
          "Verification": "store", "Triage": "triage"}

__all__ = ["Case", "CaseStore", "Comparison", "Filing", "StoreError", "Triage", "UnknownTicket", "VANTAGES",
           "Verification", "default_path"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{home}", __name__), name)
    globals()[name] = value  # once: later lookups find it without this hook
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
