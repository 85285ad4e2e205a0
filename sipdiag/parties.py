"""How a human text names a party of a call: "the caller" and "the callee" when the capture shows which party
called, else the party by what is sure, its signalling address and SIP URI.

A capture begun inside a call, without a message of its initial INVITE transaction, does not show which party called
(Call.roles_known False, sipdiag.dialogs._tells_caller; RFC 3261 §12.2.1.1: the in-dialog requests of either party
carry both tags). Call.caller and Call.callee are then only the From and To of the first message seen, and a stream's
direction "caller->callee" only says from that From party to that To party: the structure (JSON `caller`,
`missing_direction`, the `role` of a finding's evidence) keeps those names, the texts for people do not present
them as fact. Every rule and report names a party through this module, so the two cases are worded in one place.

Russian names a party in the genitive everywhere (sipdiag.russian.PARTY_RU: "BYE от вызываемого"); the nominative
serves a text where the party is the subject ("вызываемый ничего не слышит"). The unknown party is "сторона по
адресу …", whose head noun declines and whose tail does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .russian import PARTY_RU

if TYPE_CHECKING:
    from .model import Call

ROLES = ("caller", "callee")
PARTY_RU_NOMINATIVE = {"caller": "вызывающий", "callee": "вызываемый"}
# "сторона" (the party) by case; the address that follows it ("по адресу …") does not decline
_PARTY_RU_DATIVE = {"caller": "вызывающему", "callee": "вызываемому"}
_SIDE_RU = {"nom": "сторона", "gen": "стороны", "dat": "стороне"}
_DIRECTIONS = {"caller->callee": ("caller", "callee"), "callee->caller": ("callee", "caller")}


def roles_known(call: Call | None) -> bool:
    """Whether the capture shows which party of `call` called (a call not known here: as before, yes)."""
    return call is None or call.roles_known


def party_where(call: Call, role: str) -> str:
    """What is sure of the party `role` names (caller: the From of the call's first message, callee: its To):
    its signalling address and SIP URI, "10.0.0.5:4000 (sip:alice@example.com)"."""
    address, uri = (call.caller_address, call.caller) if role == "caller" else (call.callee_address, call.callee)
    return f"{address} ({uri})" if uri else address


def called_party(uri: str) -> str:
    """How a customer text names a party: the user part of its URI, the number as dialled (RFC 3261 §19.1.1), not
    the host: customer texts never carry a third party's address (RULES.md §6)."""
    return uri.split(":", 1)[-1].split("@", 1)[0].split(";", 1)[0]


def party_number(call: Call, role: str) -> str:
    """The number of the party `role` names (caller: the From of the call's first message, callee: its To) for a
    customer text, "?" when its URI has none."""
    return called_party(call.caller if role == "caller" else call.callee) or "?"


def between_numbers(call: Call) -> tuple[str, str]:
    """A call named by its parties' numbers in a customer text when the capture does not show who called, neither
    being "you" (en, ru): 'between 200 and 100', 'между абонентами 200 и 100'."""
    first, second = party_number(call, "caller"), party_number(call, "callee")
    return f"between {first} and {second}", f"между абонентами {first} и {second}"


def party_en(call: Call | None, role: str) -> str:
    """'the caller' / 'the callee'; when the capture does not show who called, 'the party at ADDRESS (URI)'."""
    if roles_known(call) or call is None or role not in ROLES:
        return f"the {role}"
    return f"the party at {party_where(call, role)}"


def party_ru(call: Call | None, role: str, case: str = "gen") -> str:
    """The Russian name of the party `role` in `case` (gen, nom or dat): 'вызывающего' / 'вызывающий'; when the
    capture does not show who called, 'стороны по адресу ADDRESS (URI)'. A role other than caller/callee (a
    registrant, a source) is named as PARTY_RU names it, in the genitive."""
    if role not in ROLES:
        return PARTY_RU.get(role, role)
    if roles_known(call) or call is None:
        if case == "nom":
            return PARTY_RU_NOMINATIVE[role]
        if case == "dat":
            return {"caller": "вызывающему", "callee": "вызываемому"}[role]
        return PARTY_RU[role]
    return f"{_SIDE_RU[case]} по адресу {party_where(call, role)}"


def direction_en(call: Call | None, direction: str | None) -> str:
    """A stream direction for a text: 'caller->callee' as the data names it; when the capture does not show who
    called, 'from the party at ADDRESS to the party at ADDRESS' (their signalling addresses, not the RTP ones: a
    text names their URIs once, with party_en, not in every direction it states)."""
    roles = _DIRECTIONS.get(direction or "")
    if roles is None or roles_known(call) or call is None:
        return direction or "?"
    return f"from the party at {_address(call, roles[0])} to the party at {_address(call, roles[1])}"


def direction_ru(call: Call | None, direction: str | None) -> str:
    """direction_en in Russian, in words: 'от вызывающего к вызываемому' (the data's 'caller->callee' read in the
    middle of a Russian sentence was English); unknown roles: 'от стороны ADDRESS к стороне ADDRESS'."""
    roles = _DIRECTIONS.get(direction or "")
    if roles is None:
        return direction or "?"
    if roles_known(call) or call is None:
        return f"от {PARTY_RU[roles[0]]} к {_PARTY_RU_DATIVE[roles[1]]}"
    return f"от стороны {_address(call, roles[0])} к стороне {_address(call, roles[1])}"


def spoken_direction(call: Call | None, direction: str | None) -> tuple[str, str]:
    """A stream direction in the words of a customer text (en, ru): 'from the caller to the callee', 'от
    вызывающего к вызываемому'; when the capture does not show who called, by the parties' numbers (called_party:
    a customer text carries no third party's address, RULES.md §6), 'from number 100 to number 200', 'от абонента
    100 к абоненту 200'."""
    roles = _DIRECTIONS.get(direction or "")
    if roles is None:
        return "?", "?"
    if roles_known(call) or call is None:
        return f"from the {roles[0]} to the {roles[1]}", direction_ru(call, direction)
    sender, receiver = (party_number(call, role) for role in roles)
    return f"from number {sender} to number {receiver}", f"от абонента {sender} к абоненту {receiver}"


def _address(call: Call, role: str) -> str:
    return call.caller_address if role == "caller" else call.callee_address


def party_values(call: Call | None) -> dict[str, str]:
    """The names of a call's parties for a rule's text templates, filled in by the engine for every hit about a
    call (sipdiag.checks._finding) and not kept in the evidence (they restate its call, not what the rule found):
    {caller_en}/{callee_en} "the caller", {caller_ru}/{callee_ru} "вызывающего" (genitive), {caller_ru_nom}
    "вызывающий", {up_en}/{down_en} "caller->callee"/"callee->caller" and {up_ru}/{down_ru}; with the parties by
    address when the capture does not show who called. A rule's own value of the same name wins."""
    out: dict[str, str] = {}
    for role in ROLES:
        out[f"{role}_en"] = party_en(call, role)
        out[f"{role}_ru"] = party_ru(call, role)
        out[f"{role}_ru_nom"] = party_ru(call, role, "nom")
    for key, direction in (("up", "caller->callee"), ("down", "callee->caller")):
        out[f"{key}_en"] = direction_en(call, direction)
        out[f"{key}_ru"] = direction_ru(call, direction)
    return out


def ender_en(call: Call) -> str:
    """Who sent the call's BYE, without the article: 'caller', 'callee', or 'unknown side' when the capture does not
    show who called (Call.ended_by None, as the call details say it)."""
    return call.ended_by or "unknown side"


def ender_ru(call: Call) -> str:
    """ender_en in the Russian genitive ('BYE от вызываемого', 'BYE от неизвестной стороны')."""
    return PARTY_RU.get(call.ended_by or "", "неизвестной стороны")
