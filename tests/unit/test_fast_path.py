"""sipdiag.parsers.columns: the NumPy classification of whole batches per link type, and the RTP columns."""

from __future__ import annotations

import ipaddress
import shutil
import struct
import subprocess

import numpy as np
import pytest

from sipdiag.parsers.capture import CaptureFile, read_capture
from sipdiag.parsers.columns import DecodedBatch, Kind, decode_batch
from sipdiag.parsers.scan import address, rtp_rows_to_columns
from tests import pcapwriter as pw

T0 = 1_700_000_000_000_000_000
UA, PBX = "192.168.1.10", "203.0.113.5"
UA6, PBX6 = "2001:db8::10", "2001:db8:ffff::5"
OPTIONS = "OPTIONS sip:pbx@203.0.113.5 SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.10;branch=z9hG4bK1\nContent-Length: 0\n\n"


def decode(tmp_path, frames: list[bytes], linktype: int, snaplen: int = 262144, name: str = "c.pcap"
           ) -> tuple[DecodedBatch, object]:
    """Write the frames as one pcap, read it back as one batch and decode it."""
    path = tmp_path / name
    pw.write_pcap(path, [(T0 + i * 20_000_000, f) for i, f in enumerate(frames)], linktype, nanos=True,
                  snaplen=snaplen)
    info = CaptureFile(str(path))
    batches = list(read_capture(path, info))
    assert len(batches) == 1
    return decode_batch(batches[0], info.interfaces), batches[0]


def rtp_udp(src: str, dst: str, sport: int = 40000, dport: int = 50000, **rtp) -> bytes:
    """An IP packet (v4 or v6 from src) carrying one RTP packet over UDP."""
    payload = pw.udp(sport, dport, pw.rtp_packet(**rtp), src, dst)
    if ":" in src:
        return pw.ipv6(src, dst, 17, payload)
    return pw.ipv4(src, dst, 17, payload)


def sip_udp(src: str, dst: str, text: str = OPTIONS, sport: int = 5060, dport: int = 5060) -> bytes:
    payload = pw.udp(sport, dport, pw.sip_bytes(text), src, dst)
    return pw.ipv6(src, dst, 17, payload) if ":" in src else pw.ipv4(src, dst, 17, payload)


def kinds(d: DecodedBatch) -> list[Kind]:
    return [Kind(k) for k in d.kind]


def addr_int(hi: np.uint64, lo: np.uint64) -> int:
    return int(hi) << 64 | int(lo)


def v4_mapped(a: str) -> int:
    return int(ipaddress.IPv6Address(f"::ffff:{a}"))


# --------------------------------------------------------------------------------------------- link types

LINKS = [
    ("ethernet", pw.LINKTYPE_ETHERNET, {}),
    ("8021q", pw.LINKTYPE_ETHERNET, {"vlans": (100,)}),
    ("qinq", pw.LINKTYPE_ETHERNET, {"vlans": (200, 100)}),
    ("sll", pw.LINKTYPE_LINUX_SLL, {}),
    ("sll2", pw.LINKTYPE_LINUX_SLL2, {}),
    ("raw", pw.LINKTYPE_RAW, {}),
    ("null", pw.LINKTYPE_NULL, {}),
    ("loop", pw.LINKTYPE_LOOP, {}),
]


@pytest.mark.parametrize("v6", [False, True], ids=["v4", "v6"])
@pytest.mark.parametrize(("name", "linktype", "kw"), LINKS, ids=[x[0] for x in LINKS])
def test_classification_per_link_type(tmp_path, name, linktype, kw, v6):
    src, dst = (UA6, PBX6) if v6 else (UA, PBX)
    link = {"8021q": "ethernet", "qinq": "ethernet"}.get(name, name)
    frames = [
        pw.link_frame(rtp_udp(src, dst, seq=7, ts=160, ssrc=0x11223344), link, **kw),
        pw.link_frame(sip_udp(src, dst), link, **kw),
        pw.link_frame(pw.ipv4(UA, PBX, 17, pw.udp(5353, 53, b"\x12\x34" + bytes(10))), link, **kw),  # DNS-ish
    ]
    d, batch = decode(tmp_path, frames, linktype)
    assert kinds(d) == [Kind.RTP, Kind.SIP, Kind.OTHER]
    assert d.rtp.frame.tolist() == [1]
    assert addr_int(d.rtp.src_hi[0], d.rtp.src_lo[0]) == (int(ipaddress.ip_address(src)) if v6 else v4_mapped(src))
    assert addr_int(d.rtp.dst_hi[0], d.rtp.dst_lo[0]) == (int(ipaddress.ip_address(dst)) if v6 else v4_mapped(dst))
    assert (address(int(d.rtp.src_hi[0]), int(d.rtp.src_lo[0])), int(d.rtp.src_port[0])) == (src, 40000)
    assert (d.rtp.sequence.tolist(), d.rtp.timestamp.tolist(), d.rtp.ssrc.tolist()) == ([7], [160], [0x11223344])
    assert d.sip.index.tolist() == [1]
    off, ln = int(d.sip.payload_off[0]), int(d.sip.payload_len[0])
    assert batch.buf[off:off + ln] == pw.sip_bytes(OPTIONS)
    assert d.rich.tolist() == [] and d.truncated == 0


