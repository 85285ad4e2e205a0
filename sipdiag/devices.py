"""The device knowledge base: which product a User-Agent or Server header names, its known quirks, and where on
that product the fix lives (ARCHITECTURE.md: "a knowledge base of tested devices whose quirks and fix instructions
feed the recommendations").

The data is `sipdiag/data/devices.toml` (package data, read with tomllib); this module matches strings against it:

    >>> d = identify("Yealink SIP-T46S 66.86.0.15")
    >>> d.entry.vendor, d.model, d.version, d.entry.kind
    ('Yealink', 'T46S', '66.86.0.15', 'phone')

Entries are tried in file order and the first whose pattern matches wins. User-Agent strings come off the wire:
matching looks at the first MAX_UA_CHARS characters only, and the patterns are written without nested
quantifiers, so a hostile header costs no more than a short one.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

KINDS = ("phone", "ata", "router", "pbx", "sbc", "softphone", "scanner")
TOPICS = ("sip-alg", "nat", "nat-timeout", "fragmentation", "codec", "dtmf", "session-timer", "qos", "security")
MAX_UA_CHARS = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")  # a header may carry them to fool a log or a terminal; never to match

# Which knowledge-base topics a finding is about: its rule id, else the longest matching id prefix. A finding
# gets a device's fix steps only for these topics (an ALG finding gets the router's "switch SIP ALG off" and the
# phone's "move off port 5060"; a codec finding does not get keep-alive advice). Ids of rules not written yet are
# listed so that they are covered the day they land.
RULE_TOPICS: dict[str, tuple[str, ...]] = {
    "alg.": ("sip-alg",),
    "nat.": ("nat", "sip-alg"),
    "nat.cgnat-or-double-nat": ("nat", "nat-timeout"),
    "router.udp-fragmentation": ("fragmentation", "sip-alg"),
    "router.nat-binding-timeout": ("nat-timeout", "nat"),
    "router.icmp-unreachable": ("nat-timeout", "nat"),
    "reg.interval-too-brief": ("nat",),
    "reg.binding-churn": ("nat", "nat-timeout", "sip-alg"),
    "reg.contact-binding-mismatch": ("sip-alg", "nat"),
    "reg.no-response": ("sip-alg", "nat-timeout"),
    "call.ack-timeout-32s": ("sip-alg", "nat"),
    "call.in-dialog-request-misrouted": ("sip-alg", "nat"),
    "call.invite-timeout": ("nat", "nat-timeout", "fragmentation"),
    "call.session-timer-expiry": ("session-timer",),
    "call.reinvite-failed": ("session-timer",),
    "media.one-way-audio": ("sip-alg", "nat"),
    "media.no-rtp": ("sip-alg", "nat"),
    "media.packet-loss": ("qos",),
    "media.burst-loss": ("qos",),
    "media.high-jitter": ("qos",),
    "media.srtp-profile-mismatch": ("codec",),
    "codec.": ("codec",),
    "dtmf.": ("dtmf",),
    "qos.": ("qos",),
    "sec.": ("security",),
}


def topics_for(rule_id: str) -> tuple[str, ...]:
    """The knowledge-base topics of a rule: its own entry in RULE_TOPICS, else its longest prefix's, else none."""
    if rule_id in RULE_TOPICS:
        return RULE_TOPICS[rule_id]
    prefixes = [p for p in RULE_TOPICS if p.endswith(".") and rule_id.startswith(p)]
    return RULE_TOPICS[max(prefixes, key=len)] if prefixes else ()


@dataclass(frozen=True, slots=True)
class Quirk:
    topic: str
    note: str  # what the product is known to do, one clause


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """One product family of the knowledge base."""

    id: str  # stable slug (evidence.device.id)
    vendor: str
    model: str  # used when the pattern names no model
    kind: str  # one of KINDS
    model_prefix: str
    patterns: tuple[re.Pattern[str], ...] = field(repr=False)
    samples: tuple[str, ...] = field(repr=False)
    quirks: tuple[Quirk, ...] = ()
    fixes: tuple[tuple[str, str], ...] = ()  # (topic, steps), in file order

    def fix(self, topic: str) -> str | None:
        return next((steps for t, steps in self.fixes if t == topic), None)


