"""SIP ALG rules that read the message bytes (RULES.md §3.2): a body whose length no longer matches its
Content-Length, and the same message seen at two points of the path with its headers or SDP changed.

A SIP ALG rewrites addresses inside the SIP text. Rewriting 192.168.1.10 as 203.0.113.200 adds one octet per
occurrence; an ALG that forgets to fix Content-Length leaves the fingerprint this module measures. Captures taken
on both sides of the router (two interfaces, or LAN and WAN copies in one file) show the rewrite itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..addresses import join_address
from ..media import is_private
from ..parsers.sipheaders import is_rfc3261_branch
from . import Hit, check
from .nat import all_transactions, message_at

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..model import Transaction
    from ..parsers.sip import SipMessage

_ALG_CUSTOMER = {
    "en": "Your router changes your phone's call messages on the way (a feature usually called 'SIP ALG', 'SIP "
          "Helper' or 'SIP inspection') and damages them. Please switch it off in the router settings (often under "
          "NAT, ALG, Firewall or Advanced), then restart the router and the phones.",
    "ru": "Ваш роутер изменяет служебные сообщения телефона по дороге (функция «SIP ALG», «SIP Helper» или «SIP "
          "inspection») и портит их. Отключите её в настройках роутера (обычно в разделах NAT, ALG, Firewall или "
          "«Дополнительно»), затем перезагрузите роутер и телефоны.",
}
# The parser's framing anomalies (sipdiag.parsers.sip): the body is shorter than Content-Length says, or longer.
_LENGTH_ANOMALIES = ("sip.bad-content-length", "sip.trailing-octets")
# Rewriting one IPv4 literal changes the length by at most 8 octets (7 to 15 characters).
MAX_REWRITE_GROWTH = 8
_IPV4_RE = re.compile(rb"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")


def _label(m: SipMessage) -> str:
    return m.method if m.is_request and m.method else f"{m.status_code} {m.reason or ''}".rstrip()


def _declared_length(m: SipMessage) -> int | None:
    if m.headers.count("content-length") != 1:
        return None  # conflicting or absent: not a length an ALG could have left stale
    text = m.headers.first_values.get("content-length", "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def _fingerprint(m: SipMessage, body: bytes, delta: int) -> tuple[str, int] | None:
    """(private address, occurrences of the packet's source address) when `delta` is exactly what rewriting that
    many private addresses into the source address adds (RULES.md alg.content-length-mismatch)."""
    public = m.src_ip.encode()
    n = body.count(public)
    if not n:
        return None
    for private in sorted({a.decode() for a in _IPV4_RE.findall(m.raw[: m.raw_len or len(m.raw)])}):
        if is_private(private) and n * (len(public) - len(private)) == delta:
            return private, n
    return None


@check(
    id="alg.content-length-mismatch", category="router", severity="major", owner="customer",
    title={
        "en": "The body of a SIP message does not match its Content-Length: a router rewrote it",
        "ru": "Тело SIP-сообщения не совпадает с его Content-Length: роутер переписал сообщение",
    },
    customer=_ALG_CUSTOMER,
    engineer={
        "en": "{message} (frame {frame}) from {source} over UDP declares Content-Length {declared} but carries "
              "{actual} body octets ({delta}). {fingerprint_en}RFC 3261 §18.3: surplus octets are discarded and a "
              "short body makes the message invalid (400 for a request, a response is dropped), so the end of the "
              "SDP is lost. Disable the router's SIP ALG, or move SIP to TLS/TCP or a non-standard port.",
        "ru": "{message} (кадр {frame}) с {source} по UDP объявляет Content-Length {declared}, но несёт {actual} "
              "октетов тела ({delta}). {fingerprint_ru}RFC 3261 §18.3: лишние октеты отбрасываются, а короткое тело "
              "делает сообщение недействительным (400 на запрос, ответ отбрасывается), поэтому конец SDP теряется. "
              "Отключите SIP ALG на роутере или переведите SIP на TLS/TCP или нестандартный порт.",
    },
)
def content_length_mismatch(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    SIP over UDP whose body is longer or shorter than its Content-Length (the parser's `sip.trailing-octets` and
    `sip.bad-content-length` anomalies, or a surplus of white space that a rewrite explains exactly). When the difference equals the number of occurrences of the packet's
    source address times the length change from a private address still present in the message (192.168.1.10 to
    203.0.113.200 adds one octet each), the rewrite is certain (confidence high). Without that match only a surplus
    that rewriting the body's addresses could explain (at most 8 octets per address) is reported (medium); a
    short body needs the match (otherwise a lost fragment or a snap-length cut is as likely).

    ## Why it matters
    The receiver frames the body by Content-Length (RFC 3261 §18.3): the last SDP lines (a=sendrecv,
    telephone-event) are cut off, or the message is rejected with 400 or dropped - one-way audio, hold and DTMF
    faults, calls that fail to set up.

    ## How to fix
    Switch off the router's SIP ALG; if impossible, SIP over TLS or TCP, or a non-5060 port the ALG ignores.

    ## References
    RFC 3261 §18.3, §20.14; RFC 4787 REQ-10
    """
    frames = {a.frame for a in analysis.anomalies if a.code in _LENGTH_ANOMALIES and a.frame is not None}
    calls = {c.call_id for c in analysis.calls}
    for m in analysis.messages:
        # The parser flags a surplus only when it is not white space; an ALG that adds one octet per address
        # pushes the final CRLF of the SDP past Content-Length, so octets after the declared body count too.
        if m.transport != "udp" or (m.frame not in frames and not 0 < m.raw_len < len(m.raw)):
            continue
        declared = _declared_length(m)
        if declared is None:
            continue
        body_start = (m.raw_len or len(m.raw)) - len(m.body)
        body = m.raw[body_start:]
        delta = len(body) - declared
        if delta == 0 or (delta < 0 and analysis.capture.truncated_packets):
            continue  # a short body in a capture with cut packets may be the snap length, not the network
        found = _fingerprint(m, body, delta)
        if not found:
            if m.frame not in frames or delta < 0:
                continue  # white-space padding; or a short body no rewrite explains (a lost fragment, a cut)
            if delta > MAX_REWRITE_GROWTH * len(_IPV4_RE.findall(body)):
                continue  # more than rewriting every address in the body could add: a broken sender, not an ALG
        values = {
            "message": _label(m), "frame": m.frame, "source": join_address(m.src_ip, m.src_port), "declared": declared,
            "actual": len(body), "delta": f"{delta:+d}", "fingerprint_en": "", "fingerprint_ru": "",
        }
        if found:
            private, n = found
            values["rewritten"] = f"{private} -> {m.src_ip} x{n}"
            values["fingerprint_en"] = (f"That is exactly {n} rewrite(s) of the private {private} into the public "
                                        f"{m.src_ip} ({len(m.src_ip) - len(private):+d} octets each): a SIP ALG "
                                        "rewrote the body without fixing Content-Length. ")
            # "ровно 2 замены ... на 4 октета": counts before nouns sipdiag.russian agrees (a signed "+4 октет"
            # it would not, so the sign is a word). The length change is the address's, not "каждая" replacement's,
            # which would not fit a single one.
            grown = len(m.src_ip) - len(private)
            values["fingerprint_ru"] = (f"Это ровно {n} замен частного {private} на публичный {m.src_ip} (публичный "
                                        f"адрес {'длиннее' if grown > 0 else 'короче'} на {abs(grown)} октетов): "
                                        "SIP ALG переписал тело, не исправив Content-Length. ")
        yield Hit(m.call_id if m.call_id in calls else None, (m.frame,), values,
                  confidence="high" if found else "medium")


# Differences a legitimate hop makes; anything else changed between two capture points is a middlebox's doing.
_EXPECTED_CHANGES = frozenset({"max-forwards", "record-route", "route"})
# SDP lines an ALG rewrites (RULES.md alg.message-modified-in-transit).
_SDP_ADDRESS_LINES = (b"c=", b"o=", b"m=", b"a=rtcp:")
MAX_CHANGES = 8  # listed in the evidence; the count says how many there were


def _listed(changes: list[str]) -> str:
    return "; ".join(changes[:MAX_CHANGES]) + (" ..." if len(changes) > MAX_CHANGES else "")


def message_changes(before: SipMessage, after: SipMessage) -> list[tuple[str, str]]:
    """What differs between two copies of one message, as `Header: old -> new` lines (headers in their
    canonical lower-case names; SDP address lines one by one), each in English and in Russian."""
    def table(m: SipMessage) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, value in m.headers.items:
            if name not in _EXPECTED_CHANGES:
                out.setdefault(name, []).append(value)
        return out

    a, b = table(before), table(after)
    changes: list[tuple[str, str]] = []
    for name in sorted(set(a) | set(b)):
        if a.get(name) != b.get(name):
            old, new = ("; ".join(x[name])[:160] if name in x else None for x in (a, b))
            en, ru = (f"{name}: {absent if old is None else old} -> {absent if new is None else new}"
                      for absent in ("(absent)", "(нет)"))
            changes.append((en, ru))
    if before.body != after.body:
        old_lines = before.body.splitlines()
        new_lines = after.body.splitlines()
        if (before.content_type or after.content_type) == "application/sdp" and len(old_lines) == len(new_lines):
            for old, new in zip(old_lines, new_lines):
                if old != new:
                    line = f"{old.decode('utf-8', 'replace')[:120]} -> {new.decode('utf-8', 'replace')[:120]}"
                    address = old.startswith(_SDP_ADDRESS_LINES)
                    changes.append((f"{'SDP' if address else 'SDP line'} {line}",
                                    f"{'SDP' if address else 'строка SDP'} {line}"))
        else:
            changes.append((f"body: {len(before.body)} octets -> {len(after.body)} octets, content differs",
                            f"тело: октетов было {len(before.body)}, стало {len(after.body)}, содержимое другое"))
    return changes


def _hop(m: SipMessage) -> str:
    return f"{join_address(m.src_ip, m.src_port)} -> {join_address(m.dst_ip, m.dst_port)}"


@check(
    id="alg.message-modified-in-transit", category="router", severity="major", owner="customer",
    title={
        "en": "The same SIP message was changed between two capture points: a SIP ALG is rewriting it",
        "ru": "Одно и то же SIP-сообщение изменилось между двумя точками захвата: его переписывает SIP ALG",
    },
    customer=_ALG_CUSTOMER,
    engineer={
        "en": "{message} of {call_ref} seen at two points of the path (frame {before_frame}: {before_hop}; frame "
              "{after_frame}: {after_hop}) with {count} change(s) beyond the expected IP/port translation: "
              "{changes}. Nothing legitimate between these points alters {fields}: a middlebox (SIP ALG) rewrote "
              "the message. Disable it (e.g. MikroTik /ip firewall service-port sip disabled, Cisco no ip nat "
              "service sip udp port 5060, FortiGate sip-helper off) or move SIP to TLS.",
        "ru": "{message} из {call_ref} виден в двух точках пути (кадр {before_frame}: {before_hop}; кадр "
              "{after_frame}: {after_hop}), и изменений сверх ожидаемой трансляции IP/портов: {count} "
              "({changes_ru}). Ничто легитимное между этими точками не меняет {fields_ru}: промежуточное устройство "
              "(SIP ALG) переписало сообщение. Отключите его (например, MikroTik /ip firewall service-port sip "
              "disabled, Cisco no ip nat service sip udp port 5060, FortiGate sip-helper off) или переведите SIP на "
              "TLS.",
    },
)
def message_modified_in_transit(analysis: Analysis) -> Iterator[Hit]:
    """
    ## What it detects
    One transaction (same Call-ID, CSeq method and top Via branch) seen on two hops of the path - e.g. the LAN and
    WAN copies of a request in one capture, or two interfaces of a pcapng - whose copies differ in anything but
    Max-Forwards, Record-Route and Route: Via sent-by or parameters (rport removed), Contact, From/To,
    Content-Length, SDP c=/o=/m=/a=rtcp. The first copy on each hop is compared, so retransmissions do not count.

    ## Why it matters
    It is the definitive proof of a rewriting middlebox (confidence high): whatever the single-capture
    fingerprints suggest, here the change itself is on record, with before and after.

    ## How to fix
    Disable the SIP ALG / SIP helper / SIP inspection on the router or firewall between the two points; if it
    cannot be disabled, use SIP over TLS so it cannot read the messages.

    ## References
    RFC 4787 REQ-10; RFC 3261 §16.6 (what a proxy may change), §18.2.1; vendor ALG guidance
    """
    seen: set[tuple] = set()
    twice: set[tuple] = set()
    for tx in all_transactions(analysis):
        # Only RFC 3261 branches identify a transaction across hops (RFC 2543 peers reuse values like "0").
        if is_rfc3261_branch(tx.branch):
            key = (tx.branch, tx.method, tx.call_id)
            if key in seen:
                twice.add(key)
            else:
                seen.add(key)
    if not twice:
        return
    groups: dict[tuple, list[Transaction]] = {}
    for tx in all_transactions(analysis):
        key = (tx.branch, tx.method, tx.call_id)
        if key in twice and tx.request_frame is not None:
            groups.setdefault(key, []).append(tx)
    calls = {c.call_id for c in analysis.calls}
    for (_branch, method, call_id), txs in groups.items():
        txs.sort(key=lambda t: t.ts_ns)
        first = txs[0]
        for other in txs[1:]:
            # The same request on both sides of a NAT: one end of the hop is the same (the server the request
            # goes to, or the client an inbound request comes from), the other was translated. A request sent to
            # two servers (failover, forking) is two messages, not one seen twice.
            if (other.src == first.src) == (other.dst == first.dst) or other.cseq != first.cseq:
                continue
            pairs = [(first.request_frame, other.request_frame)]
            theirs = {code: frame for code, frame, _ts in other.responses}
            pairs += [(frame, theirs[code]) for code, frame, _ts in first.responses if code in theirs]
            for a_frame, b_frame in pairs:
                a, b = message_at(analysis, a_frame), message_at(analysis, b_frame)
                if a is None or b is None:
                    continue
                before, after = (a, b) if a.ts_ns <= b.ts_ns else (b, a)
                changes = message_changes(before, after)
                if not changes:
                    continue
                fields = sorted({"SDP" if c.startswith("SDP") else c.split(":", 1)[0] for c, _ in changes})
                yield Hit(call_id if call_id in calls else None, (before.frame, after.frame), {
                    "message": _label(before), "call_ref": f"Call-ID {call_id}", "method": method,
                    "before_frame": before.frame, "after_frame": after.frame,
                    "before_hop": _hop(before), "after_hop": _hop(after), "count": len(changes),
                    "changes": _listed([en for en, _ in changes]), "changes_ru": _listed([ru for _, ru in changes]),
                    "fields": ", ".join(fields),
                    "fields_ru": ", ".join("тело" if f == "body" else f for f in fields),
                })
                break
            break
