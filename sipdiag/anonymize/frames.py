"""Rewriting one captured frame: MAC, ARP and IP addresses, payloads, and the checksums that cover them."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

from dpkt.crc32c import cksum as crc32c

from ..parsers.hep import HEP3_MAGIC, looks_like_hep
from .checksum import adjust, ones_sum
from .hep import rewrite_hep
from .layout import IpLayer, Layout, Transport, decode
from .media import drop_rtp_payload, is_rtcp, is_rtp, is_stun, rewrite_rtcp, rewrite_stun
from .pseudonyms import Pseudonyms
from .textrewrite import TextRewriter

SIP_MARK = b"SIP/2.0"
# SCTP chunks (RFC 9260 §3.2): DATA, INIT, INIT ACK, HEARTBEAT, HEARTBEAT ACK, COOKIE ECHO.
SCTP_DATA, SCTP_INIT, SCTP_INIT_ACK, SCTP_HEARTBEAT, SCTP_HEARTBEAT_ACK, SCTP_COOKIE_ECHO = 0, 1, 2, 4, 5, 10
# INIT/INIT ACK parameters (RFC 9260 §3.3.2.1): IPv4 and IPv6 address, state cookie, host name address.
SCTP_IPV4, SCTP_IPV6, SCTP_COOKIE, SCTP_HOST_NAME = 5, 6, 7, 11


@dataclass
class Counts:
    """What the second pass changed, for the summary."""

    frames: int = 0
    frames_changed: int = 0
    sip_payloads: int = 0
    rtp_payloads_dropped: int = 0
    other_payloads_dropped: int = 0
    checksums_updated: int = 0


@dataclass
class _Editor:
    buf: bytearray
    changes: list[tuple[int, bytes, bytes]] = field(default_factory=list)

    def put(self, off: int, new: bytes) -> None:
        old = bytes(self.buf[off:off + len(new)])
        if old != new:
            self.buf[off:off + len(new)] = new
            self.changes.append((off, old, new))

    def sums(self, start: int, end: int) -> tuple[int, int]:
        """Ones' complement sums (old, new) of the changes inside [start, end), aligned to `start`."""
        old_sum = new_sum = 0
        for off, old, new in self.changes:
            if start <= off and off + len(old) <= end:
                odd = (off - start) % 2 == 1
                old_sum = _add(old_sum, ones_sum(old, odd))
                new_sum = _add(new_sum, ones_sum(new, odd))
        return old_sum, new_sum


def _add(a: int, b: int) -> int:
    total = a + b
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def looks_like_text(payload: bytes) -> bool:
    """A text protocol (SIP fragments, HTTP, syslog): nearly all printable ASCII."""
    sample = payload[:512]
    printable = sum(1 for c in sample if 32 <= c < 127 or c in (9, 10, 13))
    return len(sample) >= 8 and printable >= 0.95 * len(sample)


def sctp_user_data(data: bytes, t: Transport) -> list[bytes]:
    """The user data of each DATA chunk of an SCTP packet (RFC 9260 §3.3.1), for the first pass's harvest."""
    out, pos = [], t.payload_off
    while pos + 4 <= t.payload_end:
        ctype, _flags, clen = struct.unpack_from("!BBH", data, pos)
        if clen < 4:
            break
        if ctype == SCTP_DATA and clen > 16:
            out.append(bytes(data[pos + 16:min(t.payload_end, pos + clen)]))
        pos += (clen + 3) & ~3
    return out