def test_non_ip_ethertypes(tmp_path):
    frames = [
        pw.ethernet(bytes(28), 0x0806),  # ARP
        pw.ethernet(bytes(46), 0x88CC),  # LLDP
        pw.ethernet(bytes(46), 0x0806, vlans=(5,)),
        pw.sll(bytes(28), 0x0806),
    ]
    d, _ = decode(tmp_path, frames[:3], pw.LINKTYPE_ETHERNET)
    assert kinds(d) == [Kind.NON_IP] * 3
    d, _ = decode(tmp_path, frames[3:], pw.LINKTYPE_LINUX_SLL, name="sll.pcap")
    assert kinds(d) == [Kind.NON_IP]


def test_mpls_and_pppoe_go_to_the_rich_path(tmp_path):
    ip = sip_udp(UA, PBX)
    mpls = pw.ethernet(struct.pack("!I", 16 << 12 | 1 << 8 | 64) + ip, 0x8847)
    pppoe = pw.ethernet(struct.pack("!BBHHH", 0x11, 0, 1, len(ip) + 2, 0x0021) + ip, 0x8864)
    d, _ = decode(tmp_path, [mpls, pppoe], pw.LINKTYPE_ETHERNET)
    assert kinds(d) == [Kind.RICH, Kind.RICH] and d.rich.tolist() == [0, 1]


def test_unknown_link_type_goes_to_the_rich_path(tmp_path):
    d, _ = decode(tmp_path, [bytes(40)], 147)  # LINKTYPE_USER0
    assert kinds(d) == [Kind.RICH]


# ------------------------------------------------------------------------------------------------ RTP columns


def test_rtp_columns_exact(tmp_path):
    packets = [
        dict(seq=65535, ts=0xFFFFFF00, ssrc=0xDEADBEEF, pt=0, marker=True, payload=bytes(160)),
        dict(seq=0, ts=160, ssrc=0xDEADBEEF, pt=8, csrcs=(1, 2, 3), payload=bytes(80)),
        dict(seq=1, ts=320, ssrc=0xDEADBEEF, pt=111, extension=(0xBEDE, bytes(5)), payload=bytes(33)),
        dict(seq=2, ts=480, ssrc=0xDEADBEEF, pt=96, padding=7, payload=bytes(20)),
        dict(seq=3, ts=640, ssrc=0xDEADBEEF, pt=101, marker=True, csrcs=(9,), extension=(1, bytes(8)), padding=3,
             payload=bytes(4)),
    ]
    frames = [pw.ethernet(rtp_udp(UA, PBX, 16384, 20000, **p)) for p in packets]
    d, _ = decode(tmp_path, frames, pw.LINKTYPE_ETHERNET)
    r = d.rtp
    assert kinds(d) == [Kind.RTP] * 5
    assert r.frame.tolist() == [1, 2, 3, 4, 5]
    assert r.ts_ns.tolist() == [T0 + i * 20_000_000 for i in range(5)]
    assert r.sequence.tolist() == [65535, 0, 1, 2, 3]
    assert r.timestamp.tolist() == [0xFFFFFF00, 160, 320, 480, 640]
    assert r.ssrc.tolist() == [0xDEADBEEF] * 5
    assert r.payload_type.tolist() == [0, 8, 111, 96, 101]
    assert r.marker.tolist() == [True, False, False, False, True]
    # payload after the CSRCs (4 each), the extension (4 + 8 for 5 data octets padded to 8) and the padding
    assert r.payload_len.tolist() == [160, 80, 33, 20, 4]
    assert r.packet_len.tolist() == [12 + 160, 12 + 12 + 80, 12 + 12 + 33, 12 + 20 + 7, 12 + 4 + 12 + 4 + 3]
    assert r.src_port.tolist() == [16384] * 5 and r.dst_port.tolist() == [20000] * 5
    assert (r.sequence.dtype, r.timestamp.dtype, r.ssrc.dtype, r.payload_type.dtype) == (
        np.int32, np.int64, np.int64, np.int16)