@dataclass(frozen=True, slots=True)
class Device:
    """A User-Agent string matched to its knowledge-base entry."""

    entry: DeviceEntry
    model: str
    version: str | None
    user_agent: str

    @property
    def name(self) -> str:
        """`Yealink T46S`: vendor and model, the model alone when it already starts with the vendor's name."""
        if self.model.lower().startswith(self.entry.vendor.split()[0].lower()):
            return self.model
        return f"{self.entry.vendor} {self.model}"

    def record(self) -> dict[str, Any]:
        """What a finding's evidence carries (`evidence.device`)."""
        return {"id": self.entry.id, "vendor": self.entry.vendor, "model": self.model, "kind": self.entry.kind,
                "version": self.version, "user_agent": self.user_agent}

    def advice(self, topics: tuple[str, ...]) -> tuple[list[str], list[str]]:
        """The quirk notes and fix steps of this device for the given topics, in the topics' order."""
        notes = [q.note for t in topics for q in self.entry.quirks if q.topic == t]
        steps = [s for t in topics if (s := self.entry.fix(t))]
        return list(dict.fromkeys(notes)), list(dict.fromkeys(steps))


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    entries: tuple[DeviceEntry, ...]
    negative_samples: tuple[str, ...]

    def by_id(self, entry_id: str) -> DeviceEntry:
        return next(e for e in self.entries if e.id == entry_id)


@lru_cache(maxsize=1)
def knowledge_base() -> KnowledgeBase:
    """The knowledge base shipped with the package, loaded and checked once per process.

    A broken data file is a packaging bug, not a user error: ValueError names the entry."""
    text = resources.files("sipdiag").joinpath("data", "devices.toml").read_text(encoding="utf-8")
    return parse(tomllib.loads(text))


def parse(data: dict[str, Any]) -> KnowledgeBase:
    """A knowledge base from the TOML document's data (see the header of devices.toml for the fields)."""
    defaults = data.get("kind_defaults", {})
    entries: list[DeviceEntry] = []
    for raw in data.get("device", []):
        entry_id = raw.get("id", "?")
        missing = {"id", "vendor", "model", "kind", "patterns", "samples"} - set(raw)
        if missing or raw["kind"] not in KINDS:
            raise ValueError(f"device entry {entry_id}: missing {sorted(missing)} or unknown kind")
        kind_default = defaults.get(raw["kind"], {})
        quirks = [Quirk(q["topic"], q["note"]) for q in raw.get("quirks", []) + kind_default.get("quirks", [])]
        fixes = dict(kind_default.get("fix", {}))
        fixes.update(raw.get("fix", {}))
        if any(q.topic not in TOPICS for q in quirks) or set(fixes) - set(TOPICS):
            raise ValueError(f"device entry {entry_id}: unknown topic")
        try:
            patterns = tuple(re.compile(p, re.IGNORECASE) for p in raw["patterns"])
        except re.error as e:
            raise ValueError(f"device entry {entry_id}: bad pattern ({e})") from e
        entries.append(DeviceEntry(entry_id, raw["vendor"], raw["model"], raw["kind"], raw.get("model_prefix", ""),
                                   patterns,
                                   tuple(raw["samples"]), tuple(quirks), tuple(fixes.items())))
    ids = [e.id for e in entries]
    if len(set(ids)) != len(ids):
        raise ValueError("device entries with the same id")
    return KnowledgeBase(tuple(entries), tuple(data.get("negative_samples", ())))


@lru_cache(maxsize=4096)
def identify(user_agent: str | None) -> Device | None:
    """The device a User-Agent (or Server) header names, or None. Case-insensitive; first entry wins; cached,
    since a capture repeats the same few strings thousands of times."""
    if not user_agent:
        return None
    text = _CONTROL.sub("", user_agent[:MAX_UA_CHARS]).strip()
    for entry in knowledge_base().entries:
        for pattern in entry.patterns:
            m = pattern.search(text)
            if m is None:
                continue
            groups = m.groupdict()
            extracted = (groups.get("model") or "").strip()
            model = entry.model_prefix + extracted if extracted else entry.model
            version = (groups.get("version") or "").strip() or None
            return Device(entry, model, version, text)
    return None


__all__ = ["KINDS", "RULE_TOPICS", "TOPICS", "Device", "DeviceEntry", "KnowledgeBase", "Quirk", "identify",
           "knowledge_base", "topics_for"]
