"""Which device a finding is about, and what the knowledge base says to do on it (sipdiag.devices).

The engine asks `DeviceIndex.device_for(hit)` for every hit: the finding's evidence then carries `device`
(vendor, model, kind, version, the party it is) and, when the rule's topic is one the device has fix steps for
(devices.RULE_TOPICS), the engineer text ends with them: an ALG finding on a call from a FRITZ!Box or a Yealink
says where that product's setting is.

Which User-Agent: the one the hit names (`user_agent`), else its call's party (`role` caller/callee in the
evidence, the caller by default: the NAT and ALG rules look at the caller's messages), else its registration's
(`aor`), else the scanner's (`agents`). When that party's string is not in the knowledge base, the other party of
the call is tried: the far end (a PBX, an SBC) is often where NAT handling is configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..addresses import join_address
from ..devices import Device, identify, topics_for
from ..parties import party_en, party_ru

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..model import Call
    from . import Hit

ALG_RULES = "alg."  # the rules that show a SIP ALG at work (router.py holds one of them)

KIND_RU = {"phone": "телефон", "ata": "голосовой шлюз (ATA)", "router": "роутер", "pbx": "АТС", "sbc": "SBC/прокси",
           "softphone": "софтфон", "scanner": "сканер"}


class DeviceIndex:
    """Call and registration User-Agents of one analysis, indexed on first use (most runs have few findings)."""

    def __init__(self, analysis: Analysis | None) -> None:
        self._analysis = analysis
        self._calls: dict[str, Call] | None = None
        self._reg_agents: dict[str, str] | None = None
        self._party_agents: dict[str, dict[str, str]] | None = None

    def call(self, call_id: str) -> Call | None:
        """The call of the analysis with this Call-ID, if any."""
        return self._call(call_id)

    def topics(self, rule_id: str) -> tuple[str, ...]:
        """The knowledge-base topics of a rule's finding, those the capture shows. The `sip-alg` steps work around
        a router's SIP ALG (switch it off; move the device off UDP 5060 or to TCP/TLS so the ALG does not recognise
        its traffic): a finding outside the ALG rules gets them only when an ALG rule finds one in the capture.
        Without one, a REGISTER lost on a VPN would be told to change transport for an ALG nothing shows."""
        topics = topics_for(rule_id)
        if "sip-alg" not in topics or rule_id.startswith(ALG_RULES) or self._alg_shown():
            return topics
        return tuple(t for t in topics if t != "sip-alg")

    def _alg_shown(self) -> bool:
        """Whether an ALG rule fires on the capture; once per analysis (and per process of a split run)."""
        if self._analysis is None:
            return False
        memo = self._analysis._memo
        if "alg_shown" not in memo:
            from . import REGISTRY, all_rules

            all_rules()
            memo["alg_shown"] = any(next(iter(rule.func(self._analysis)), None) is not None
                                    for rule_id, rule in REGISTRY.items() if rule_id.startswith(ALG_RULES))
        return memo["alg_shown"]

    def _call(self, call_id: str) -> Call | None:
        if self._calls is None:
            self._calls = {c.call_id: c for c in self._analysis.calls} if self._analysis is not None else {}
        return self._calls.get(call_id)

    def _registration_agent(self, aor: str) -> str | None:
        if self._reg_agents is None:
            self._reg_agents = {}
            for r in self._analysis.registrations if self._analysis is not None else ():
                if r.user_agent:
                    self._reg_agents.setdefault(r.aor, r.user_agent)
        return self._reg_agents.get(aor)

    def _agents(self, call: Call) -> dict[str, str]:
        """party_agents of a call, once per call (it may read the call's full messages)."""
        if self._party_agents is None:
            self._party_agents = {}
        agents = self._party_agents.get(call.call_id)
        if agents is None:
            agents = self._party_agents[call.call_id] = party_agents(call, self._analysis)
        return agents

    def device_for(self, hit: Hit) -> tuple[str, Device] | None:
        """(party, device) for the hit, or None when no User-Agent involved is in the knowledge base."""
        values = hit.values
        ua = values.get("user_agent")
        if isinstance(ua, str) and (d := identify(ua)):
            return "source", d
        if hit.call_id is not None and (call := self._call(hit.call_id)) is not None:
            first = values.get("role") if values.get("role") in ("caller", "callee") else "caller"
            agents = self._agents(call)
            for party in (first, "callee" if first == "caller" else "caller"):
                if (d := identify(agents.get(party))) is not None:
                    return party, d
            return None
        aor = values.get("aor")
        if isinstance(aor, str) and (d := identify(self._registration_agent(aor))):
            return "registrant", d
        agents = values.get("agents")
        if isinstance(agents, str) and (d := identify(agents.split(", ")[0])):
            return "source", d
        return None


def party_agents(call: Call, analysis: Analysis | None = None) -> dict[str, str]:
    """The caller's and callee's User-Agent (or Server) strings, each from a message that party sent (RFC 3261
    §20.41 User-Agent names the UAC that sent a request, §20.35 Server the UAS that sent a response): requests
    from the caller's address and responses to them are the caller's and the callee's; requests from the callee's
    address and responses to them the other way round. A string is never given to a party by its position among
    the call's strings: a callee that alone names itself (only in its 200 OK) must not become the caller."""
    out: dict[str, str] = {}
    for t in call.transactions:
        if t.user_agent and t.src == call.caller_address and not t.in_dialog and t.method == "INVITE":
            out.setdefault("caller", t.user_agent)
        elif t.user_agent and t.src == call.callee_address:
            out.setdefault("callee", t.user_agent)
    if ("caller" in out and "callee" in out) or analysis is None or not analysis.messages:
        return out
    frames = {ref.frame for ref in call.messages if not ref.retransmission}
    for m in _messages_of(analysis, frames):
        ua = m.user_agent
        if not ua:
            continue
        sender, receiver = join_address(m.src_ip, m.src_port), join_address(m.dst_ip, m.dst_port)
        if sender == call.caller_address or (not m.is_request and receiver == call.callee_address):
            party = "caller"
        elif sender == call.callee_address or (not m.is_request and receiver == call.caller_address):
            party = "callee"
        else:
            continue  # another leg (a B2BUA's far side): neither party's device
        out.setdefault(party, ua[:200])
    return out


def _messages_of(analysis: Analysis, frames: set[int]):
    """The kept full messages (Analysis.messages) of the given frames, in the order they were kept."""
    if not frames:
        return []
    # positions by frame, once per run: scanning every kept message for every finding's call cost 0.06 s on a
    # 2000-call capture
    where = analysis._memo.get("message_positions")
    if where is None:
        where = analysis._memo["message_positions"] = {}
        for i, m in enumerate(analysis.messages):
            where.setdefault(m.frame, []).append(i)
    msgs = analysis.messages
    return [msgs[i] for i in sorted(i for f in frames for i in where.get(f, ()))]


def device_evidence(party: str, device: Device) -> dict[str, Any]:
    return {**device.record(), "party": party}


def device_notes(topics: tuple[str, ...], party: str, device: Device, call: Call | None = None) -> dict[str, str]:
    """The engineer-text appendix per language: the device, its known quirks and where to fix it for the
    finding's topics (DeviceIndex.topics); empty strings when the knowledge base has nothing on those topics for
    it. call: the call whose party (caller, callee) it is, named by address when the capture does not show who
    called (sipdiag.parties)."""
    notes, steps = device.advice(topics)
    if not (notes or steps):
        return {"en": "", "ru": ""}
    kind = device.entry.kind
    version_en = f", firmware {device.version}" if device.version else ""
    version_ru = f", прошивка {device.version}" if device.version else ""
    en = f" Device of {party_en(call, party)}: {device.name} ({kind}{version_en})."
    ru = f" Устройство {party_ru(call, party)}: {device.name} ({KIND_RU.get(kind, kind)}{version_ru})."
    if notes:
        en += " Known: " + "; ".join(notes) + "."
        ru += " Известно (англ.): " + "; ".join(notes) + "."
    if steps:
        en += " On this device: " + " ".join(steps)
        ru += " Где исправить на этом устройстве (англ., пункты меню как в его интерфейсе): " + " ".join(steps)
    return {"en": en, "ru": ru}


def with_device(topics: tuple[str, ...], values: Mapping[str, Any], engineer: dict[str, str],
                found: tuple[str, Device] | None, shared: dict[Any, Any],
                call: Call | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The evidence and engineer texts of a finding with its device added (unchanged when there is none).
    shared: a run's dict through which equal device records are one object (see checks._finding); a finding's
    evidence is never changed once made, so sharing its `device` record is safe."""
    if found is None:
        return dict(values), engineer
    party, device = found
    notes = device_notes(topics, party, device, call)
    record = device_evidence(party, device)
    record = shared.setdefault(("device", *record.items()), record)
    return ({**values, "device": record}, {lang: text + notes.get(lang, "") for lang, text in engineer.items()})