def test_rtp_payload_word(tmp_path):
    # The first four payload octets after CSRCs and the extension (RFC 4733 events live there); 0 when shorter.
    event = bytes([5, 0x80 | 10, 0x03, 0x20])  # digit 5, E bit, volume 10, duration 800
    packets = [
        {"seq": 1, "ts": 0, "ssrc": 7, "pt": 101, "payload": event},
        {"seq": 2, "ts": 0, "ssrc": 7, "pt": 101, "csrcs": (1, 2), "extension": (0xBEDE, bytes(5)), "padding": 3,
         "payload": event},
        {"seq": 3, "ts": 0, "ssrc": 7, "pt": 0, "payload": b"\x01\x02\x03"},
        {"seq": 4, "ts": 0, "ssrc": 7, "pt": 0, "payload": b"\xde\xad\xbe\xef\x00"},
    ]
    frames = [pw.ethernet(rtp_udp(UA, PBX, **p)) for p in packets]
    d, _ = decode(tmp_path, frames, pw.LINKTYPE_ETHERNET)
    assert d.rtp.payload_word.tolist() == [0x058A0320, 0x058A0320, 0, 0xDEADBEEF]
    assert d.rtp.payload_word.dtype == np.int64
    # the rich path's rows give the same column
    rows = [(i + 1, T0, bytes(16), bytes(16), 1, 2, pw.rtp_packet(**p)) for i, p in enumerate(packets)]
    assert rtp_rows_to_columns(rows).payload_word.tolist() == [0x058A0320, 0x058A0320, 0, 0xDEADBEEF]


def test_fields_of_the_last_record_at_the_very_end_of_the_buffer(tmp_path):
    """Fields are read eight octets at a time; a record that ends the buffer (the capture's last) has fewer left
    after a field. A header-only RTP packet's SSRC (its last four octets) and a CRLF keep-alive's four octets
    (RFC 5626 §4.4.1) must still be read as they are, not from a window moved back into the record."""
    for tail, kind in ((rtp_udp(UA, PBX, seq=3, ts=480, ssrc=0xCAFE, payload=b""), Kind.RTP),
                       (pw.ipv4(UA, PBX, 17, pw.udp(5060, 5060, b"\r\n\r\n", UA, PBX)), Kind.SIP)):
        frames = [pw.ethernet(rtp_udp(UA, PBX, seq=1 + i, ts=160 * i, ssrc=0xCAFE)) for i in range(2)]
        d, batch = decode(tmp_path, frames + [pw.ethernet(tail)], pw.LINKTYPE_ETHERNET)
        assert int(batch.data_off[-1] + batch.caplen[-1]) == len(batch.buf)  # it does end the buffer
        assert kinds(d) == [Kind.RTP, Kind.RTP, kind]
        if kind is Kind.RTP:
            assert (d.rtp.ssrc.tolist(), d.rtp.sequence.tolist(), d.rtp.payload_len.tolist()) == (
                [0xCAFE] * 3, [1, 2, 3], [160, 160, 0])
            assert d.rtp.payload_word.tolist()[-1] == 0
        else:
            assert (d.sip.payload_len.tolist(), d.sip.src_port.tolist()) == ([4], [5060])


def test_rtp_behind_ethernet_padding_uses_the_udp_length(tmp_path):
    # 12-byte RTP header + 2 bytes: the frame is padded to 60 octets; the padding is not payload.
    frame = pw.ethernet(rtp_udp(UA, PBX, seq=1, ts=1, ssrc=1, payload=b"\x01\x02"))
    frame += bytes(60 - len(frame))
    d, _ = decode(tmp_path, [frame], pw.LINKTYPE_ETHERNET)
    assert kinds(d) == [Kind.RTP]
    assert (d.rtp.packet_len.tolist(), d.rtp.payload_len.tolist()) == ([14], [2])


