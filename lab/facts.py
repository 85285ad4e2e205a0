"""What a capture shows, read with tshark: the lab's independent oracle (no sipdiag code).

:func:`read` returns plain JSON-able facts -- SIP message counts, calls, registrations, RTP
flows, DTMF digits, IP fragments, ICMP errors, scanner traffic -- in the shape of a manifest
entry of ``samples/pcaps/manifest.json``. The lab writes its manifest from these facts (after
checking them against each scenario's declared ground truth), and the tests read every committed
capture again and compare.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

# tshark preferences: RTP is found by its header (the NAT scenarios send it from addresses no SDP
# names), telephone-event is PT 101 as in the lab's SDP.
TSHARK_PREFS = ("-o", "rtp.heuristic_rtp:TRUE", "-o", "rtpevent.event_payload_type_value:101")

DTMF_DIGITS = "0123456789*#"


class TsharkError(RuntimeError):
    """tshark is missing or failed on a capture."""


def tshark_available() -> bool:
    return shutil.which("tshark") is not None


def _tshark(pcap: Path, display_filter: str, fields: list[str]) -> list[dict[str, list[str]]]:
    argv = ["tshark", "-n", "-r", str(pcap), *TSHARK_PREFS, "-Y", display_filter, "-T", "json"]
    for f in fields:
        argv += ["-e", f]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TsharkError(f"tshark failed on {pcap}: {proc.stderr.strip()}")
    rows = json.loads(proc.stdout or "[]")
    return [r["_source"]["layers"] for r in rows]


def _one(layers: dict[str, list[str]], field: str) -> str | None:
    values = layers.get(field)
    return values[0] if values else None


# ---- SIP ---------------------------------------------------------------------------------

SIP_FIELDS = ["frame.number", "frame.time_relative", "ip.src", "ip.dst", "udp.srcport", "udp.dstport",
              "tcp.srcport", "tcp.dstport", "sip.Method", "sip.Status-Code", "sip.Call-ID",
              "sip.CSeq.seq", "sip.CSeq.method", "sip.from.user", "sip.to.user", "sip.to.host", "sip.to.port",
              "sip.from.addr", "sip.to.addr", "sip.From", "sip.To",
              "sip.contact.uri", "sip.Contact", "sip.contact.parameter", "sip.Expires", "sip.Via", "sip.User-Agent",
              "sdp.connection_info.address", "sdp.media"]


def sip_messages(pcap: Path) -> list[dict]:
    """One dict per SIP message, in capture order."""
    out = []
    for layers in _tshark(pcap, "sip", SIP_FIELDS):
        transport = "tcp" if "tcp.srcport" in layers else "udp"
        sport = _one(layers, f"{transport}.srcport")
        dport = _one(layers, f"{transport}.dstport")
        status = _one(layers, "sip.Status-Code")
        sdp = None
        audio = [m.split() for m in layers.get("sdp.media", []) if m.startswith("audio ")]
        if audio:
            # m=audio <port> <proto> <fmt> ... (RFC 8866 §5.14); the first audio stream.
            sdp = {"address": _one(layers, "sdp.connection_info.address"), "port": int(audio[0][1]),
                   "formats": [int(f) for f in audio[0][3:]]}
        out.append({
            "frame": int(_one(layers, "frame.number")),
            "time": float(_one(layers, "frame.time_relative")),
            "src": f"{_one(layers, 'ip.src')}:{sport}",
            "dst": f"{_one(layers, 'ip.dst')}:{dport}",
            "transport": transport,
            "method": _one(layers, "sip.Method"),
            "status": int(status) if status else None,
            "call_id": _one(layers, "sip.Call-ID"),
            "cseq": int(_one(layers, "sip.CSeq.seq") or 0),
            "cseq_method": _one(layers, "sip.CSeq.method"),
            "from_user": _one(layers, "sip.from.user"),
            "to_user": _one(layers, "sip.to.user"),
            "to_host": _one(layers, "sip.to.host"),
            "to_port": _one(layers, "sip.to.port"),
            # the From and To URIs as written: a tel: URI (RFC 3966) has no user or host for tshark's fields above
            "from_uri": header_uri(_one(layers, "sip.from.addr"), _one(layers, "sip.From")),
            "to_uri": header_uri(_one(layers, "sip.to.addr"), _one(layers, "sip.To")),
            # the Contact URI with its parameters; "*" for remove-all (RFC 3261 §10.2.2), which has no URI
            "contact": "*" if (_one(layers, "sip.Contact") or "").strip() == "*" else _one(layers, "sip.contact.uri"),
            "expires": _requested_expires(layers),
            "via": _one(layers, "sip.Via"),
            "user_agent": _one(layers, "sip.User-Agent"),
            "sdp": sdp,
        })
    return out


def header_uri(addr: str | None, value: str | None) -> str | None:
    """The URI of a From or To header: tshark's sip.from.addr / sip.to.addr, else read from the header's value
    (tshark names no address for a URI written without angle brackets, `To: tel:+15551234;tag=x`): the text
    inside <...> after any quoted display name, else the text up to the first ';', which without brackets starts
    the header's parameters (RFC 3261 §20.10)."""
    if addr:
        return addr
    if not value:
        return None
    text = value.strip()
    if text.startswith('"'):  # a quoted display name may hold '<' or ';'
        end = 1
        while end < len(text) and text[end] != '"':
            end += 2 if text[end] == "\\" else 1
        text = text[end + 1:]
    if "<" in text:
        inside = text.split("<", 1)[1]
        return inside.split(">", 1)[0].strip() or None
    return text.split(";", 1)[0].strip() or None


