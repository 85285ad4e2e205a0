"""Whose device a party of a call is, the customer's or the operator's, for a rule whose owner depends on the side
the fault lies on (ARCHITECTURE.md owners: `customer` is their router, phone, LAN; `engineering` the operator's
network, SBC, PBX).

Nothing in a capture says it outright; these facts do, the strongest first:
1. The party is behind a NAT: it signals from a public address while its Contact, top Via or SDP name a private one
   (RULES.md §0.2, the inference of the vantage point). An operator's server is reached at the address it announces;
   a device behind a NAT is on a customer's LAN (their own PBX too). A loopback c= is a broken SDP
   (media.loopback-sdp-address), not a NAT.
2. Its User-Agent or Server string is in the device knowledge base (sipdiag.devices): a phone, ATA, router or
   softphone is the customer's; a PBX or SBC the operator's, unless it registered in this capture: a PBX that
   sends REGISTER is a customer's PBX registering its trunk with us (RFC 6140), on a public address or not.
3. It registered, or it answered registrations, in this capture: a subscriber's device sends REGISTER, the
   operator's registrar receives it (RFC 3261 §10).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..addresses import address_host
from ..devices import identify
from ..media import is_loopback, is_private
from .deviceinfo import party_agents
from .nat import contact_host

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..model import Call

CUSTOMER_KINDS = ("phone", "ata", "router", "softphone")
OPERATOR_KINDS = ("pbx", "sbc")


def customer_party(analysis: Analysis, call: Call, role: str) -> bool | None:
    """True when the call's `role` (caller or callee) is the customer's device, False when it is the operator's,
    None when nothing in the capture tells."""
    host = address_host(call.caller_address if role == "caller" else call.callee_address)
    if not is_private(host) and any(is_private(a) and not is_loopback(a) for a in _announced(call, role)):
        return True
    device = identify(party_agents(call, analysis).get(role))
    registered = registration_side(analysis, host)
    if device is not None and device.entry.kind in CUSTOMER_KINDS + OPERATOR_KINDS:
        return device.entry.kind in CUSTOMER_KINDS or registered is True
    return registered


def registration_side(analysis: Analysis, host: str) -> bool | None:
    """True when `host` sent REGISTERs in the capture (a subscriber's device), False when it received them (the
    operator's registrar), None when neither."""
    for r in analysis.registrations:
        if address_host(r.source) == host:
            return True
        if address_host(r.registrar) == host:
            return False
    return None


def _announced(call: Call, role: str) -> list[str]:
    """The addresses the party names for itself: the first INVITE's Contact and Via (the caller's) and the c= of
    every offer or answer it wrote (RFC 3264)."""
    out = [h for h in (contact_host(call.caller_contact), call.caller_via_host) if h] if role == "caller" else []
    for n in call.negotiations:
        out += [m.address for m in n.written_by(role) if m.address]
    return out