def test_ipv4_header_with_options(tmp_path):
    packet = rtp_udp(UA, PBX, seq=4, ts=5, ssrc=6)
    # IHL 6: one 4-byte option word (router alert, RFC 2113) moves the UDP header by 4 bytes.
    with_opt = bytes([0x46]) + packet[1:2] + struct.pack("!H", len(packet) + 4) + packet[4:20] + b"\x94\x04\x00\x00" \
        + packet[20:]
    d, _ = decode(tmp_path, [pw.ethernet(with_opt)], pw.LINKTYPE_ETHERNET)
    assert kinds(d) == [Kind.RTP]
    assert (d.rtp.sequence.tolist(), d.rtp.ssrc.tolist(), d.rtp.src_port.tolist()) == ([4], [6], [40000])


def test_ipv6_rtp_addresses(tmp_path):
    frames = [pw.ethernet(rtp_udp("2001:db8:1:2:3:4:5:6", "fe80::1", 1234, 5678, seq=1, ts=2, ssrc=3), 0x86DD),
              pw.ethernet(rtp_udp(UA, PBX, 1234, 5678, seq=1, ts=2, ssrc=4))]
    d, _ = decode(tmp_path, frames, pw.LINKTYPE_ETHERNET)
    r = d.rtp
    assert r.src_hi.dtype == np.uint64
    assert [address(int(h), int(lo)) for h, lo in zip(r.src_hi, r.src_lo)] == ["2001:db8:1:2:3:4:5:6", UA]
    assert [address(int(h), int(lo)) for h, lo in zip(r.dst_hi, r.dst_lo)] == ["fe80::1", PBX]
    assert (int(r.src_hi[0]), int(r.src_lo[0])) == (0x20010DB800010002, 0x0003000400050006)
    assert (int(r.dst_hi[1]), int(r.dst_lo[1])) == (0, 0xFFFF_CB00_7105)


def test_rtcp_payload_types_are_not_rtp(tmp_path):
    sr = struct.pack("!BBHI", 0x80, 200, 6, 0x1234) + bytes(20)  # RTCP SR (RFC 3550 §6.4.1)
    pt72 = pw.rtp_packet(seq=1, ts=1, ssrc=1, pt=72)  # PT 64-95 would collide with RTCP (RFC 5761 §4)
    frames = [pw.ethernet(pw.ipv4(UA, PBX, 17, pw.udp(40001, 50001, p))) for p in (sr, pt72)]
    d, _ = decode(tmp_path, frames, pw.LINKTYPE_ETHERNET)
    assert kinds(d) == [Kind.RICH, Kind.OTHER]
    assert len(d.rtp) == 0


# ------------------------------------------------------------------------------------------------ SIP and routing


def test_sip_found_by_content_on_a_non_standard_port(tmp_path):
    text = "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.168.1.10:15060;branch=z9hG4bK1\nContent-Length: 0\n\n"
    frames = [pw.ethernet(sip_udp(PBX, UA, text, sport=7070, dport=15060)),
              pw.ethernet(sip_udp(UA, PBX, "REGISTER sip:x SIP/2.0\n\n", sport=33333, dport=8080))]
    d, batch = decode(tmp_path, frames, pw.LINKTYPE_ETHERNET)
    assert kinds(d) == [Kind.SIP, Kind.SIP]
    assert d.sip.src_port.tolist() == [7070, 33333] and d.sip.dst_port.tolist() == [15060, 8080]
    assert [address(int(h), int(lo)) for h, lo in zip(d.sip.src_hi, d.sip.src_lo)] == [PBX, UA]
    off, ln = int(d.sip.payload_off[0]), int(d.sip.payload_len[0])
    assert batch.buf[off:off + ln] == pw.sip_bytes(text)


def test_unknown_method_on_the_sip_port_is_sip(tmp_path):
    # An extension method the prefix list does not name (RFC 4475 §3.1.1.2) is caught on port 5060.
    frames = [pw.ethernet(sip_udp(UA, PBX, "NEWMETHOD sip:x SIP/2.0\n\n")),
              pw.ethernet(sip_udp(UA, PBX, "NEWMETHOD sip:x SIP/2.0\n\n", sport=4000, dport=4001))]
    d, _ = decode(tmp_path, frames, pw.LINKTYPE_ETHERNET)
    assert kinds(d) == [Kind.SIP, Kind.OTHER]