def _is_tel(uri: str | None) -> bool:
    return bool(uri) and uri[:4].lower() == "tel:"


def party_user(user: str | None, uri: str | None) -> str | None:
    """A call party as the manifest names it, the user part of its URI; for a tel: URI (RFC 3966), which has
    none, its number without the parameters, as dialled."""
    if user or not _is_tel(uri):
        return user
    return uri[4:].split(";", 1)[0] or None


def aor_of(m: dict) -> str:
    """The AOR of a REGISTER message, its To URI without parameters, `sip:user@host[:port]` (RFC 3261 §10.3
    step 5). A tel: URI (RFC 3966, `tel:+15551234`) has no user or host: it is the AOR as written, with its
    parameters, which are part of the number it names (phone-context, ext: RFC 3966 §5.1.4, §5.1.5); sipdiag
    keeps it so too (sipdiag.dialogs.uri_of)."""
    uri = m.get("to_uri")
    if _is_tel(uri):
        return uri
    return f"sip:{m['to_user']}@{m['to_host']}" + (f":{m['to_port']}" if m["to_port"] else "")


def _requested_expires(layers: dict[str, list[str]]) -> int | None:
    """The expiry a message names: its (first) Contact's expires parameter, else its Expires header (RFC 3261
    §10.2.1.1); None when it names none."""
    for param in layers.get("sip.contact.parameter", []):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "expires" and value.strip().isdigit():
            return int(value)
    header = _one(layers, "sip.Expires")
    return int(header) if header and header.isdigit() else None


def message_counts(msgs: list[dict]) -> dict[str, dict[str, int]]:
    """Requests by method, responses by 'status method' (e.g. '200 INVITE'), retransmissions included."""
    requests = Counter(m["method"] for m in msgs if m["method"])
    responses = Counter(f"{m['status']} {m['cseq_method']}" for m in msgs if m["status"])
    return {"requests": dict(sorted(requests.items())), "responses": dict(sorted(responses.items()))}


def _outcome(final_status: int | None, provisional: bool) -> str:
    """ARCHITECTURE.md call outcomes from the INVITE's final response."""
    if final_status is None:
        return "in-progress" if provisional else "timeout"
    if 200 <= final_status < 300:
        return "answered"
    if final_status in (486, 600):
        return "busy"
    if final_status == 487:
        return "cancelled"
    return "rejected"


