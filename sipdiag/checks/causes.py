"""Causes first (RULES.md §2): link each symptom finding to the finding that most likely explains it.

Rules report what they see, one finding each: a one-way audio, a private SDP address, a SIP ALG fingerprint. An
engineer wants to read "the ALG (cause) broke the audio (symptom)", not three unrelated lines. After the rules
have run, `correlate` picks for every symptom its most likely cause among the findings of the same call (or the
same registration, or capture-wide ones) with the candidate table and precedence of RULES.md §2, records the link
both ways (`Finding.cause`, `Finding.explains`: positions in the findings tuple), and folds the NAT observations
of a call into its cause's evidence instead of listing them on their own.

The table is data keyed by rule id; it names rules that do not exist yet, which simply never match.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..addresses import address_host
from . import Severity

if TYPE_CHECKING:
    from ..analysis import Analysis
    from . import Finding

# RULES.md §2 "Symptom -> candidate causes", per symptom rule, in the order the catalog says to check them.
# A trailing ".*" is a prefix (every alg.* rule); a trailing "@reg" admits only a finding about a registration (of
# the call's caller or callee), not one about the call itself.
# A loopback c= (media.loopback-sdp-address, not in RULES.md's table) is an SDP that can never work, like a
# negotiation failure: it is checked, and ranks (TIERS), with them.
_ONE_WAY = ("codec.rtp-payload-not-negotiated", "media.srtp-profile-mismatch", "media.loopback-sdp-address", "alg.*",
            "nat.private-sdp-address", "nat.media-source-mismatch", "nat.stun-mapping-mismatch", "nat.hairpin-failure",
            "router.icmp-unreachable")
_REGISTRATION_LOST = ("alg.*", "reg.contact-binding-mismatch", "router.nat-binding-timeout", "reg.interval-too-brief",
                      "reg.binding-churn")
_QUALITY_NETWORK = ("qos.*",)
CAUSES: dict[str, tuple[str, ...]] = {
    # Call drops at ~32 s
    "call.ack-timeout-32s": ("alg.*", "call.in-dialog-request-misrouted", "router.udp-fragmentation",
                             "nat.no-rport-response-lost"),
    # One-way / no audio
    "media.one-way-audio": _ONE_WAY,
    "media.no-rtp": _ONE_WAY,
    # Registration lost / flapping
    "reg.no-response": _REGISTRATION_LOST,
    "reg.binding-churn": _REGISTRATION_LOST[:-1],
    # Inbound calls missed / only some calls set up: an INVITE nobody answers
    # (the private Contact that matters is the callee's registered one, "unfixed" by the registrar: a private
    # Contact in the unanswered INVITE itself does not stop the INVITE from being answered)
    "call.invite-timeout": ("router.udp-fragmentation", "router.nat-binding-timeout", "nat.private-contact@reg",
                            "reg.binding-churn", "router.icmp-unreachable"),
    # Drops at 15/30 min: the session expired because its refresh failed
    "call.session-timer-expiry": ("call.reinvite-failed",),
    # Choppy / robotic audio: the MOS summary is explained by its factors (§2 point 3) ...
    "media.low-mos": ("media.packet-loss", "media.burst-loss", "media.high-jitter", "media.high-delay",
                      "codec.timestamp-clock-mismatch", "media.clock-drift", "qos.*"),
    # ... which are explained by the network's treatment of voice
    "media.packet-loss": _QUALITY_NETWORK,
    "media.burst-loss": _QUALITY_NETWORK,
    "media.high-jitter": _QUALITY_NETWORK,
    "media.high-delay": _QUALITY_NETWORK,
}

# RULES.md §2 precedence when several candidates fired, strongest first; candidates in no tier come after them,
# in table order. Negotiation failures explain "no audio" before any network rule (point 2); then definitive
# multi-point ALG evidence > single-point ALG fingerprints > NAT handling gaps > transport/router (point 1).
TIERS: tuple[tuple[str, ...], ...] = (
    ("codec.", "media.srtp-profile-mismatch", "media.loopback-sdp-address"),
    ("alg.message-modified-in-transit",),
    ("alg.",),
    ("nat.private-sdp-address", "nat.no-rport-response-lost", "call.in-dialog-request-misrouted", "nat.",
     "reg.contact-binding-mismatch"),
    ("router.",),
)

# NAT observations folded into the evidence of a cause of the same call (RULES.md §2 "Suppression"); escalated ones
# (major and above) are findings in their own right and stay.
FOLDED = ("nat.private-contact", "nat.via-address-mismatch", "nat.port-translated")
CONFIDENCE_RANK = {"high": 0, "medium": 1, "low": 2}


def candidate_position(rule: str, candidates: Sequence[str], *, about_call: bool = False) -> int | None:
    """Where `rule` stands in a candidate list (exact ids, `prefix.*` and `id@reg` entries), or None.

    about_call: the candidate finding is about a call, which `@reg` entries do not admit."""
    for n, c in enumerate(candidates):
        if c.endswith("@reg"):
            if about_call:
                continue
            c = c[:-4]
        if rule == c or (c.endswith(".*") and rule.startswith(c[:-1])):
            return n
    return None


def tier(rule: str) -> int:
    for n, group in enumerate(TIERS):
        if any(rule == g or (g.endswith(".") and rule.startswith(g)) for g in group):
            return n
    return len(TIERS)


def _aor_key(uri: str | None) -> str | None:
    """user@host of a SIP URI or of a call's caller/callee, to match a registration to the calls of its AOR."""
    if not uri:
        return None
    text = uri.strip().strip("<>")
    for scheme in ("sips:", "sip:", "tel:"):
        if text.lower().startswith(scheme):
            text = text[len(scheme):]
    return text.split(";", 1)[0].split(">", 1)[0].lower() or None