@pytest.mark.parametrize(("payload", "dport"), [
    (struct.pack("!BBHI", 0x81, 201, 7, 0xABCD) + bytes(24), 50001),  # RTCP RR
    (struct.pack("!HHI", 0x0001, 0, 0x2112A442) + bytes(12), 3478),  # STUN binding request
    (pw.hep3(b"INVITE sip:x SIP/2.0\r\n\r\n", UA, PBX, 5060, 5060, T0), 9060),  # HEPv3
    (bytes([2, 16, 2, 17]) + bytes(12) + bytes(12) + b"INVITE", 9060),  # HEPv2
    (bytes([0x08, 0, 0, 0, 0, 0, 0x10, 0]) + bytes(30), 4789),  # VXLAN
    (bytes([0x30, 0xFF, 0, 20, 0, 0, 0, 1]) + bytes(20), 2152),  # GTP-U
], ids=["rtcp", "stun", "hep3", "hep2", "vxlan", "gtpu"])
def test_udp_payloads_routed_to_the_rich_path(tmp_path, payload, dport):
    d, _ = decode(tmp_path, [pw.ethernet(pw.ipv4(UA, PBX, 17, pw.udp(40000, dport, payload)))], pw.LINKTYPE_ETHERNET)
    assert kinds(d) == [Kind.RICH] and d.rich.tolist() == [0] and len(d.rtp) == 0


@pytest.mark.parametrize(("proto", "payload"), [
    (6, pw.tcp(5060, 5060, 1, b"INVITE")),
    (1, bytes([3, 3, 0, 0]) + bytes(4) + bytes(28)),
    (47, pw.gre(b"\x45" + bytes(19))),
    (4, pw.ipv4(UA, PBX, 17, pw.udp(1, 2, b""))),
    (132, bytes(12)),
], ids=["tcp", "icmp", "gre", "ipip", "sctp"])
def test_other_ip_protocols_routed_to_the_rich_path(tmp_path, proto, payload):
    d, _ = decode(tmp_path, [pw.ethernet(pw.ipv4(UA, PBX, proto, payload))], pw.LINKTYPE_ETHERNET)
    assert kinds(d) == [Kind.RICH]


def test_ipv4_udp_fragments_go_to_the_rich_path(tmp_path):
    big = pw.udp(5060, 5060, pw.sip_bytes(OPTIONS + "x" * 2000), UA, PBX)
    frames = [pw.ethernet(f) for f in pw.fragment_ipv4(UA, PBX, 17, big, 1500, ident=99)]
    d, _ = decode(tmp_path, frames, pw.LINKTYPE_ETHERNET)
    assert kinds(d) == [Kind.RICH, Kind.RICH] and d.rich.tolist() == [0, 1]


def test_ipv6_extension_headers_and_fragments_go_to_the_rich_path(tmp_path):
    udp = pw.udp(5060, 5060, pw.sip_bytes(OPTIONS), UA6, PBX6)
    hop = pw.ethernet(pw.ipv6(UA6, PBX6, 0, udp, ext_headers=pw.ipv6_ext_header(17)), 0x86DD)
    frag = pw.ethernet(pw.fragment_ipv6(UA6, PBX6, 17, udp, 1280, ident=5)[0], 0x86DD)
    d, _ = decode(tmp_path, [hop, frag], pw.LINKTYPE_ETHERNET)
    assert kinds(d) == [Kind.RICH, Kind.RICH]


def test_uninteresting_ip_is_other(tmp_path):
    frames = [pw.ethernet(pw.ipv4(UA, PBX, 89, bytes(40))),  # OSPF
              pw.ethernet(pw.ipv4(UA, PBX, 17, pw.udp(1000, 2000, b"hello world")))]
    d, _ = decode(tmp_path, frames, pw.LINKTYPE_ETHERNET)
    assert kinds(d) == [Kind.OTHER, Kind.OTHER]


# ------------------------------------------------------------------------------------------------ truncation


def test_snaplen_cut_packets(tmp_path):
    frames = [
        pw.ethernet(rtp_udp(UA, PBX, seq=1, ts=1, ssrc=1)),  # cut at 40: inside the UDP header -> TRUNCATED
        pw.ethernet(rtp_udp(UA, PBX, seq=2, ts=2, ssrc=2)),  # cut at 40 too
        pw.ethernet(bytes(28), 0x0806),  # ARP, 42 bytes: cut at 40 but still NON_IP
    ]
    d, _ = decode(tmp_path, frames, pw.LINKTYPE_ETHERNET, snaplen=40)
    assert kinds(d) == [Kind.TRUNCATED, Kind.TRUNCATED, Kind.NON_IP]
    assert d.truncated == 3