def calls(msgs: list[dict]) -> list[dict]:
    by_id: dict[str, list[dict]] = defaultdict(list)
    for m in msgs:
        by_id[m["call_id"]].append(m)
    out = []
    for call_id, ms in by_id.items():
        invites = [m for m in ms if m["method"] == "INVITE"]
        if not invites:
            continue
        first = invites[0]
        inv_cseq = first["cseq"]
        inv_resp = [m for m in ms if m["status"] and m["cseq_method"] == "INVITE" and m["cseq"] == inv_cseq]
        finals = [m for m in inv_resp if m["status"] >= 200]
        final = finals[0] if finals else None
        answer = next((m["sdp"] for m in inv_resp if m["sdp"]), None)
        caller_side = first["src"].split(":")[0]
        acks = [m for m in ms if m["method"] == "ACK"]
        byes = [m for m in ms if m["method"] == "BYE"]
        bye_from = None
        if byes:
            bye_from = "caller" if byes[0]["src"].split(":")[0] == caller_side else "callee"
        out.append({
            "call_id": call_id,
            "caller": party_user(first["from_user"], first.get("from_uri")),
            "callee": party_user(first["to_user"], first.get("to_uri")),
            "outcome": _outcome(final["status"] if final else None, bool(inv_resp)),
            "final_status": final["status"] if final else None,
            "transport": first["transport"],
            "invites_sent": len(invites),
            "final_responses_sent": len(finals),
            "acked": bool(acks),
            "bye_from": bye_from,
            "bye_after_final_s": round(byes[0]["time"] - final["time"], 1) if byes and final else None,
            "caller_contact": first["contact"],
            "caller_via": first["via"],
            "offer": first["sdp"],
            "answer": answer,
        })
    return out


# RFC 3261 §19.1.4: these URI parameters in only one of two URIs make them differ; any other parameter (transport
# too) in only one is ignored, and a parameter both carry must have one value.
STRICT_URI_PARAMS = ("user", "ttl", "method", "maddr")


def _uri_parts(uri: str) -> tuple[tuple[str, str, str, str], dict[str, str]] | None:
    """(scheme, user, host, port) and the parameters of a SIP URI as tshark shows it (sip.contact.uri), read here
    from the RFC 3261 §19.1.1 grammar rather than with sipdiag's parser: the lab checks sipdiag, not itself.
    None for text that is no sip:/sips: URI."""
    scheme, colon, rest = uri.strip().partition(":")
    if not colon or scheme.lower() not in ("sip", "sips"):
        return None
    rest = rest.split("?", 1)[0]  # headers do not take part (§19.1.4 compares them, but a Contact has none)
    user, at, hostport = rest.rpartition("@") if "@" in rest.split(";", 1)[0] else ("", "", rest)
    user = user.split(":", 1)[0]  # a password is no part of the binding
    hostport, *params = hostport.split(";")
    if hostport.startswith("["):  # an IPv6 reference: the port follows its ']'
        host, _, port = hostport[1:].partition("]")
        port = port[1:] if port.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
    if not host:
        return None
    named = {}
    for p in params:
        name, _, value = p.partition("=")
        named[name.strip().lower()] = value.strip().lower()
    return (scheme.lower(), user, host.lower(), port), named


def same_contact(a: str, b: str) -> bool:
    """RFC 3261 §19.1.4 equality of two Contact URIs: scheme, user (case-sensitive), host (no case), port (absent
    is not 5060) and the parameters (user/ttl/method/maddr must agree; others only when both carry them)."""
    pa, pb = _uri_parts(a), _uri_parts(b)
    if pa is None or pb is None:
        return a.strip().lower() == b.strip().lower()
    if pa[0] != pb[0]:
        return False
    for name in pa[1].keys() | pb[1].keys():
        if name in pa[1] and name in pb[1]:
            if pa[1][name] != pb[1][name]:
                return False
        elif name in STRICT_URI_PARAMS:
            return False
    return True