def _aors_of(f: Finding) -> list[str]:
    """The AOR keys a registration finding is about: its `aor`, and every AOR of `aors` when it groups several
    registrations of one device (sipdiag.checks.registration): a cause found on any of them may explain it."""
    grouped = f.evidence.get("aors")
    aors = [f.evidence.get("aor"), *(grouped if isinstance(grouped, (list, tuple)) else ())]
    return list(dict.fromkeys(key for a in aors if isinstance(a, str) and (key := _aor_key(a)) is not None))


def correlate(findings: Sequence[Finding], analysis: Analysis | None = None) -> tuple[Finding, ...]:
    """The findings with their cause/symptom links set and a call's NAT observations folded into its cause.

    Order is kept (worst first); positions in `cause`/`explains` refer to the returned tuple."""
    if not any(f.rule in CAUSES or f.rule in ATTACKS for f in findings):
        return tuple(findings)
    by_call: dict[str, list[int]] = defaultdict(list)
    by_aor: dict[str, list[int]] = defaultdict(list)
    capture_wide: list[int] = []
    for i, f in enumerate(findings):
        aors = _aors_of(f)
        if f.call_id is not None:
            by_call[f.call_id].append(i)
        elif aors:
            for aor in aors:
                by_aor[aor].append(i)
        else:
            capture_wide.append(i)
    # a call's AORs lead to registration findings only: without any, every call's two URIs need not be read
    aors_of_call: dict[str, tuple[str, ...]] = {}
    if analysis is not None and by_aor:
        for c in analysis.calls:
            aors_of_call[c.call_id] = tuple(a for a in (_aor_key(c.caller), _aor_key(c.callee)) if a)

    def related(i: int) -> list[int]:
        """Findings that may explain finding i: same call, same registration (AOR), or capture-wide."""
        f = findings[i]
        out = list(capture_wide)
        if f.call_id is not None:
            out += by_call.get(f.call_id, [])
            for aor in aors_of_call.get(f.call_id, ()):
                out += by_aor.get(aor, [])
        else:
            for aor in _aors_of(f):
                out += by_aor.get(aor, [])
        return out

    cause_of: dict[int, int] = {}
    for i, f in enumerate(findings):
        candidates = CAUSES.get(f.rule)
        if not candidates:
            continue
        best: tuple[Any, ...] | None = None
        for j in related(i):
            g = findings[j]
            pos = candidate_position(g.rule, candidates, about_call=g.call_id is not None) if j != i else None
            if pos is None:
                continue
            key = (tier(g.rule), pos, CONFIDENCE_RANK.get(g.confidence, 3), -g.severity, j)
            if best is None or key < best:
                best = key
        if best is not None and not _leads_to(cause_of, best[-1], i):
            cause_of[i] = best[-1]

    # The calls an attacking source made (toll-fraud attempts, a scanner's or password guesser's INVITEs) are
    # explained by the attack, whatever else their findings say (RULES.md §2 precedence: a security cause
    # before any service symptom): their failures, timeouts and media faults are the attack's evidence, not a
    # service problem to report to the customer (RFC 3261 §26.1 describes these threats).
    for i, j in _attack_links(findings, analysis).items():
        if not _leads_to(cause_of, j, i):
            cause_of[i] = j

    folded = _fold(findings, cause_of)
    keep = [i for i in range(len(findings)) if i not in folded]
    new_index = {old: new for new, old in enumerate(keep)}
    explains: dict[int, list[int]] = defaultdict(list)
    for symptom, cause in cause_of.items():
        explains[cause].append(symptom)
    # each cause's folded observations, in finding order: gathered once (a scan of every folded observation for
    # each finding kept was quadratic: 0.3 s of 12 000 findings with 900 folded)
    observations_of: dict[int, list[Finding]] = defaultdict(list)
    for k in sorted(folded):
        observations_of[folded[k]].append(findings[k])
    out = []
    for old in keep:
        f = findings[old]
        evidence = f.evidence
        observations = observations_of.get(old)
        if observations:
            evidence = {**evidence, "nat_observations": [_observation(o) for o in observations]}
        cause = new_index[cause_of[old]] if old in cause_of else None
        explained = tuple(new_index[s] for s in sorted(explains.get(old, ())))
        if evidence is f.evidence and cause == f.cause and explained == f.explains:
            out.append(f)  # most findings of a large capture are linked to nothing: a copy would be the same
        else:
            out.append(replace(f, evidence=evidence, cause=cause, explains=explained))
    return tuple(out)