def test_rtp_cut_by_the_snaplen_is_still_rtp_with_its_wire_length(tmp_path):
    frame = pw.ethernet(rtp_udp(UA, PBX, seq=9, ts=90, ssrc=7, padding=4))
    d, _ = decode(tmp_path, [frame], pw.LINKTYPE_ETHERNET, snaplen=14 + 20 + 8 + 12)
    # The RTP header is there; the padding count octet is not, so no padding is subtracted.
    assert kinds(d) == [Kind.RTP] and d.truncated == 1
    assert (d.rtp.sequence.tolist(), d.rtp.packet_len.tolist(), d.rtp.payload_len.tolist()) == ([9], [12], [0])


def test_ipv4_header_cut_is_truncated(tmp_path):
    d, _ = decode(tmp_path, [pw.ethernet(pw.ipv4(UA, PBX, 17, pw.udp(1, 2, b"abc")))], pw.LINKTYPE_ETHERNET,
                  snaplen=14 + 12)
    assert kinds(d) == [Kind.TRUNCATED]


@pytest.mark.parametrize(("linktype", "short", "full"), [
    (pw.LINKTYPE_ETHERNET, bytes(10), lambda ip: pw.ethernet(ip)),
    (pw.LINKTYPE_ETHERNET, pw.ethernet(b"", vlans=(7,))[:16], lambda ip: pw.ethernet(ip, vlans=(7,))),
    (pw.LINKTYPE_LINUX_SLL, bytes(15), lambda ip: pw.sll(ip)),
    (pw.LINKTYPE_LINUX_SLL2, bytes(19), lambda ip: pw.sll2(ip)),
    (pw.LINKTYPE_NULL, b"\x02\x00", lambda ip: pw.null_loopback(ip)),
], ids=["ethernet", "vlan", "sll", "sll2", "null"])
def test_record_shorter_than_its_link_header_is_truncated(tmp_path, linktype, short, full):
    """The link header is not read from the next record's bytes (which here is a valid packet)."""
    ip = pw.ipv4(UA, PBX, 17, pw.udp(4000, 4002, pw.rtp_packet(seq=1, ts=2, ssrc=3)))
    d, _ = decode(tmp_path, [short, full(ip)], linktype)
    assert kinds(d) == [Kind.TRUNCATED, Kind.RTP]
    assert d.rtp.frame.tolist() == [2]


@pytest.mark.tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (Debian package tshark)")
def test_rtp_columns_match_tshark(tmp_path):
    packets = [dict(seq=100 + i, ts=160 * i, ssrc=0xA0B0C0D0, pt=(0, 8, 18, 101)[i % 4], marker=i == 0,
                    csrcs=(7,) * (i % 3), padding=4 * (i % 2), extension=(0xBEDE, bytes(4)) if i % 5 == 0 else None)
               for i in range(12)]
    frames = [pw.ethernet(rtp_udp(UA, PBX, 16000, 20000, **p), vlans=(10,) * (i % 2))
              for i, p in enumerate(packets)]
    d, _ = decode(tmp_path, frames, pw.LINKTYPE_ETHERNET)
    out = subprocess.run(
        ["tshark", "-n", "-r", str(tmp_path / "c.pcap"), "-d", "udp.port==16000,rtp", "-T", "fields",
         "-e", "frame.number", "-e", "rtp.seq", "-e", "rtp.timestamp", "-e", "rtp.ssrc", "-e", "rtp.p_type",
         "-e", "rtp.marker", "-e", "rtp.cc"], capture_output=True, text=True, check=True).stdout
    theirs = [line.split("\t") for line in out.splitlines()]
    r = d.rtp
    assert [[int(x[0]), int(x[1]), int(x[2]), int(x[3], 16), int(x[4]), x[5] in ("1", "True")] for x in theirs] == [
        list(row) for row in zip(r.frame.tolist(), r.sequence.tolist(), r.timestamp.tolist(), r.ssrc.tolist(),
                                 r.payload_type.tolist(), r.marker.tolist())]
    assert [int(x[6]) for x in theirs] == [i % 3 for i in range(12)]  # the CSRC counts tshark saw
    assert len(theirs) == 12
