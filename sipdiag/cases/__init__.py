"""Cases (issue 8): analyses filed under ticket ids, triage, verification of a fix, notifications to a ticket
system. `CaseStore(url)` is the library API; `sipdiag analyze --ticket`, `sipdiag case ...` and `sipdiag verify`
are its command line."""

from __future__ import annotations

from .backends import StoreError, default_path
from .compare import Comparison
from .store import VANTAGES, Case, CaseStore, Filing, UnknownTicket, Verification
from .triage import Triage

__all__ = ["Case", "CaseStore", "Comparison", "Filing", "StoreError", "Triage", "UnknownTicket", "VANTAGES",
           "Verification", "default_path"]
