"""`sipdiag anonymize`: a capture that can be shared, whose analysis finds what the original's finds.

Two passes over the file. The first reads every packet's addresses and parses its SIP with the project's
parsers (also SIP over TCP and in IP fragments, put together) to learn every address, host name, user name and
digest value the capture holds. The second writes the capture again with each of them replaced by its keyed
pseudonym (`pseudonyms.py`): MAC, ARP and IP headers, ICMP quotes, SIP and SDP text, RTCP SDES, STUN addresses,
with every checksum updated (RFC 1624). Pseudonyms keep the length of what they replace, so no length field,
TCP sequence number or fragment offset changes. `docs/anonymize.md` lists what is replaced and what is not.

In Python::

    from sipdiag.anonymize import anonymize
    result = anonymize("call.pcap", "call-anon.pcap", key=b"ticket-4711")
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..errors import CaptureReadError, UsageError
from ..parsers.hep import HEP3_MAGIC, looks_like_hep, parse_hep
from ..parsers.sip import parse_sip
from .capfile import WalkInfo, spool, walk
from .flows import Flows
from .frames import SIP_MARK, Counts, FrameRewriter, sctp_user_data
from .layout import decode
from .pseudonyms import Pseudonyms
from .sipfields import Harvest
from .textrewrite import TextRewriter

__all__ = ["AnonymizeResult", "anonymize"]


@dataclass(frozen=True, slots=True)
class AnonymizeResult:
    """What one run did (counts of distinct original values replaced; never the values or the mapping)."""

    source: str
    output: str
    format: str  # pcap | pcapng, the same as the input's
    frames: int
    frames_changed: int
    addresses: int  # distinct IP addresses seen
    host_names: int
    user_names: int  # user parts, numbers and display names
    digest_values: int  # nonce, cnonce, response, opaque
    sip_payloads: int
    rtp_payloads_dropped: int
    other_payloads_dropped: int
    checksums_updated: int
    name_resolution_blocks_dropped: int
    other_blocks_dropped: int  # pcapng decryption secrets, custom, journal blocks, ... (capfile's docstring)
    options_dropped: int  # pcapng options left out: comments, interface names, addresses, filters, OS, ...
    damaged_tail_dropped: bool
    read_error: str | None  # why reading stopped early (a damaged gzip stream: pcap.read-error), else None
    reproducible: bool  # a --key was given


def anonymize(source: str | os.PathLike, output: str | os.PathLike, *, key: bytes | None = None,
              drop_payload: bool = False, drop_other: bool = False) -> AnonymizeResult:
    """Write an anonymised copy of a pcap/pcapng capture.

    :param source: the capture (pcap or pcapng, gzip or not; '-' for standard input).
    :param output: where to write the copy, in the input's format, uncompressed.
    :param key: the HMAC key; the same key gives the same pseudonyms in every run. None: a random key, so that
        two shared captures cannot be linked and no pseudonym can be checked against a guess.
    :param drop_payload: zero RTP payloads (the voice itself); headers stay, so media statistics do not change.
    :param drop_other: zero the payloads that are not looked into otherwise (their addresses and names would
        stay): UDP/TCP payloads that are not SIP, RTP, RTCP, STUN or HEP (DNS, DHCP, SNMP, H.323, TLS, HTTP, ...),
        SCTP user data that is not SIP and its state cookies and heartbeats, other IP protocols, GRE payloads
        and tunnelled packets that cannot be read (docs/anonymize.md).
    """
    if str(source) != "-" and str(output) != "-" and Path(output).resolve() == Path(source).resolve():
        raise UsageError("the output would overwrite the capture it is made from",
                         hint="Give another file name with -o.")
    path, tmp = spool(str(source))
    try:
        harvest, flows, macs = _first_pass(path)
        pseudonyms = Pseudonyms(key if key is not None else secrets.token_bytes(32), harvest.originals(macs))
        pseudonyms.sequences(harvest.users)  # before any number is given a pseudonym
        text = TextRewriter(pseudonyms, harvest)
        patches, extra = flows.patches(text.rewrite)
        counts = Counts()
        frames = FrameRewriter(pseudonyms, text, drop_payload=drop_payload, drop_other=drop_other, patches=patches,
                               extra_sums=extra, counts=counts)
        info = WalkInfo()
        try:
            with open(output, "wb") as out:
                for record in walk(path, info):
                    if record.data is None:
                        out.write(record.head)
                    else:
                        out.write(record.head)
                        out.write(frames.rewrite(record.frame, record.linktype, record.data))
                        out.write(record.tail)
        except OSError as e:
            raise CaptureReadError(f"{output}: cannot write ({e.strerror or e})",
                                   hint="Check the folder exists and that you may write there.") from None
    finally:
        if tmp is not None:
            tmp.cleanup()
    return AnonymizeResult(
        source=str(source), output=str(output), format=info.format, frames=counts.frames,
        frames_changed=counts.frames_changed, addresses=len(harvest.ips), host_names=len(harvest.hosts),
        user_names=len(harvest.users | harvest.displays), digest_values=len(harvest.tokens),
        sip_payloads=counts.sip_payloads, rtp_payloads_dropped=counts.rtp_payloads_dropped,
        other_payloads_dropped=counts.other_payloads_dropped,
        checksums_updated=counts.checksums_updated, name_resolution_blocks_dropped=info.dropped_blocks,
        other_blocks_dropped=info.other_blocks_dropped + info.blocks_blanked, options_dropped=info.options_dropped,
        damaged_tail_dropped=info.damaged_tail, read_error=info.read_error, reproducible=key is not None)


def _first_pass(path: Path) -> tuple[Harvest, Flows, set[bytes]]:
    """Every address, MAC and SIP value of the capture; TCP streams and fragments put aside."""
    harvest, flows, macs = Harvest(), Flows(), set()
    for record in walk(path):
        data = record.data
        if data is None:
            continue
        lay = decode(record.linktype, data)
        for off in lay.macs:
            macs.add(bytes(data[off:off + 6]))
        for off in lay.arp_ips:
            harvest.ips.add(ipaddress.ip_address(bytes(data[off:off + 4])))
        for layer in lay.ips + ([lay.quoted] if lay.quoted is not None else []):
            if layer.dst_off + layer.addr_len <= len(data):
                harvest.ips.add(ipaddress.ip_address(bytes(data[layer.src_off:layer.src_off + layer.addr_len])))
                harvest.ips.add(ipaddress.ip_address(bytes(data[layer.dst_off:layer.dst_off + layer.addr_len])))
        quoted = lay.quoted_transport
        if quoted is not None and quoted.kind == "udp":  # a SIP request an ICMP error quotes (maybe cut short)
            _harvest_sip(harvest, bytes(data[quoted.payload_off:quoted.payload_end]))
        if not lay.ips:
            continue
        layer, t = lay.ips[-1], lay.transport
        if layer.frag_key is not None:
            flows.add_fragment(layer.frag_key, record.frame, layer.frag_offset, layer.frag_more,
                               bytes(data[layer.payload_off:layer.payload_end]), t is not None and t.kind == "udp")
        elif t is not None and t.kind == "tcp":
            payload = bytes(data[t.payload_off:t.payload_end])
            if payload[:4] == HEP3_MAGIC:  # HEP over TCP: one message per segment, as sipdiag analyze reads it
                _harvest_udp(harvest, payload)
            else:
                key = (bytes(data[layer.src_off:layer.dst_off + layer.addr_len]), t.sport, t.dport)
                flows.add_segment(key, record.frame, t.seq, payload)
        elif t is not None and t.kind == "udp":
            _harvest_udp(harvest, bytes(data[t.payload_off:t.payload_end]))
        elif t is not None and t.kind == "sctp":
            for user in sctp_user_data(data, t):
                _harvest_sip(harvest, user)
    for payload in flows.messages():
        message = parse_sip(payload)
        if message is not None:
            harvest.add_message(message)
    return harvest, flows, macs


def _harvest_udp(harvest: Harvest, payload: bytes) -> None:
    """SIP, or the SIP and the addresses a HEP message carries."""
    if payload[:4] == HEP3_MAGIC or (looks_like_hep(payload) and SIP_MARK not in payload[:4]):
        packet, _problem = parse_hep(payload)
        if packet is not None:
            for address in (packet.src_ip, packet.dst_ip):
                harvest.add_host(address)
            _harvest_sip(harvest, packet.payload)
        return
    _harvest_sip(harvest, payload)


def _harvest_sip(harvest: Harvest, payload: bytes) -> None:
    if SIP_MARK in payload[:2048]:
        message = parse_sip(payload)
        if message is not None:
            harvest.add_message(message)
