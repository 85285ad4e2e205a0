"""Rewriting one captured frame: MAC, ARP and IP addresses, payloads, and the checksums that cover them."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from .checksum import adjust, ones_sum
from .layout import IpLayer, Layout, Transport, decode
from .media import drop_rtp_payload, is_rtcp, is_rtp, is_stun, rewrite_rtcp, rewrite_stun
from .pseudonyms import Pseudonyms
from .textrewrite import TextRewriter

SIP_MARK = b"SIP/2.0"


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
        for layer in reversed(lay.ips):
            if layer.checksum_off is not None:
                self._fix(ed, layer.checksum_off, ed.sums(layer.off, layer.header_end))
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
        elif t.kind == "tcp" and payload and self.drop_other and layer.frag_key is None:
            self.counts.other_payloads_dropped += 1  # not SIP (SIP streams have a patch): TLS, HTTP, ...
            ed.put(t.payload_off, bytes(len(payload)))
        if t.kind == "icmp6":
            self._neighbor_discovery(ed, t, layer.payload_end)
        end = layer.payload_end
        if t.checksum_off + 2 > end:
            return
        old_sum, new_sum = ed.sums(t.off, end)
        if t.kind != "icmp4":  # UDP, TCP and ICMPv6 checksums cover the addresses (RFC 768, 793, 4443 §2.3)
            old_sum, new_sum = _add(old_sum, pseudo[0]), _add(new_sum, pseudo[1])
        extra = self.extra_sums.get(frame)
        if extra is not None:
            old_sum, new_sum = _add(old_sum, extra[0]), _add(new_sum, extra[1])
        current = int.from_bytes(ed.buf[t.checksum_off:t.checksum_off + 2], "big")
        if t.kind == "udp" and current == 0 and layer.version == 4:
            return  # no checksum was sent (RFC 768): none is written
        self._fix(ed, t.checksum_off, (old_sum, new_sum), zero_is_none=t.kind == "udp")

    def _neighbor_discovery(self, ed: _Editor, t: Transport, end: int) -> None:
        # Neighbor Solicitation/Advertisement carry a target address and link-layer address options
        # (RFC 4861 §4.3, §4.4, §4.6.1).
        if ed.buf[t.off] not in (135, 136) or t.off + 24 > end:
            return
        ed.put(t.off + 8, self._ip(ed.buf[t.off + 8:t.off + 24]))
        pos = t.off + 24
        while pos + 8 <= end and ed.buf[pos + 1]:
            if ed.buf[pos] in (1, 2) and ed.buf[pos + 1] == 1:
                ed.put(pos + 2, self.p.mac(bytes(ed.buf[pos + 2:pos + 8])))
            pos += ed.buf[pos + 1] * 8

    def _udp_payload(self, payload: bytes) -> bytes:
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