class FrameRewriter:
    """The second pass for one frame at a time."""

    def __init__(self, pseudonyms: Pseudonyms, text: TextRewriter, *, drop_payload: bool, drop_other: bool,
                 patches: dict[int, bytes], extra_sums: dict[int, tuple[int, int]], counts: Counts) -> None:
        self.p = pseudonyms
        self.text = text
        self.drop_payload = drop_payload
        self.drop_other = drop_other
        self.patches = patches
        self.extra_sums = extra_sums
        self.counts = counts

    def rewrite(self, frame: int, linktype: int, data: bytes) -> bytes:
        self.counts.frames += 1
        lay = decode(linktype, data)
        if not (lay.macs or lay.ips or lay.arp_ips):
            return data
        ed = _Editor(bytearray(data))
        for off in lay.macs:
            ed.put(off, self.p.mac(bytes(ed.buf[off:off + 6])))
        for off in lay.arp_ips:
            ed.put(off, self._ip(ed.buf[off:off + 4]))
        address_changes: list[tuple[int, int]] = []  # per IP layer: (old, new) sums of its two addresses
        for layer in lay.ips:
            address_changes.append(self._addresses(ed, layer))
        if lay.quoted is not None:
            self._quoted(ed, lay.quoted, lay.quoted_transport)
        if lay.ips:
            self._payload(ed, frame, lay, address_changes[-1])
        if self.drop_other:
            for start, end in lay.opaque:  # another IP protocol, a GRE or tunnel payload not read
                if any(ed.buf[start:end]):
                    self.counts.other_payloads_dropped += 1
                    ed.put(start, bytes(end - start))
        for layer in reversed(lay.ips):
            if layer.checksum_off is not None:
                self._fix(ed, layer.checksum_off, ed.sums(layer.off, layer.header_end))
        for t, index in reversed(lay.tunnels):  # after the inner checksums: the outer one covers them
            if t.checksum_off + 2 <= t.payload_end:
                self._transport_sum(ed, t, lay.ips[index], address_changes[index], None)
        out = bytes(ed.buf)
        if out != data:
            self.counts.frames_changed += 1
        return out

    def _ip(self, raw) -> bytes:
        return self.p.ip(ipaddress.ip_address(bytes(raw))).packed

    def _addresses(self, ed: _Editor, layer: IpLayer) -> tuple[int, int]:
        n = layer.addr_len
        old = bytes(ed.buf[layer.src_off:layer.src_off + n]) + bytes(ed.buf[layer.dst_off:layer.dst_off + n])
        if layer.dst_off + n > len(ed.buf):
            return 0, 0
        ed.put(layer.src_off, self._ip(old[:n]))
        ed.put(layer.dst_off, self._ip(old[n:]))
        new = bytes(ed.buf[layer.src_off:layer.src_off + n]) + bytes(ed.buf[layer.dst_off:layer.dst_off + n])
        return ones_sum(old), ones_sum(new)

    def _quoted(self, ed: _Editor, quoted: IpLayer, transport: Transport | None) -> None:
        # The quoted header is part of the ICMP message: its addresses and checksums change like the packet's
        # own did when it was sent, so the error still matches the (anonymised) packet it refers to.
        pseudo = self._addresses(ed, quoted)
        if transport is not None and transport.payload_off < transport.payload_end:
            # The quoted payload names people and hosts as the packet's own did (a SIP request refused with port
            # unreachable, an RTCP report with its CNAME): rewritten the same way.
            payload = bytes(ed.buf[transport.payload_off:transport.payload_end])
            if transport.kind == "udp":
                new = self._udp_payload(payload)
            else:
                new = self.text.rewrite(payload) if SIP_MARK in payload or looks_like_text(payload) else payload
            if new is not payload:
                ed.put(transport.payload_off, new)
            changed = ed.sums(transport.payload_off, transport.payload_end)
            pseudo = _add(pseudo[0], changed[0]), _add(pseudo[1], changed[1])
        if transport is not None and transport.checksum_off + 2 <= len(ed.buf):
            old = int.from_bytes(ed.buf[transport.checksum_off:transport.checksum_off + 2], "big")
            if old or transport.kind == "tcp" or quoted.version == 6:
                self._fix(ed, transport.checksum_off, pseudo, zero_is_none=transport.kind == "udp")
        if quoted.checksum_off is not None and quoted.header_end <= len(ed.buf):
            self._fix(ed, quoted.checksum_off, ed.sums(quoted.off, quoted.header_end))

    def _payload(self, ed: _Editor, frame: int, lay: Layout, pseudo: tuple[int, int]) -> None:
        layer = lay.ips[-1]
        t = lay.transport
        patch = self.patches.get(frame)
        if t is None:
            if patch is not None and layer.frag_key is not None:  # a later fragment of a SIP datagram
                ed.put(layer.payload_off, patch[:layer.payload_end - layer.payload_off])
            return
        start = layer.payload_off if (layer.frag_key is not None and t.kind == "udp") else t.payload_off
        payload = bytes(ed.buf[t.payload_off:t.payload_end])
        if patch is not None:
            ed.put(start, patch[:layer.payload_end - start])
            if layer.frag_key is None:
                self.counts.sip_payloads += 1
        elif layer.frag_key is None and t.kind == "udp" and payload:
            new = self._udp_payload(payload)
            if new is not payload:
                ed.put(t.payload_off, new)
        elif layer.frag_key is not None and t.kind == "udp" and self.drop_other and payload.strip(b"\r\n\x00 ") \
                and not (is_rtp(payload) or is_rtcp(payload) or is_stun(payload)):
            # The first fragment of a datagram that is not SIP (SIP ones have a patch): zeroed, its UDP checksum
            # following; the later fragments keep their bytes (docs/anonymize.md).
            self.counts.other_payloads_dropped += 1
            ed.put(t.payload_off, bytes(len(payload)))
        elif t.kind == "tcp" and payload[:4] == HEP3_MAGIC and layer.frag_key is None:
            # HEP over TCP, one message per segment as `sipdiag analyze` reads it (SIP streams have a patch)
            ed.put(t.payload_off, rewrite_hep(payload, self.p, self.text.rewrite, self._udp_payload))
        elif t.kind == "tcp" and payload and self.drop_other and layer.frag_key is None:
            self.counts.other_payloads_dropped += 1  # not SIP (SIP streams have a patch): TLS, HTTP, ...
            ed.put(t.payload_off, bytes(len(payload)))
        elif t.kind == "sctp" and layer.frag_key is None:
            self._sctp(ed, t)
            return
        if t.kind == "icmp6":
            self._neighbor_discovery(ed, t, layer.payload_end)
        if t.checksum_off + 2 > layer.payload_end:
            return
        self._transport_sum(ed, t, layer, pseudo, self.extra_sums.get(frame))

    def _transport_sum(self, ed: _Editor, t: Transport, layer: IpLayer, pseudo: tuple[int, int],
                       extra: tuple[int, int] | None) -> None:
        old_sum, new_sum = ed.sums(t.off, layer.payload_end)
        if t.kind != "icmp4":  # UDP, TCP and ICMPv6 checksums cover the addresses (RFC 768, 793, 4443 §2.3)
            old_sum, new_sum = _add(old_sum, pseudo[0]), _add(new_sum, pseudo[1])
        if extra is not None:
            old_sum, new_sum = _add(old_sum, extra[0]), _add(new_sum, extra[1])
        current = int.from_bytes(ed.buf[t.checksum_off:t.checksum_off + 2], "big")
        if t.kind == "udp" and current == 0 and layer.version == 4:
            return  # no checksum was sent (RFC 768): none is written
        self._fix(ed, t.checksum_off, (old_sum, new_sum), zero_is_none=t.kind == "udp")

    def _sctp(self, ed: _Editor, t: Transport) -> None:
        """SCTP chunks (RFC 9260 §3.2): SIP in DATA chunks (RFC 4168) rewritten as text, other user data zeroed
        with --drop-other; the addresses and host name an INIT or INIT ACK lists (§3.3.2.1) mapped; the state
        cookie, echoed back, and HEARTBEAT information, both opaque to all but their sender and often holding
        its addresses, zeroed with --drop-other. The CRC32c (RFC 9260 Appendix A) changes by what changed, so a
        wrong one stays wrong."""
        before = bytes(ed.buf[t.off:t.payload_end])
        pos, end = t.payload_off, t.payload_end
        while pos + 4 <= end:
            ctype, _flags, clen = struct.unpack_from("!BBH", ed.buf, pos)
            if clen < 4:
                break
            stop = min(end, pos + clen)
            if ctype == SCTP_DATA and pos + 16 < stop:
                user = bytes(ed.buf[pos + 16:stop])
                if SIP_MARK in user[:2048] or looks_like_text(user):
                    self.counts.sip_payloads += SIP_MARK in user[:2048]
                    ed.put(pos + 16, self.text.rewrite(user))
                elif self.drop_other and any(user):
                    self.counts.other_payloads_dropped += 1
                    ed.put(pos + 16, bytes(len(user)))
            elif ctype in (SCTP_INIT, SCTP_INIT_ACK):
                self._sctp_parameters(ed, pos + 20, stop)
            elif ctype in (SCTP_HEARTBEAT, SCTP_HEARTBEAT_ACK, SCTP_COOKIE_ECHO) and self.drop_other:
                ed.put(pos + 4, bytes(max(0, stop - pos - 4)))
            pos += (clen + 3) & ~3
        after = bytes(ed.buf[t.off:t.payload_end])
        if after != before and t.checksum_off + 4 <= end:
            zero = slice(t.checksum_off - t.off, t.checksum_off - t.off + 4)
            old = bytearray(before)
            new = bytearray(after)
            old[zero] = new[zero] = b"\x00" * 4
            diff = crc32c(bytes(old)) ^ crc32c(bytes(new))
            stored = bytes(ed.buf[t.checksum_off:t.checksum_off + 4])
            order = "big" if int.from_bytes(stored, "big") == crc32c(bytes(old)) else "little"
            ed.put(t.checksum_off, (int.from_bytes(stored, order) ^ diff).to_bytes(4, order))

    def _sctp_parameters(self, ed: _Editor, pos: int, end: int) -> None:
        while pos + 4 <= end:
            ptype, plen = struct.unpack_from("!HH", ed.buf, pos)
            if plen < 4:
                break
            value, stop = pos + 4, min(end, pos + plen)
            if ptype == SCTP_IPV4 and stop - value == 4 or ptype == SCTP_IPV6 and stop - value == 16:
                ed.put(value, self._ip(ed.buf[value:stop]))
            elif ptype == SCTP_HOST_NAME and stop > value:
                name = bytes(ed.buf[value:stop]).split(b"\x00", 1)[0].decode("latin-1")
                ed.put(value, self.p.host(name).encode("latin-1"))
            elif ptype == SCTP_COOKIE and self.drop_other:
                ed.put(value, bytes(stop - value))
            pos += (plen + 3) & ~3

    def _neighbor_discovery(self, ed: _Editor, t: Transport, end: int) -> None:
        # Router Solicitation/Advertisement, Neighbor Solicitation/Advertisement and Redirect carry target and
        # destination addresses and options naming link-layer addresses, prefixes (RFC 4861 §4.1-§4.6) and DNS
        # servers (RDNSS, RFC 8106 §5.1). A prefix is mapped as the address it is written as: pseudonyms do not
        # keep prefixes, so it no longer matches the addresses made from it.
        kind = ed.buf[t.off]
        addresses, options = {133: ((), 8), 134: ((), 16), 135: ((8,), 24), 136: ((8,), 24),
                              137: ((8, 24), 40)}.get(kind, ((), 0))
        if not options or t.off + options > end:
            return
        for at in addresses:
            ed.put(t.off + at, self._ip(ed.buf[t.off + at:t.off + at + 16]))
        pos = t.off + options
        while pos + 8 <= end and ed.buf[pos + 1]:
            otype, size = ed.buf[pos], ed.buf[pos + 1] * 8
            if otype in (1, 2) and size == 8:
                ed.put(pos + 2, self.p.mac(bytes(ed.buf[pos + 2:pos + 8])))
            elif otype == 3 and size == 32 and pos + 32 <= end:
                ed.put(pos + 16, self._ip(ed.buf[pos + 16:pos + 32]))
            elif otype == 25 and pos + size <= end:
                for at in range(pos + 8, pos + size - 15, 16):
                    ed.put(at, self._ip(ed.buf[at:at + 16]))
            pos += size

    def _udp_payload(self, payload: bytes) -> bytes:
        if payload[:4] == HEP3_MAGIC or (looks_like_hep(payload) and SIP_MARK not in payload[:4]):
            return rewrite_hep(payload, self.p, self.text.rewrite, self._udp_payload)
        if SIP_MARK in payload[:2048] or looks_like_text(payload):
            self.counts.sip_payloads += SIP_MARK in payload[:2048]
            return self.text.rewrite(payload)
        if is_stun(payload):
            return rewrite_stun(payload, self.p)
        if is_rtcp(payload):
            return rewrite_rtcp(payload, self.p)
        if is_rtp(payload):
            if self.drop_payload:
                self.counts.rtp_payloads_dropped += 1
                return drop_rtp_payload(payload)
            return payload
        # DNS, DHCP, SNMP, H.323, ...: addresses and names this tool does not look into. CRLF keep-alives
        # (RFC 5626 §4.4.1) stay.
        if self.drop_other and payload.strip(b"\r\n\x00 "):
            self.counts.other_payloads_dropped += 1
            return bytes(len(payload))
        return payload

    def _fix(self, ed: _Editor, off: int, sums: tuple[int, int], zero_is_none: bool = False) -> None:
        if sums[0] == sums[1]:
            return
        old = int.from_bytes(ed.buf[off:off + 2], "big")
        new = adjust(old, *sums)
        if zero_is_none and new == 0:
            new = 0xFFFF  # RFC 768: a computed zero is sent as all ones
        ed.put(off, new.to_bytes(2, "big"))
        self.counts.checksums_updated += 1