# Security findings that explain the findings of the calls their source made, strongest first (a toll-fraud
# finding is about those very calls; a password guesser or a scanner calling out is the same attacker).
ATTACKS = ("sec.toll-fraud-attempt", "sec.bruteforce-auth", "sec.scanner-detected")


def _attack_sources(f: Finding) -> set[str]:
    """The attacking host addresses a security finding names (`source`, or the `sources` list it quotes)."""
    out: set[str] = set()
    for key in ("source", "sources"):
        value = f.evidence.get(key)
        if isinstance(value, str):
            # "a, b ..." when the finding cut its list: the last name is whole, the dots are not an address
            out.update(address_host(v.strip()) for v in value.removesuffix(" ...").split(",") if v.strip())
    return out


def _attack_links(findings: Sequence[Finding], analysis: Analysis | None) -> dict[int, int]:
    """Finding index -> the security finding explaining it, for findings about a call whose caller is an
    attacking source a security finding names. NAT observations (FOLDED) are left to the folding, as for any
    other call."""
    if analysis is None:
        return {}
    attacker_of: dict[str, int] = {}  # host -> the strongest security finding naming it
    for rule in ATTACKS:
        for j, f in enumerate(findings):
            if f.rule == rule:
                for host in _attack_sources(f):
                    attacker_of.setdefault(host, j)
    if not attacker_of:
        return {}

    cause_of_call: dict[str, int] = {}
    for c in analysis.calls:
        host = address_host(c.caller_address)
        if host in attacker_of:
            cause_of_call[c.call_id] = attacker_of[host]
    return {i: cause_of_call[f.call_id] for i, f in enumerate(findings)
            if f.call_id in cause_of_call and f.category != "security" and f.rule not in FOLDED}


def _leads_to(cause_of: dict[int, int], start: int, target: int) -> bool:
    """Would linking to `start` close a loop back to `target`? (Chains such as low MOS -> loss -> QoS are fine.)"""
    seen = set()
    node: int | None = start
    while node is not None and node not in seen:
        if node == target:
            return True
        seen.add(node)
        node = cause_of.get(node)
    return False


def _fold(findings: Sequence[Finding], cause_of: dict[int, int]) -> dict[int, int]:
    """NAT observations to fold: observation index -> the cause it goes into (the strongest cause explaining a
    symptom of the same call)."""
    causes = set(cause_of.values())
    top_cause: dict[str, int] = {}
    for symptom, cause in cause_of.items():
        call_id = findings[symptom].call_id
        if call_id is None:
            continue
        current = top_cause.get(call_id)
        if current is None or (tier(findings[cause].rule), cause) < (tier(findings[current].rule), current):
            top_cause[call_id] = cause
    folded: dict[int, int] = {}
    for k, f in enumerate(findings):
        if (f.rule in FOLDED and f.severity < Severity.MAJOR and f.call_id in top_cause and k not in causes
                and k not in cause_of and top_cause[f.call_id] != k):
            folded[k] = top_cause[f.call_id]
    return folded


def _observation(f: Finding) -> dict[str, Any]:
    return {"rule": f.rule, "severity": f.severity.label, "frames": list(f.frames),
            **{k: v for k, v in f.evidence.items() if k not in ("device", "nat_observations")}}