def registrations(msgs: list[dict]) -> list[dict]:
    """One registration per binding: an AOR (the To URI) and a Contact, as RFC 3261 §10 defines bindings and as a
    support engineer counts registrations ("line 100 on the desk phone"), whatever the Call-IDs.

    A phone that reboots registers again with a new Call-ID (RFC 3261 §10.2 keeps one Call-ID per boot cycle
    only): still one registration, the same binding. Two lines sent with one Call-ID, or one line registering two
    contacts, are two. Contacts are one when they are one URI (same_contact: a ;line= that only the REGISTER
    answering a challenge carries leaves one binding), as the registrar compares them. sipdiag counts them the
    same way (sipdiag.correlate keys a registration by AOR + Contact, compared as URIs), so a lab manifest's
    registrations are the ones `sipdiag regress` compares.

    A response belongs to its request's binding (same Call-ID and CSeq: its transaction); one whose REGISTER is
    not in the capture to the first binding of its To AOR, else one of its own without a Contact. A registration's
    outcome is its last transaction's: unanswered without a final response, registered on 2xx (deregistered when
    its last REGISTER asked for expires 0 or Contact *), failed otherwise.
    The AOR is the To URI without parameters, `sip:user@host[:port]` (RFC 3261 §10.3 step 5), a tel: URI as
    written (aor_of)."""
    bindings: dict[tuple[str, str], list[dict]] = {}  # in order of their first message, as sipdiag sorts them
    binding_of: dict[tuple[str, int], tuple[str, str]] = {}  # (Call-ID, CSeq) -> binding
    for m in msgs:
        if m["cseq_method"] != "REGISTER":
            continue
        aor = aor_of(m)
        tx = (m["call_id"], m["cseq"])
        if m["method"] == "REGISTER":
            if tx not in binding_of:
                contact = m["contact"] or ""
                # the binding whose Contact is this one as a URI (RFC 3261 §10.3 step 7, §19.1.4), else a new one
                binding_of[tx] = (aor, contact) if (aor, contact) in bindings else next(
                    (k for k in bindings if k[0] == aor and k[1] and contact and same_contact(k[1], contact)),
                    (aor, contact))
            key = binding_of[tx]
        else:
            key = binding_of.get(tx) or next((k for k in bindings if k[0] == aor), (aor, ""))
        bindings.setdefault(key, []).append(m)
    out = []
    for (aor, contact), ms in bindings.items():
        reqs = [m for m in ms if m["method"] == "REGISTER"]
        finals = [m for m in ms if m["status"] and m["status"] >= 200]
        final_of: dict[tuple[str, int], int | None] = {}  # transaction -> its final status, in order
        for m in ms:
            tx = (m["call_id"], m["cseq"])
            if final_of.setdefault(tx, None) is None and m["status"] and m["status"] >= 200:
                final_of[tx] = m["status"]
        last = list(final_of.values())[-1]
        # a 2xx to a REGISTER that asked to remove the binding (expires 0 or Contact *) removed it (§10.2.2)
        removal = bool(reqs) and (reqs[-1]["contact"] == "*" or reqs[-1].get("expires") == 0)
        outcome = ("unanswered" if last is None else "failed" if not 200 <= last < 300
                   else "deregistered" if removal else "registered")
        out.append({
            "call_id": (reqs or ms)[0]["call_id"],  # the first; a binding may span several
            "aor": aor,
            "contact": contact,
            "outcome": outcome,
            "final_status": last,
            # one challenge per challenged request (transaction), whatever the retransmissions
            "challenges": len({(m["call_id"], m["cseq"]) for m in finals if m["status"] in (401, 407)}),
            "requests": len(reqs),
            "statuses": [m["status"] for m in finals],
        })
    return out


# ---- RTP, DTMF, fragments, ICMP (one tshark pass) ---------------------------------------

MEDIA_FILTER = "rtp || rtpevent || ip.flags.mf == 1 || ip.frag_offset > 0 || icmp"
MEDIA_FIELDS = ["ip.src", "ip.dst", "udp.srcport", "udp.dstport", "rtp.p_type", "rtp.seq", "rtp.ssrc",
                "rtp.timestamp", "rtpevent.event_id", "ip.id", "ip.frag_offset", "ip.flags.mf", "ip.len",
                "icmp.type", "icmp.code"]


def media_facts(pcap: Path) -> dict:
    """RTP flows, DTMF digits, IP fragments and ICMP errors of a capture."""
    rows = _tshark(pcap, MEDIA_FILTER, MEDIA_FIELDS)
    return {"rtp": rtp_flows(rows), "dtmf": dtmf_digits(rows), "fragments": fragments(rows),
            "icmp": icmp_errors(rows)}


