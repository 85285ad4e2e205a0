"""sipdiag.parsers.scan.scan_capture end to end on small built captures: the exact Datagram sequence, the RTP
columns and every CaptureInfo field."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess

import numpy as np
import pytest

from sipdiag.errors import CaptureFormatError
from sipdiag.model import Anomaly, Datagram
from sipdiag.parsers import capture
from sipdiag.parsers.capture import InterfaceStats
from sipdiag.parsers.columns import RtpColumns
from sipdiag.parsers.scan import CaptureInfo, address, scan_capture
from tests import pcapwriter as pw

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
UA, PBX = "192.168.1.10", "203.0.113.5"

INVITE = pw.sip_bytes("INVITE sip:bob@203.0.113.5 SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.10;branch=z9hG4bK1\n"
                      "Call-ID: c1@ua\nCSeq: 1 INVITE\nContent-Length: 0\n\n")
TRYING = pw.sip_bytes("SIP/2.0 100 Trying\nVia: SIP/2.0/UDP 192.168.1.10;branch=z9hG4bK1\nCall-ID: c1@ua\n"
                      "CSeq: 1 INVITE\nContent-Length: 0\n\n")
OK = pw.sip_bytes("SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.168.1.10;branch=z9hG4bK1\nCall-ID: c1@ua\n"
                  "CSeq: 1 INVITE\nContent-Length: 0\n\n")
BIG = pw.sip_bytes("MESSAGE sip:bob@203.0.113.5 SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.10;branch=z9hG4bK2\n"
                   "Call-ID: c2@ua\nCSeq: 1 MESSAGE\nContent-Length: 2000\n\n" + "m" * 2000)
BYE = pw.sip_bytes("BYE sip:bob@203.0.113.5 SIP/2.0\nVia: SIP/2.0/TCP 192.168.1.10;branch=z9hG4bK3\n"
                   "Call-ID: c1@ua\nCSeq: 2 BYE\nContent-Length: 0\n\n")
RR = struct.pack("!BBHI", 0x80, 201, 1, 0x5EED)


def udp_frame(payload: bytes, src=UA, dst=PBX, sport=5060, dport=5060, **ip) -> bytes:
    return pw.ethernet(pw.ipv4(src, dst, 17, pw.udp(sport, dport, payload, src, dst), **ip))


def rtp_frame(seq: int, src=UA, dst=PBX, sport=16000, dport=20000, ssrc=0x1111, **kw) -> bytes:
    return udp_frame(pw.rtp_packet(seq=seq, ts=seq * 160, ssrc=ssrc, **kw), src, dst, sport, dport)


def call_frames() -> list[bytes]:
    big_udp = pw.udp(5060, 5060, BIG, UA, PBX)
    frag1, frag2 = (pw.ethernet(f) for f in pw.fragment_ipv4(UA, PBX, 17, big_udp, 1500, ident=0x4242))
    return [
        udp_frame(INVITE),  # 1
        udp_frame(TRYING, PBX, UA),  # 2
        rtp_frame(1, marker=True),  # 3
        rtp_frame(2),  # 4
        rtp_frame(3),  # 5
        pw.ethernet(bytes(28), 0x0806),  # 6 ARP
        rtp_frame(7, PBX, UA, 20000, 16000, ssrc=0x2222, pt=8),  # 7
        udp_frame(OK, PBX, UA),  # 8
        frag1,  # 9
        frag2,  # 10
        pw.ethernet(pw.ipv4(UA, PBX, 6, pw.tcp(5060, 5060, 1, BYE, src=UA, dst=PBX))),  # 11
        udp_frame(RR, sport=16001, dport=20001),  # 12
        udp_frame(b"\x12\x34\x01\x00" + bytes(8), sport=5353, dport=53),  # 13 DNS query-ish
    ]


def scan_all(path) -> tuple[list, CaptureInfo]:
    scan = scan_capture(path)
    items = list(scan)
    assert scan.info is not None
    return items, scan.info


def split(items: list) -> tuple[list[Datagram], list[RtpColumns]]:
    return [i for i in items if isinstance(i, Datagram)], [i for i in items if isinstance(i, RtpColumns)]


def ts(frame: int) -> int:
    return T0 + (frame - 1) * 20 * MS


def write(path, frames, linktype=pw.LINKTYPE_ETHERNET, **kw):
    pw.write_pcap(path, [(ts(i + 1), f) for i, f in enumerate(frames)], linktype, nanos=True, **kw)


def test_call_capture_exact_sequence(tmp_path):
    path = tmp_path / "call.pcap"
    frames = call_frames()
    write(path, frames)
    items, info = scan_all(path)
    # One chunk: its datagrams in frame order, then its RTP columns.
    assert [type(i).__name__ for i in items] == ["Datagram"] * 6 + ["RtpColumns"]
    assert items[:6] == [
        Datagram(1, ts(1), UA, 5060, PBX, 5060, "udp", INVITE, (1,)),
        Datagram(2, ts(2), PBX, 5060, UA, 5060, "udp", TRYING, (2,)),
        Datagram(8, ts(8), PBX, 5060, UA, 5060, "udp", OK, (8,)),
        Datagram(10, ts(10), UA, 5060, PBX, 5060, "udp", BIG, (9, 10)),
        Datagram(11, ts(11), UA, 5060, PBX, 5060, "tcp", BYE, (11,)),
        Datagram(12, ts(12), UA, 16001, PBX, 20001, "udp", RR, (12,), "", "rtcp"),
    ]
    rtp = items[6]
    assert rtp.frame.tolist() == [3, 4, 5, 7]
    assert rtp.ts_ns.tolist() == [ts(3), ts(4), ts(5), ts(7)]
    assert [address(int(h), int(lo)) for h, lo in zip(rtp.src_hi, rtp.src_lo)] == [UA, UA, UA, PBX]
    assert [address(int(h), int(lo)) for h, lo in zip(rtp.dst_hi, rtp.dst_lo)] == [PBX, PBX, PBX, UA]
    assert rtp.src_port.tolist() == [16000, 16000, 16000, 20000]
    assert rtp.dst_port.tolist() == [20000, 20000, 20000, 16000]
    assert rtp.sequence.tolist() == [1, 2, 3, 7]
    assert rtp.timestamp.tolist() == [160, 320, 480, 1120]
    assert rtp.ssrc.tolist() == [0x1111, 0x1111, 0x1111, 0x2222]
    assert rtp.payload_type.tolist() == [0, 0, 0, 8]
    assert rtp.marker.tolist() == [True, False, False, False]
    assert rtp.payload_len.tolist() == [160] * 4 and rtp.packet_len.tolist() == [172] * 4

    assert info == CaptureInfo(
        file=str(path), format="pcap", compressed=False, link_types=("ethernet",), interfaces=1, packets=13,
        first_ts_ns=ts(1), last_ts_ns=ts(13), bytes=sum(len(f) for f in frames), truncated_packets=0,
        kinds={"rtp": 4, "sip": 3, "rich": 4, "non_ip": 1, "other": 1},
        rich={"ip-fragment": 2, "sip": 1, "tcp": 1, "rtcp": 1}, interface_stats=(), anomalies=(),
    )
    assert info.duration_s == pytest.approx(0.24)


def test_chunked_reading_gives_the_same_datagrams_and_rtp(tmp_path, monkeypatch):
    path = tmp_path / "call.pcap"
    write(path, call_frames() * 5)
    whole, whole_info = scan_all(path)
    monkeypatch.setattr(capture, "CHUNK_BYTES", 700)  # a few records per batch; fragments span batches
    items, info = scan_all(path)
    d_whole, r_whole = split(whole)
    d_chunk, r_chunk = split(items)
    # Fragments with the same IP id in each repetition: each pair still completes once (the previous pair is done).
    assert [(d.frame, d.frames, d.payload) for d in d_chunk] == [(d.frame, d.frames, d.payload) for d in d_whole]
    # 6 per copy, but the TCP BYE of copies 2-5 repeats the same sequence numbers: retransmissions, dropped.
    assert len(d_chunk) == 6 + 4 * 5 and len(r_chunk) > 1
    assert np.concatenate([r.frame for r in r_chunk]).tolist() == r_whole[0].frame.tolist()
    assert np.concatenate([r.sequence for r in r_chunk]).tolist() == r_whole[0].sequence.tolist()
    assert info == whole_info


def test_rtp_from_the_rich_path_is_merged_in_frame_order(tmp_path):
    tunnelled = pw.ethernet(pw.ipv4("10.0.0.1", "10.0.0.2", 47, pw.gre(
        pw.ipv4(UA, PBX, 17, pw.udp(16000, 20000, pw.rtp_packet(seq=2, ts=320, ssrc=0x1111), UA, PBX)))))
    path = tmp_path / "gre.pcap"
    write(path, [rtp_frame(1), tunnelled, rtp_frame(3)])
    items, info = scan_all(path)
    [rtp] = items
    assert rtp.frame.tolist() == [1, 2, 3]
    assert rtp.sequence.tolist() == [1, 2, 3]
    assert rtp.payload_len.tolist() == [160, 160, 160]
    assert [address(int(h), int(lo)) for h, lo in zip(rtp.src_hi, rtp.src_lo)] == [UA] * 3
    assert info.kinds == {"rtp": 2, "rich": 1} and info.rich == {"gre": 1}


def test_pcapng_two_interfaces_stats_and_snaplen(tmp_path):
    path = tmp_path / "two.pcapng"
    raw_sip = pw.ipv4(PBX, UA, 17, pw.udp(5060, 5060, OK, PBX, UA))
    long_rtp = rtp_frame(5)
    pw.write_pcapng(path, [(pw.LINKTYPE_ETHERNET, 6), (pw.LINKTYPE_RAW, 9)],
                    [(0, ts(1), udp_frame(INVITE)), (1, ts(2) + 7, raw_sip), (1, ts(3), long_rtp[14:][:100], 200)],
                    statistics=[(0, ts(4), 3, 0), (1, ts(4), 2, 5)])
    items, info = scan_all(path)
    datagrams, rtps = split(items)
    assert datagrams == [Datagram(1, ts(1), UA, 5060, PBX, 5060, "udp", INVITE, (1,)),
                         Datagram(2, ts(2) + 7, PBX, 5060, UA, 5060, "udp", OK, (2,))]
    # The RTP packet on the raw interface was cut at 100 of its 200 bytes but is still RTP.
    assert [r.frame.tolist() for r in rtps] == [[3]]
    assert rtps[0].packet_len.tolist() == [100 - 28]
    assert info == CaptureInfo(
        file=str(path), format="pcapng", compressed=False, link_types=("ethernet", "raw"), interfaces=2,
        packets=3, first_ts_ns=ts(1), last_ts_ns=ts(3), bytes=len(udp_frame(INVITE)) + len(raw_sip) + 200,
        truncated_packets=1, kinds={"sip": 2, "rtp": 1}, rich={},
        interface_stats=(InterfaceStats(0, ts(4), 3, 0, None, None), InterfaceStats(1, ts(4), 2, 5, None, None)),
        anomalies=(),
    )


def test_damaged_capture_keeps_what_was_read_and_names_the_damage(tmp_path):
    path = tmp_path / "cut.pcap"
    big_udp = pw.udp(5060, 5060, BIG, UA, PBX)
    frag1, _ = (pw.ethernet(f) for f in pw.fragment_ipv4(UA, PBX, 17, big_udp, 1500, ident=1))
    write(path, [udp_frame(INVITE), frag1, udp_frame(OK, PBX, UA)])
    path.write_bytes(path.read_bytes()[:-30])
    items, info = scan_all(path)
    assert items == [Datagram(1, ts(1), UA, 5060, PBX, 5060, "udp", INVITE, (1,))]
    assert [(a.code, a.frame) for a in info.anomalies] == [("ip.fragments-incomplete", 2),
                                                           ("pcap.truncated-record", 3)]
    assert (info.packets, info.last_ts_ns, info.kinds) == (2, ts(2), {"sip": 1, "rich": 1})


def test_tcp_gap_message_comes_out_at_the_end(tmp_path):
    path = tmp_path / "gap.pcap"
    seg = lambda seq, data: pw.ethernet(pw.ipv4(UA, PBX, 6, pw.tcp(5060, 5060, seq, data)))  # noqa: E731
    lost = 25
    write(path, [seg(1, BYE), seg(1 + len(BYE) + lost, BYE[lost:] + BYE), udp_frame(OK, PBX, UA)])
    items, info = scan_all(path)
    assert items == [
        Datagram(1, ts(1), UA, 5060, PBX, 5060, "tcp", BYE, (1,)),
        Datagram(3, ts(3), PBX, 5060, UA, 5060, "udp", OK, (3,)),
        Datagram(2, ts(2), UA, 5060, PBX, 5060, "tcp", BYE, (2,)),  # after the hole, found by rich.finish()
    ]
    assert [(a.code, a.frame) for a in info.anomalies] == [("tcp.gap", 2)]


def test_hep_capture(tmp_path):
    path = tmp_path / "hep.pcap"
    hep = pw.hep3(INVITE, "10.10.0.1", "10.10.0.2", 5060, 5062, T0 - 5 * MS)
    write(path, [udp_frame(hep, "172.16.1.1", "172.16.1.2", 45000, 9060)], pw.LINKTYPE_ETHERNET)
    items, info = scan_all(path)
    assert items == [Datagram(1, T0 - 5 * MS, "10.10.0.1", 5060, "10.10.0.2", 5062, "udp", INVITE, (1,), "hep")]
    assert info.rich == {"hep": 1} and info.kinds == {"rich": 1}


def test_gzip_sll2_ipv6(tmp_path):
    path = tmp_path / "v6.pcap.gz"
    a, b = "2001:db8::1", "2001:db8::2"
    frames = [pw.sll2(pw.ipv6(a, b, 17, pw.udp(5062, 5060, INVITE, a, b)), pw.ETHERTYPE_IPV6),
              pw.sll2(pw.ipv6(b, a, 17, pw.udp(30000, 40000, pw.rtp_packet(9, 9, 9), b, a)), pw.ETHERTYPE_IPV6)]
    pw.write_pcap_gz(path, [(ts(i + 1), f) for i, f in enumerate(frames)], pw.LINKTYPE_LINUX_SLL2, nanos=True)
    items, info = scan_all(path)
    assert items[0] == Datagram(1, ts(1), a, 5062, b, 5060, "udp", INVITE, (1,))
    assert [address(int(items[1].src_hi[0]), int(items[1].src_lo[0])), int(items[1].ssrc[0])] == [b, 9]
    assert (info.compressed, info.link_types, info.kinds) == (True, ("linux-sll2",), {"sip": 1, "rtp": 1})


def test_empty_capture_info(tmp_path):
    path = tmp_path / "empty.pcap"
    write(path, [], pw.LINKTYPE_RAW)
    items, info = scan_all(path)
    assert items == []
    assert info == CaptureInfo(str(path), "pcap", False, ("raw",), 1, 0, None, None, 0, 0, {}, {}, (), ())
    assert info.duration_s == 0.0


def test_not_a_capture_raises_when_iteration_starts(tmp_path):
    path = tmp_path / "x.pcap"
    path.write_bytes(b"not a capture at all")
    scan = scan_capture(path)
    with pytest.raises(CaptureFormatError, match="is not a pcap or pcapng file"):
        list(scan)
    assert scan.info is None


def test_later_stages_report_into_the_same_log(tmp_path):
    path = tmp_path / "c.pcap"
    write(path, [udp_frame(INVITE)])
    scan = scan_capture(path)
    for item in scan:
        scan.add_anomaly(Anomaly("sip.test", item.frame, "reported by a later stage"))
    assert scan.info.anomalies == (Anomaly("sip.test", 1, "reported by a later stage"),)


@pytest.mark.tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (Debian package tshark)")
def test_sip_frames_match_tshark(tmp_path):
    """tshark puts a reassembled SIP message (IP fragments, TCP segments) in the frame that completed it, as
    Datagram.frame does."""
    frames = call_frames()
    a, b, c = BYE[:30], BYE[30:80], BYE[80:]
    tcp = lambda seq, data: pw.ethernet(pw.ipv4(UA, PBX, 6, pw.tcp(5060, 5060, seq, data, src=UA, dst=PBX)))  # noqa
    frames += [tcp(1000, a), tcp(1000 + len(a) + len(b), c), tcp(1000 + len(a), b)]  # out of order
    frames[10] = udp_frame(b"\x00" * 20, sport=1, dport=2)  # drop the single-segment TCP BYE of call_frames
    path = tmp_path / "call.pcap"
    write(path, frames)
    items, _ = scan_all(path)
    ours = [d.frame for d in items if isinstance(d, Datagram) and d.kind == "sip"]
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-o", "tcp.desegment_tcp_streams:TRUE",
                          "-o", "tcp.reassemble_out_of_order:TRUE", "-Y", "sip", "-T", "fields",
                          "-e", "frame.number"], capture_output=True, text=True, check=True).stdout
    assert ours == [int(x) for x in out.split()] == [1, 2, 8, 10, 16]


def _behind_a_hole(path) -> None:
    """SYN; the segment with a stream's second message (INFO) before the one with its first (BYE), a UDP INVITE of
    another flow between them."""
    tcp = lambda seq, data, flags="PA": pw.ethernet(pw.ipv4(  # noqa: E731
        UA, PBX, 6, pw.tcp(5060, 5060, seq, data, flags=flags, src=UA, dst=PBX)))
    write(path, [tcp(999, b"", "S"), tcp(1000 + len(BYE), INFO), udp_frame(INVITE), tcp(1000, BYE)])


INFO = BYE.replace(b"BYE sip", b"INFO sip").replace(b"BYE\r", b"INFO\r").replace(b"z9hG4bK3", b"z9hG4bK4")


@pytest.mark.parametrize("chunk", [capture.CHUNK_BYTES, 200], ids=["one-batch", "batch-per-record"])
def test_messages_behind_a_hole_get_the_frame_that_filled_it(tmp_path, monkeypatch, chunk):
    """A message whose segments all came before a hole is complete when the hole fills (frame 4): it goes to the
    SIP side there, after the message before it in the stream, whatever batches the records fell in. Given its own
    frame (2) it went first, ahead of the BYE and of the INVITE of frame 3, or behind the INVITE when a batch
    ended between them."""
    monkeypatch.setattr(capture, "CHUNK_BYTES", chunk)
    path = tmp_path / "hole.pcap"
    _behind_a_hole(path)
    items, _ = scan_all(path)
    assert [(d.frame, d.ts_ns, d.payload.split(b" ")[0], d.frames) for d in items
            if isinstance(d, Datagram) and d.kind == "sip"] == [
        (3, ts(3), b"INVITE", (3,)), (4, ts(4), b"BYE", (4,)), (4, ts(4), b"INFO", (2,))]


@pytest.mark.tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (Debian package tshark)")
def test_messages_behind_a_hole_are_where_tshark_puts_them(tmp_path):
    path = tmp_path / "hole.pcap"
    _behind_a_hole(path)
    items, _ = scan_all(path)
    ours = [f"{d.frame}\t{d.payload.split(b' ')[0].decode()}" for d in items if isinstance(d, Datagram)]
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-o", "tcp.desegment_tcp_streams:TRUE",
                          "-o", "tcp.reassemble_out_of_order:TRUE", "-Y", "sip", "-T", "fields",
                          "-e", "frame.number", "-e", "sip.Method"], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["3\tINVITE", "4\tBYE,INFO"]
    assert ours == ["3\tINVITE", "4\tBYE", "4\tINFO"]


def test_scan_from_stdin(tmp_path, monkeypatch):
    raw = io.BytesIO()
    pw.write_pcap(raw, [(ts(1), udp_frame(INVITE))], pw.LINKTYPE_ETHERNET, nanos=True)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(raw.getvalue()))))
    items, info = scan_all("-")
    assert items == [Datagram(1, ts(1), UA, 5060, PBX, 5060, "udp", INVITE, (1,))]
    assert info.file == "-" and info.packets == 1
