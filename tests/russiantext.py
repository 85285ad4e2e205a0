"""English prose left in a finding's Russian texts: an English-only value put into a Russian template
("{detail}" = "one-way audio: the callee hears nothing") makes the note read half in English.

Russian technical text keeps some Latin, and that is not flagged: values taken from the wire (a status reason,
a Call-ID, a User-Agent, a URI: the finding's evidence values that occur in the capture's SIP messages),
acronyms and protocol tokens written in capitals (RTP, SDP, INVITE, PCMU, DSCP, EF), identifiers (anything with a
digit or one of `=_.@:>*#`: G.711, c=, a=rtcp-mux, RFC 3261 §13.3.1.4, media.packet-loss, media.oneway_report_s,
caller->callee, 0xB8), SIP header and parameter names, SDP attributes, and the few terms and product names of
LATIN_TERMS. The device knowledge base (sipdiag/data/devices.toml) is English by design: its notes and fix
steps, which the Russian text introduces as English ("Известно (англ.)"), are left out, and so are the product's
name and a setting quoted as the device labels it («UDP session timeout»). Everything else written in Latin
letters is English prose.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sipdiag.devices import knowledge_base, topics_for

# Latin words Russian technical text keeps as they are (case-sensitive; words with two capitals or more, such as
# INVITE, QoS or BurstR, and single capital letters, such as the R of the E-model, need no entry).
LATIN_TERMS = frozenset({
    # SIP header names and parameters (RFC 3261 §20, §19.1.1; RFC 3581; RFC 7616 digest parameters)
    "Via", "Contact", "Record-Route", "Route", "From", "To", "Call-ID", "User-Agent", "Server", "Warning",
    "Retry-After", "Expires", "Min-Expires", "Content-Length", "Content-Type", "Session-Expires", "Min-SE",
    "Request-URI", "Reason", "Supported", "Require", "Path", "Authorization", "sent-by", "received", "rport",
    "branch", "tag", "expires", "transport", "username", "realm", "nonce", "uri", "digest", "stale", "outbound",
    "refresher", "timer",  # RFC 4028: the Session-Expires parameter and the option tag ("Supported: timer")
    "alias",  # the Contact parameter NAT traversal adds at the edge (Kamailio nathelper add_contact_alias)
    # SDP and RTP terms (RFC 8866, RFC 3264, RFC 3550)
    "offer/answer", "sendrecv", "sendonly", "recvonly", "inactive", "rtpmap", "fmtp", "ptime", "maxptime",
    "telephone-event", "octet-align", "mode-set", "annexb", "comedia", "latching", "skew", "ppm",
    # E-model and RTCP XR symbols (ITU-T G.107, G.113; RFC 3611)
    "Ie", "Ie,eff", "Bpl", "Gmin",
    # codecs and products
    "Opus", "Speex", "μ-law", "A-law", "Wireshark", "Asterisk", "Kamailio", "FreeSWITCH", "OpenSIPS", "fail2ban", "sipping",
    "keepalive", "keep-alive", "loopback", "localhost", "Wi-Fi",
    # sipdiag's own identifiers: call roles and severity labels as the reports show them
    "caller", "callee", "critical", "major", "minor", "info",
    # Python's None for a value a rule did not have ("INVITE (frame None)" of a fuzzed capture): the same in both
    # languages, a defect of the value and not of the translation
    "None",
})

_LATIN = re.compile(r"[A-Za-z]")
_CYRILLIC_OR_SPACE = re.compile(r"[\sА-Яа-яЁё]+")
_IDENTIFIER = re.compile(r"[0-9=_.@:>*#<]")
_URI = re.compile(r"^(?:sips?|tel|https?):", re.I)
# a setting or menu item as the device labels it: «UDP session timeout»
_QUOTED = re.compile(r"«[^«»А-Яа-яЁё]*»")
_EDGE = "()[]{},;:.!?«»\"'`…"


def latin_ok(word: str) -> bool:
    """Whether a Latin word (no spaces, no Cyrillic) is one Russian technical text keeps."""
    word = word.strip(_EDGE + "-/")
    if not word or not _LATIN.search(word) or word in LATIN_TERMS:
        return True
    if word.lower() in ("sip", "sips", "tel"):  # a URI's scheme whose rest was a wire value cut out ("sip: | ")
        return True
    if _URI.match(word) or _IDENTIFIER.search(word):
        return True
    if "/" in word:  # NAT/ALG, fail2ban/ACL, REGISTER/INVITE: each part on its own
        return all(latin_ok(part) for part in word.split("/"))
    return sum(c.isupper() for c in word) >= 2 or (len(word) == 1 and word.isupper())


def english_runs(text: str, keep: Iterable[str] = ()) -> list[str]:
    """The runs of Latin words in `text` that are English prose, in order; `keep`: Latin passages to leave out
    (wire values, the device knowledge base's notes)."""
    for passage in sorted({k for k in keep if k}, key=len, reverse=True):
        text = text.replace(passage, " | ")
    text = _QUOTED.sub(" | ", text)
    runs: list[str] = []
    run: list[str] = []
    # Cyrillic and whitespace split the text; a token with Cyrillic in it ("RTP-пакетов") leaves its Latin parts
    for token in re.split(r"(\s+|[А-Яа-яЁё][А-Яа-яЁё\-]*)", text):
        if not token or token.isspace():
            continue
        if not _LATIN.search(token):
            if run and (token.strip(_EDGE) or "|" in token):  # a number or a cut ends a run; punctuation not
                runs.append(" ".join(run))
                run = []
            continue
        if latin_ok(token):
            if run:
                runs.append(" ".join(run))
                run = []
        else:
            run.append(token.strip(_EDGE))
    if run:
        runs.append(" ".join(run))
    return runs


def wire_text(analysis: Any) -> str:
    """The text of the capture's kept SIP messages, where wire values are looked up."""
    return "\n".join(m.raw[:m.raw_len].decode("utf-8", "replace") for m in analysis.messages)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
        yield from value.split(", ")
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def kept_latin(finding: Any, wire: str) -> list[str]:
    """What a finding's Russian texts may carry in Latin whatever its words: its evidence values that occur in the
    capture's SIP messages, and the device knowledge base's notes and fix steps for the finding's topics."""
    keep = [s for s in _strings(finding.evidence) if len(s) >= 3 and s in wire]
    device = finding.evidence.get("device")
    if isinstance(device, Mapping):
        entry = knowledge_base().by_id(device["id"])
        topics = topics_for(finding.rule)
        keep += [device.get("vendor"), device.get("model")]  # a product's name, e.g. Cisco Unified Border Element
        keep += [q.note for q in entry.quirks if q.topic in topics]
        keep += [steps for topic in topics if (steps := entry.fix(topic))]
    return keep


def untranslated(finding: Any, wire: str) -> dict[str, list[str]]:
    """{"customer": runs, "engineer": runs}: the English prose in the finding's Russian texts (empty lists: none)."""
    keep = kept_latin(finding, wire)
    return {"customer": english_runs(finding.customer_text["ru"], keep),
            "engineer": english_runs(finding.engineer_text["ru"], keep)}