def rtp_flows(rows: list[dict]) -> list[dict]:
    """RTP packets per (src, dst, payload type), with the first and last sequence numbers."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for layers in rows:
        # The first IP/UDP values: for ICMP errors tshark also shows the quoted inner packet.
        if "rtp.p_type" not in layers or "icmp.type" in layers:
            continue
        key = (f"{_one(layers, 'ip.src')}:{_one(layers, 'udp.srcport')}",
               f"{_one(layers, 'ip.dst')}:{_one(layers, 'udp.dstport')}",
               int(_one(layers, "rtp.p_type")))
        groups[key].append(int(_one(layers, "rtp.seq")))
    return [{"src": src, "dst": dst, "payload_type": pt, "packets": len(seqs),
             "first_seq": seqs[0], "last_seq": seqs[-1]}
            for (src, dst, pt), seqs in sorted(groups.items())]


def dtmf_digits(rows: list[dict]) -> str:
    """RFC 4733 digits: one per event (an event is its RTP timestamp; §2.5.1.2)."""
    seen, digits = set(), []
    for layers in rows:
        if "rtpevent.event_id" not in layers or "icmp.type" in layers:
            continue
        key = (_one(layers, "rtp.ssrc"), _one(layers, "rtp.timestamp"))
        event = int(_one(layers, "rtpevent.event_id"))
        if key not in seen and event < len(DTMF_DIGITS):
            seen.add(key)
            digits.append(DTMF_DIGITS[event])
    return "".join(digits)


def fragments(rows: list[dict]) -> dict | None:
    """IPv4 fragments grouped by datagram (src, dst, IP id); None when there are none."""
    datagrams: dict[tuple, list[tuple[int, int]]] = defaultdict(list)
    count = 0
    for layers in rows:
        offset = int(_one(layers, "ip.frag_offset") or 0)
        more = _one(layers, "ip.flags.mf") in ("1", "True", "true")
        if "icmp.type" in layers or not (more or offset):
            continue
        count += 1
        key = (_one(layers, "ip.src"), _one(layers, "ip.dst"), _one(layers, "ip.id"))
        datagrams[key].append((offset, int(_one(layers, "ip.len")) - 20))
    if not datagrams:
        return None
    return {
        "datagrams": len(datagrams),
        "fragments": count,
        "first_fragments": sum(1 for v in datagrams.values() for off, _ in v if off == 0),
        "fragments_per_datagram": sorted({len(v) for v in datagrams.values()}),
        "datagram_sizes": sorted({sum(length for _, length in v) for v in datagrams.values()}),
        "sources": sorted({k[0] for k in datagrams}),
    }


def icmp_errors(rows: list[dict]) -> dict[str, int]:
    """ICMP messages by 'type/code' (3/3 is port unreachable)."""
    found = Counter(f"{_one(r, 'icmp.type')}/{_one(r, 'icmp.code')}" for r in rows if "icmp.type" in r)
    return dict(sorted(found.items()))


def scanner(msgs: list[dict]) -> dict | None:
    """Requests from SIP scanners (sipvicious announces itself in User-Agent) and what they learnt."""
    agents = sorted({m["user_agent"] for m in msgs if m["user_agent"] and m["method"]})
    scan = [m for m in msgs if m["method"] and m["user_agent"] and "scanner" in m["user_agent"].lower()]
    if not scan:
        return None
    challenged = sorted({m["to_user"] for m in msgs
                         if m["status"] in (401, 407) and m["cseq_method"] == "REGISTER"})
    return {
        "sources": sorted({m["src"].split(":")[0] for m in scan}),
        "user_agents": agents,
        "requests": dict(sorted(Counter(m["method"] for m in scan).items())),
        "extensions_challenged": challenged,
    }


def read(pcap: Path) -> dict:
    """All facts of one capture."""
    msgs = sip_messages(pcap)
    media = media_facts(pcap)
    return {
        "messages": message_counts(msgs),
        "calls": calls(msgs),
        "registrations": registrations(msgs),
        "rtp": media["rtp"],
        "dtmf": media["dtmf"],
        "fragments": media["fragments"],
        "icmp": media["icmp"],
        "scanner": scanner(msgs),
    }
