"""sipdiag.parsers.net (RichPath) with reassembly, tcp, websocket and hep: one frame at a time, exact Datagrams."""

from __future__ import annotations

import struct

import pytest

from sipdiag.model import Anomaly, Datagram
from sipdiag.parsers.anomalies import AnomalyLog
from sipdiag.parsers.net import RichPath
from sipdiag.parsers.reassembly import MAX_COPY_FRAMES, MAX_PENDING_BYTES, FragmentReassembler
from sipdiag.parsers.sip import sip_stream_spans
from sipdiag.parsers.tcp import MAX_OUT_OF_ORDER, TcpReassembler
from tests import pcapwriter as pw

T0 = 1_700_000_000_000_000_000
UA, PBX = "192.168.1.10", "203.0.113.5"
UA6, PBX6 = "2001:db8::10", "2001:db8::5"
ETH = pw.LINKTYPE_ETHERNET
RAW = pw.LINKTYPE_RAW

OPTIONS = pw.sip_bytes("OPTIONS sip:pbx@203.0.113.5 SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.10;branch=z9hG4bK1\n"
                       "Content-Length: 0\n\n")
INVITE = pw.sip_bytes("INVITE sip:bob@203.0.113.5 SIP/2.0\nVia: SIP/2.0/TCP 192.168.1.10;branch=z9hG4bK2\n"
                      "Content-Type: application/sdp\nContent-Length: 12\n\nv=0\r\no=- 1\r\n")
OK = pw.sip_bytes("SIP/2.0 200 OK\nVia: SIP/2.0/TCP 192.168.1.10;branch=z9hG4bK2\nl: 0\n\n")
BYE = pw.sip_bytes("BYE sip:bob@203.0.113.5 SIP/2.0\nVia: SIP/2.0/TCP 192.168.1.10;branch=z9hG4bK3\n"
                   "Content-Length: 0\n\n")
BIG = pw.sip_bytes("INVITE sip:bob@203.0.113.5 SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.10;branch=z9hG4bK4\n"
                   + "X-Pad: " + "p" * 3000 + "\nContent-Length: 0\n\n")


def run(frames: list[bytes], linktype: int = ETH, finish: bool = True) -> tuple[list[Datagram], RichPath]:
    """Decode frames 1..n (ts T0 + n ms) and, by default, finish the run."""
    rp = RichPath(AnomalyLog())
    out: list[Datagram] = []
    for i, f in enumerate(frames, start=1):
        out += rp.decode_frame(linktype, f, i, T0 + i * 1_000_000)
    if finish:
        out += rp.finish()
    return out, rp


def anomalies(rp: RichPath) -> list[tuple[str, int | None]]:
    return [(a.code, a.frame) for a in rp.log.anomalies()]


def ts(frame: int) -> int:
    return T0 + frame * 1_000_000


def udp4(payload: bytes, src=UA, dst=PBX, sport=5060, dport=5060, **ip) -> bytes:
    return pw.ipv4(src, dst, 17, pw.udp(sport, dport, payload, src, dst), **ip)


def sip_dgram(frame: int, payload: bytes = OPTIONS, src=UA, dst=PBX, sport=5060, dport=5060, transport="udp",
              frames=None, encap="", kind="sip", ts_ns=None) -> Datagram:
    return Datagram(frame, ts(frame) if ts_ns is None else ts_ns, src, sport, dst, dport, transport, payload,
                    frames or (frame,), encap, kind)


# ------------------------------------------------------------------------------------------------ IP fragments


def big_fragments(mtu: int = 1500, ident: int = 77) -> list[bytes]:
    return [pw.ethernet(f) for f in pw.fragment_ipv4(UA, PBX, 17, pw.udp(5060, 5060, BIG, UA, PBX), mtu, ident)]


def test_ipv4_fragments_in_order():
    frags = big_fragments()
    assert len(frags) == 3
    out, rp = run(frags)
    assert out == [sip_dgram(3, BIG, frames=(1, 2, 3))]
    assert rp.counts["ip-fragment"] == 3 and rp.fragments.completed == 1
    assert anomalies(rp) == [] and rp.fragments.pending == {}


def test_ipv4_fragments_out_of_order():
    f1, f2, f3 = big_fragments()
    out, rp = run([f3, f1, f2])
    assert out == [sip_dgram(3, BIG, frames=(1, 2, 3))]
    assert anomalies(rp) == []


def test_ipv4_missing_fragment_is_reported_with_its_frames():
    f1, _f2, f3 = big_fragments()
    other = pw.ethernet(udp4(OPTIONS))
    out, rp = run([f1, other, f3])
    assert out == [sip_dgram(2)]
    [a] = rp.log.anomalies()
    assert (a.code, a.frame) == ("ip.fragments-incomplete", 1)
    udp_len = 8 + len(BIG)  # 3121: fragments of 1480, 1480 and 161 bytes
    assert a.detail == (f"fragments of frames 1, 3 never completed: {1480 + 161} of {udp_len} bytes arrived "
                        "(a middle fragment is missing)")
    # router.udp-fragmentation quotes it in its Russian text too; "из 3121 байта": after "из" a count ending in 1
    # takes the genitive singular (sipdiag.russian)
    assert a.detail_ru == f"датаграмма (фрагменты в кадрах 1, 3) не собралась: пришло {1480 + 161} из {udp_len} " \
                          "байта (нет фрагмента в середине)"


def test_ipv4_missing_last_fragment():
    f1, f2, _f3 = big_fragments()
    _, rp = run([f1, f2])
    [a] = rp.log.anomalies()
    assert a.detail == ("fragments of frames 1, 2 never completed: 2960 of unknown bytes arrived "
                        "(the last fragment is missing)")
    assert a.detail_ru == ("датаграмма (фрагменты в кадрах 1, 2) не собралась: пришло 2960 байт, полный размер "
                           "неизвестен (нет последнего фрагмента)")


def test_a_second_log_keeps_the_russian_detail():
    # sipdiag.parsers.scan moves the capture reader's anomalies into its own log: the Russian goes with them
    log = AnomalyLog()
    log.extend([Anomaly("ip.fragments-incomplete", 1, "fragments of frames 1 never completed", "фрагменты кадров 1 "
                        "не собрались")])
    (kept,) = log.anomalies()
    assert (kept.code, kept.frame, kept.detail, kept.detail_ru) == (
        "ip.fragments-incomplete", 1, "fragments of frames 1 never completed", "фрагменты кадров 1 не собрались")


def test_fragments_expire_after_the_timeout():
    log = AnomalyLog()
    r = FragmentReassembler(log, timeout_ns=30 * 10**9)
    assert r.add((4, b"a", b"b", 17, 1), 0, True, bytes(8), 1, T0) is None
    assert r.add((4, b"a", b"b", 17, 2), 0, True, bytes(8), 2, T0 + 31 * 10**9) is None
    assert list(r.pending) == [(4, b"a", b"b", 17, 2)]
    assert [(a.code, a.frame) for a in log.anomalies()] == [("ip.fragments-incomplete", 1)]
    assert "never completed within 30 s" in log.anomalies()[0].detail
    # one fragment arrived: "фрагмент в кадре 1", not "фрагменты кадров 1"
    assert log.anomalies()[0].detail_ru == ("датаграмма (фрагмент в кадре 1) не собралась за 30 с: пришло 8 байт, "
                                            "полный размер неизвестен (нет последнего фрагмента); остальное потеряно "
                                            "до точки захвата")


def test_overlapping_fragments_keep_the_first_copy():
    datagram = pw.udp(5060, 5060, OPTIONS, UA, PBX)
    head, tail = datagram[:64], datagram[64:]
    f1 = pw.ethernet(pw.ipv4(UA, PBX, 17, head, ident=5, mf=True))
    forged = pw.ethernet(pw.ipv4(UA, PBX, 17, b"Z" * 16, ident=5, mf=True, frag_offset=56))  # overlaps f1's end
    f2 = pw.ethernet(pw.ipv4(UA, PBX, 17, tail, ident=5, frag_offset=64))
    out, rp = run([f1, forged, f2])
    assert out == [sip_dgram(3, frames=(1, 2, 3))]
    assert anomalies(rp) == [("ip.fragment-overlap", 3)]


def test_duplicate_fragment_is_not_an_overlap():
    f1, f2, f3 = big_fragments()
    out, rp = run([f1, f1, f2, f3])
    assert out == [sip_dgram(4, BIG, frames=(1, 2, 3, 4))]
    assert anomalies(rp) == []


def test_a_fragment_duplicated_many_times_through_the_rich_path():
    f1, f2, f3 = big_fragments()
    copies = MAX_COPY_FRAMES + 500
    out, rp = run([f1] * (copies + 1) + [f2, f3])
    n = copies + 3
    assert out == [sip_dgram(n, BIG, frames=tuple(range(1, MAX_COPY_FRAMES + 2)) + (n - 1, n))]
    assert anomalies(rp) == [("ip.fragment-duplicates", MAX_COPY_FRAMES + 2)]


def test_oversized_fragment_is_dropped_and_finish_still_works():
    bad = pw.ethernet(pw.ipv4(UA, PBX, 17, bytes(100), ident=9, frag_offset=65528))
    out, rp = run([bad])
    assert out == [] and anomalies(rp) == [("ip.fragment-too-large", 1)]
    assert rp.fragments.pending == {}


def test_ipv6_fragments():
    udp = pw.udp(5060, 5060, BIG, UA6, PBX6)
    frags = [pw.ethernet(f, pw.ETHERTYPE_IPV6) for f in pw.fragment_ipv6(UA6, PBX6, 17, udp, 1280, ident=0xABCDEF)]
    assert len(frags) == 3
    out, rp = run([frags[1], frags[0], frags[2]])
    assert out == [sip_dgram(3, BIG, UA6, PBX6, frames=(1, 2, 3))]
    assert rp.counts["ip-fragment"] == 3 and anomalies(rp) == []


def test_ipv6_fragment_after_a_hop_by_hop_header():
    udp = pw.udp(5060, 5060, OPTIONS, UA6, PBX6)
    ext = pw.ipv6_ext_header(44) + pw.ipv6_fragment_header(17, 0, True, 3)
    ext2 = pw.ipv6_ext_header(44) + pw.ipv6_fragment_header(17, 40, False, 3)
    f1 = pw.ethernet(pw.ipv6(UA6, PBX6, 0, udp[:40], ext_headers=ext), pw.ETHERTYPE_IPV6)
    f2 = pw.ethernet(pw.ipv6(UA6, PBX6, 0, udp[40:], ext_headers=ext2), pw.ETHERTYPE_IPV6)
    out, _ = run([f1, f2])
    assert out == [sip_dgram(2, OPTIONS, UA6, PBX6, frames=(1, 2))]


def _tiny_fragments(datagram: bytes) -> list[tuple[int, bool, bytes]]:
    """(offset, more, data) of `datagram` cut into the smallest fragments there are: 8 octets (RFC 791 §3.1)."""
    return [(off, off + 8 < len(datagram), datagram[off:off + 8]) for off in range(0, len(datagram), 8)]


def test_a_64k_datagram_in_8_byte_fragments_out_of_order_with_duplicates():
    """8 k fragments, odd offsets first, then the even ones backwards, every tenth one twice: the exact datagram
    with every frame, and a duplicate is no overlap."""
    datagram = bytes(i * 7 % 251 for i in range(65528))
    frags = _tiny_fragments(datagram)
    order = frags[1::2] + frags[0::2][::-1]
    order = [f for i, f in enumerate(order) for f in ([f, f] if i % 10 == 5 else [f])]
    log = AnomalyLog()
    r = FragmentReassembler(log)
    key = (4, b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", 17, 9)
    results = [r.add(key, off, more, data, n, T0 + n) for n, (off, more, data) in enumerate(order, start=1)]
    assert results[:-1] == [None] * (len(order) - 1)
    assert results[-1] == (datagram, tuple(range(1, len(order) + 1)))
    assert len(order) == 8191 + 819 and r.pending == {} and r.bytes == 0 and r.completed == 1
    assert log.anomalies() == ()


def test_many_overlapping_copies_against_a_datagram_of_8k_fragments():
    """A 64 KiB datagram whose second-last 8-octet fragment comes last; before it, 100 000 forged 16-octet fragments
    at its offset, each overlapping the last fragment (stored last). The overlap test used to try every stored
    part for each of them (8 k x 100 k: minutes); now it looks at one. The first copy of each part is kept."""
    datagram = bytes(i * 7 % 251 for i in range(65528))
    frags = _tiny_fragments(datagram)
    gap = frags.pop(-2)
    log = AnomalyLog()
    r = FragmentReassembler(log)
    key = (4, b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", 17, 9)
    n = 0
    for off, more, data in frags:
        n += 1
        assert r.add(key, off, more, data, n, T0) is None
    for _ in range(100_000):
        n += 1
        assert r.add(key, gap[0], True, b"Z" * 16, n, T0) is None
    listed = len(frags) + MAX_COPY_FRAMES  # the parts' frames, then those of the first copies
    assert r.add(key, *gap, n + 1, T0) == (datagram, tuple(range(1, listed + 1)) + (n + 1,))
    assert [(a.code, a.frame) for a in log.anomalies()] == [("ip.fragment-overlap", n + 1),
                                                            ("ip.fragment-duplicates", listed + 1)]


def test_a_fragment_repeated_100k_times_keeps_its_frame_list_bounded():
    """A datagram's first fragment duplicated 100 000 times (a retransmitting or looping link, or a flood): every
    copy's frame was appended to the datagram's list. Now the first MAX_COPY_FRAMES are listed, the rest counted,
    and one anomaly says how many there were, whether the datagram completes or not."""
    log = AnomalyLog()
    r = FragmentReassembler(log)
    key = (4, b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", 17, 9)
    datagram = bytes(range(48))
    for n in range(1, 100_002):
        assert r.add(key, 0, True, datagram[:16], n, T0) is None
    assert len(r.pending[key].frames) == 1 + MAX_COPY_FRAMES
    assert r.add(key, 16, True, datagram[16:32], 100_002, T0) is None
    assert r.add(key, 32, False, datagram[32:], 100_003, T0) == (
        datagram, tuple(range(1, MAX_COPY_FRAMES + 2)) + (100_002, 100_003))
    assert log.anomalies() == (Anomaly(
        "ip.fragment-duplicates", MAX_COPY_FRAMES + 2,
        "100000 fragments of the datagram of frames 1, 2, 3, 4, 5, 6, 7, 8 ... repeated parts already received "
        "(retransmitted, duplicated or overlapping copies); the frames of the first 1024 are listed with it, the "
        "other 98976 only counted"),)

    log = AnomalyLog()
    r = FragmentReassembler(log)
    for n in range(1, 2000):
        r.add(key, 0, True, datagram[:16], n, T0)
    r.finish()  # never completed: reported as such, and its copies once
    assert [(a.code, a.frame) for a in log.anomalies()] == [("ip.fragments-incomplete", 1),
                                                            ("ip.fragment-duplicates", MAX_COPY_FRAMES + 2)]


def test_fragment_flood_keeps_pending_bounded():
    log = AnomalyLog()
    r = FragmentReassembler(log)
    for i in range(10_000):
        key = (4, b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", 17, i)
        assert r.add(key, 0, True, bytes(64), i + 1, T0 + i) is None
        assert len(r.pending) <= r.max_pending
    assert len(r.pending) == 4096 and r.bytes == 4096 * 64
    assert log.counts["ip.fragments-evicted"] == 10_000 - 4096
    kept = log.anomalies()
    assert [a.frame for a in kept[:3]] == [1, 2, 3]  # the oldest go first
    assert kept[-1] == Anomaly("ip.fragments-evicted", None,
                               "5854 more 'ip.fragments-evicted' anomalies not listed one by one (5904 in all)")
    r.finish()
    assert r.pending == {} and r.bytes == 0 and log.counts["ip.fragments-incomplete"] == 4096


def test_fragments_added_to_pending_datagrams_stay_within_the_byte_budget():
    """512 datagrams of 64 x 1 KiB fragments, round-robin (a flood of many large datagrams at once): the budget
    was only checked when a datagram started, so once all 512 were pending their later fragments piled up to
    32 MiB. Now every stored fragment keeps the total within MAX_PENDING_BYTES (16 MiB: 16 384 fragments) by
    evicting the oldest other datagram, reported as ip.fragments-evicted."""
    log = AnomalyLog()
    r = FragmentReassembler(log)
    chunk = bytes(1024)  # one object for all: the test counts the module's accounting, not its own memory
    frame = peak = 0
    for j in range(64):
        for i in range(512):
            frame += 1
            assert r.add((4, b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", 17, i), j * 1024, True, chunk, frame,
                         T0 + frame) is None
            peak = max(peak, r.bytes)
    assert peak == MAX_PENDING_BYTES  # reached, never passed
    assert r.bytes == sum(p.size for p in r.pending.values()) == 16_755_712
    # The budget is full after 32 rounds; datagram 0's 33rd fragment (frame 16 385) evicts the oldest other one,
    # datagram 1 (its first frame is 2), and datagram 0 (being added to) is kept.
    first = log.anomalies()[0]
    assert first == Anomaly("ip.fragments-evicted", 2,
                            "too many bytes in reassembly at frame 16385: the oldest (frames 2, 514, 1026, 1538, "
                            "2050, 2562, 3074, 3586 ...) was dropped unfinished (limit 4096 datagrams / 16 MiB)")
    assert log.counts["ip.fragments-evicted"] == 354
    r.finish()
    assert r.pending == {} and r.bytes == 0


def test_fragment_flood_through_the_rich_path():
    rp = RichPath(AnomalyLog())
    rp.fragments.max_pending = 100
    for i in range(1000):
        frag = pw.ipv4(UA, PBX, 17, bytes(16), ident=i, mf=True)
        assert rp.decode_frame(RAW, frag, i + 1, ts(i)) == []
    assert len(rp.fragments.pending) == 100
    assert rp.log.counts["ip.fragments-evicted"] == 900


# --------------------------------------------------------------------------------------------------------- TCP


def tcp4(seq: int, payload: bytes, flags: str = "PA", sport: int = 5060, dport: int = 5060, src=UA, dst=PBX) -> bytes:
    return pw.ethernet(pw.ipv4(src, dst, 6, pw.tcp(sport, dport, seq, payload, flags=flags, src=src, dst=dst)))


def tcp_dgram(frame: int, payload: bytes, frames=None, sport=5060, dport=5060, src=UA, dst=PBX, ts_ns=None
              ) -> Datagram:
    return sip_dgram(frame, payload, src, dst, sport, dport, "tcp", frames, ts_ns=ts_ns)


def test_tcp_several_sip_messages_in_one_segment():
    out, rp = run([tcp4(1000, b"", "S"), tcp4(1001, INVITE + b"\r\n\r\n" + BYE)])
    assert out == [tcp_dgram(2, INVITE), tcp_dgram(2, BYE)]
    assert anomalies(rp) == [] and rp.counts["tcp"] == 2


def test_tcp_one_message_across_three_segments():
    a, b, c = INVITE[:30], INVITE[30:100], INVITE[100:]
    out, rp = run([tcp4(1, a), tcp4(1 + len(a), b), tcp4(1 + len(a) + len(b), c)])
    assert out == [tcp_dgram(3, INVITE, frames=(1, 2, 3))]
    assert anomalies(rp) == []


def test_tcp_body_completes_in_a_later_segment():
    head_end = INVITE.index(b"\r\n\r\n") + 4
    out, _ = run([tcp4(1, INVITE[:head_end]), tcp4(1 + head_end, INVITE[head_end:])])
    assert out == [tcp_dgram(2, INVITE, frames=(1, 2))]


def test_tcp_out_of_order_segments():
    a, b, c = INVITE[:30], INVITE[30:100], INVITE[100:]
    out, rp = run([tcp4(1, a), tcp4(1 + len(a) + len(b), c), tcp4(1 + len(a), b)], finish=False)
    # Complete when frame 3 (the middle piece) arrived; the frames are every frame that carried a part.
    assert out == [tcp_dgram(3, INVITE, frames=(1, 2, 3))]
    assert anomalies(rp) == []


def test_tcp_retransmissions_are_counted_not_duplicated():
    a, b = INVITE[:50], INVITE[50:]
    out, rp = run([tcp4(1, a), tcp4(1, a), tcp4(1 + len(a), b), tcp4(1 + len(a), b), tcp4(1, a)])
    assert out == [tcp_dgram(3, INVITE, frames=(1, 3))]
    assert rp.tcp.retransmissions == 3 and anomalies(rp) == []


def test_tcp_partly_new_retransmission_keeps_only_the_new_bytes():
    a = INVITE[:50]
    out, rp = run([tcp4(1, a), tcp4(1, INVITE)])  # the second segment repeats a and carries the rest
    assert out == [tcp_dgram(2, INVITE, frames=(1, 2))]
    assert rp.tcp.retransmissions == 0


def test_tcp_gap_then_resynchronisation_on_the_next_start_line():
    second = OK[:20], OK[20:]
    s1 = 1
    s2 = s1 + len(INVITE)  # lost: the first 20 bytes of the 200 OK
    s3 = s2 + len(second[0])
    out, rp = run([tcp4(s1, INVITE), tcp4(s3, second[1] + BYE)])
    assert out == [tcp_dgram(1, INVITE), tcp_dgram(2, BYE)]
    [a] = rp.log.anomalies()
    assert (a.code, a.frame) == ("tcp.gap", 2)
    assert a.detail.startswith(f"20 bytes missing from {UA}:5060 -> {PBX}:5060 before frame 2")


def test_tcp_gap_resolved_when_the_out_of_order_buffer_overflows():
    # Later segments wait for a hole that never fills; past MAX_OUT_OF_ORDER bytes the hole is skipped at once.
    # The messages behind it are read there, in the frame that skipped it (as a hole that fills gives its frame,
    # see TcpReassembler._completed), each naming the frame that carried it.
    frames = [tcp4(1, INVITE)]
    seq = 1 + len(INVITE) + 100  # 100 bytes lost
    chunk = BYE * 10
    while (len(frames) - 1) * len(chunk) <= MAX_OUT_OF_ORDER:
        frames.append(tcp4(seq, chunk))
        seq += len(chunk)
    out, rp = run(frames, finish=False)
    assert anomalies(rp) == [("tcp.gap", 2)]
    last = len(frames)
    assert out == [tcp_dgram(1, INVITE)] + [tcp_dgram(last, BYE, frames=(f,)) for f in range(2, last + 1)
                                            for _ in range(10)]
    assert rp.tcp.halves[(UA, 5060, PBX, 5060)].out_of_order == {}


def _message(i: int) -> bytes:
    return b"OPTIONS sip:pbx SIP/2.0\r\nCall-ID: c%d\r\nContent-Length: 0\r\n\r\n" % i


def test_tcp_messages_each_after_a_lost_byte_arriving_backwards():
    """After the SYN, 300 SIP messages, one byte lost before each but the first, the segments arriving last one
    first: they wait for the first message; then for the holes, so at the end each hole is a gap and the message
    after it is read."""
    log = AnomalyLog()
    r = TcpReassembler(log)
    assert r.add(1, ts(1), UA, 5060, PBX, 5060, 999, 0x02, b"") == []  # SYN
    seqs, seq = [], 1000
    for i in range(300):
        seqs.append(seq)
        seq += len(_message(i)) + 1
    out = []
    for frame, i in enumerate(range(299, -1, -1), start=2):
        out += r.add(frame, ts(frame), UA, 5060, PBX, 5060, seqs[i], 0x18, _message(i))
    assert out == [tcp_dgram(301, _message(0))]
    assert r.finish() == [tcp_dgram(301 - i, _message(i)) for i in range(1, 300)]
    assert log.counts["tcp.gap"] == 299
    assert [(a.code, a.frame) for a in log.kept[:3]] == [("tcp.gap", 300), ("tcp.gap", 299), ("tcp.gap", 298)]
    assert log.kept[0].detail.startswith(f"1 bytes missing from {UA}:5060 -> {PBX}:5060 before frame 300")
    half = r.halves[(UA, 5060, PBX, 5060)]
    assert half.out_of_order == {} and half.ooo_bytes == 0 and half.next_seq == seq - 1


def test_tcp_of_two_waiting_segments_over_the_next_byte_the_first_to_arrive_is_read():
    """Two stored segments start before the next expected byte once the hole fills and differ after it: the one
    that arrived first is read (not the one that starts first in sequence), the other is dropped."""
    other = OPTIONS[8:].replace(b"sip:pbx", b"sip:PBX")
    out, rp = run([tcp4(999, b"", "S"), tcp4(1005, b"XXX" + OPTIONS[8:]), tcp4(1003, b"YYYYY" + other),
                   tcp4(1000, OPTIONS[:8])])
    assert out == [tcp_dgram(4, OPTIONS, frames=(2, 4))]
    assert anomalies(rp) == [] and rp.tcp.halves[(UA, 5060, PBX, 5060)].out_of_order == {}


def test_tcp_40000_one_byte_holes():
    """A SIP message, then 40 000 one-byte segments each after a one-byte hole (all below MAX_OUT_OF_ORDER, so
    they wait for the end). Skipping each hole used to pass over every waiting segment twice (O(n^2): minutes
    here); now it is a bisection. One message, one gap per hole, nothing left waiting."""
    log = AnomalyLog()
    r = TcpReassembler(log)
    out = r.add(1, ts(1), UA, 5060, PBX, 5060, 1000, 0x18, OPTIONS)
    first = 1000 + len(OPTIONS)
    for i in range(40_000):
        assert r.add(i + 2, ts(i + 2), UA, 5060, PBX, 5060, first + 1 + 2 * i, 0x18, b"x") == []
    half = r.halves[(UA, 5060, PBX, 5060)]
    assert len(half.out_of_order) == 40_000 and half.ooo_bytes == 40_000
    assert out + r.finish() == [tcp_dgram(1, OPTIONS)]
    assert log.counts["tcp.gap"] == 40_000 and [a.frame for a in log.kept[:3]] == [2, 3, 4]
    assert half.out_of_order == {} and half.ooo_bytes == 0 and half.next_seq == first + 2 * 40_000
    assert half.mode == "resync" and bytes(half.buf) == b"x"


def test_tcp_capture_starting_mid_stream():
    # The first segment seen holds the end of a message body, then a whole message.
    out, rp = run([tcp4(5000, b"=0\r\ns=-\r\n" + OK)])
    assert out == [tcp_dgram(1, OK)]
    assert anomalies(rp) == []


def test_tcp_mid_stream_on_a_non_sip_port_resyncs_by_start_line():
    out, _ = run([tcp4(5000, b"tail of a body\r\n" + BYE, sport=40000, dport=15060)])
    assert out == [tcp_dgram(1, BYE, sport=40000, dport=15060)]


def test_tcp_other_protocol_is_dropped():
    out, rp = run([tcp4(1, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", sport=40000, dport=80),
                   tcp4(28, b"more", sport=40000, dport=80)])
    assert out == [] and anomalies(rp) == []


def test_tcp_retransmitted_fin_segment_is_not_a_second_message():
    out, rp = run([tcp4(1, BYE, "FPA"), tcp4(1, BYE, "FPA"), tcp4(1 + len(BYE), b"", "A")])
    assert out == [tcp_dgram(1, BYE)]
    assert rp.tcp.retransmissions == 1 and anomalies(rp) == []


def test_tcp_new_connection_on_the_same_ports_after_close():
    out, rp = run([tcp4(1, BYE, "FPA"), tcp4(9000, b"", "S"), tcp4(9001, OK)])
    assert out == [tcp_dgram(1, BYE), tcp_dgram(3, OK)]
    assert rp.tcp.retransmissions == 0


def test_tcp_message_without_content_length():
    msg = pw.sip_bytes("OPTIONS sip:x SIP/2.0\nVia: SIP/2.0/TCP h;branch=z9hG4bK9\n\n")
    out, rp = run([tcp4(1, msg)])
    assert out == [tcp_dgram(1, msg)]
    assert anomalies(rp) == [("sip.missing-content-length", 1)]


def test_tcp_unfinished_message_at_fin():
    out, rp = run([tcp4(1, INVITE[:60], "PA"), tcp4(61, b"", "FA")])
    assert out == [] and anomalies(rp) == [("tcp.incomplete-message", 1)]


def test_sip_stream_spans_skip_keepalives_and_keep_partial_messages():
    buf = b"\r\n\r\n" + OK + b"\r\n" + INVITE[:-3]
    spans, consumed, missing = sip_stream_spans(buf)
    assert spans == [(4, 4 + len(OK))]
    assert consumed == 4 + len(OK) + 2 and missing is False  # the keep-alive before the partial one too
    assert buf[consumed:] == INVITE[:-3]


def test_tcp_over_ipv6():
    seg = pw.tcp(5060, 5060, 1, OK, src=UA6, dst=PBX6)
    out, _ = run([pw.ethernet(pw.ipv6(UA6, PBX6, 6, seg), pw.ETHERTYPE_IPV6)])
    assert out == [tcp_dgram(1, OK, src=UA6, dst=PBX6)]


# -------------------------------------------------------------------------------------------------- WebSocket

HANDSHAKE = (b"GET /ws HTTP/1.1\r\nHost: pbx.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sip\r\n"
             b"Sec-WebSocket-Version: 13\r\n\r\n")
ANSWER = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip\r\n\r\n")


def test_sip_over_websocket_with_handshake_and_masked_client_frames():
    key = b"\x37\xfa\x21\x3d"
    client = HANDSHAKE + pw.ws_frame(INVITE, mask_key=key)
    server = ANSWER + pw.ws_frame(OK)
    frames = [tcp4(1, client, sport=50000, dport=443),
              tcp4(1, server, sport=443, dport=50000, src=PBX, dst=UA),
              tcp4(1 + len(client), pw.ws_frame(BYE, mask_key=key), sport=50000, dport=443)]
    out, rp = run(frames)
    assert out == [
        sip_dgram(1, INVITE, UA, PBX, 50000, 443, "ws"),
        sip_dgram(2, OK, PBX, UA, 443, 50000, "ws"),
        sip_dgram(3, BYE, UA, PBX, 50000, 443, "ws"),
    ]
    assert anomalies(rp) == []


def test_websocket_message_in_continuation_frames_across_segments():
    key = b"\x01\x02\x03\x04"
    part1 = pw.ws_frame(INVITE[:40], opcode=1, fin=False, mask_key=key)
    part2 = pw.ws_frame(INVITE[40:], opcode=0, fin=True, mask_key=key)
    ping = pw.ws_frame(b"", opcode=9, mask_key=key)
    stream = HANDSHAKE + part1 + ping + part2
    cut = len(HANDSHAKE) + 10
    out, _ = run([tcp4(1, stream[:cut], sport=50000, dport=8080), tcp4(1 + cut, stream[cut:], sport=50000,
                                                                       dport=8080)])
    assert out == [sip_dgram(2, INVITE, UA, PBX, 50000, 8080, "ws", frames=(1, 2))]


def test_websocket_handshake_split_over_segments():
    # Large cookies push the Upgrade header past the first segment (and past 2 KiB).
    key = b"\x37\xfa\x21\x3d"
    request = HANDSHAKE.replace(b"Host:", b"Cookie: " + b"c" * 2500 + b"\r\nHost:")
    client = request + pw.ws_frame(INVITE, mask_key=key)
    out, rp = run([tcp4(1, client[:1400], sport=50000, dport=443),
                   tcp4(1401, client[1400:2800], sport=50000, dport=443),
                   tcp4(2801, client[2800:], sport=50000, dport=443)])
    assert out == [sip_dgram(3, INVITE, UA, PBX, 50000, 443, "ws", frames=(2, 3))]  # the frame starts in 2
    assert anomalies(rp) == []


def test_plain_http_is_dropped_once_its_header_is_complete():
    out, rp = run([tcp4(1, b"GET /index.html HTTP/1.1\r\nHost: x\r\n", sport=40000, dport=80),
                   tcp4(36, b"Accept: */*\r\n\r\n", sport=40000, dport=80)])
    assert out == [] and rp.tcp.halves[(UA, 40000, PBX, 80)].mode == "other"


def test_websocket_frames_mid_stream_without_handshake():
    out, _ = run([tcp4(1, pw.ws_frame(OK), sport=443, dport=50000, src=PBX, dst=UA)])
    assert out == [sip_dgram(1, OK, PBX, UA, 443, 50000, "ws")]


# ------------------------------------------------------------------------------------------------ tunnels


def plain(frame: int, encap: str, payload: bytes = OPTIONS) -> Datagram:
    return sip_dgram(frame, payload, encap=encap)


def test_ip_in_ip():
    inner = udp4(OPTIONS)
    out, rp = run([pw.ethernet(pw.ipv4("10.0.0.1", "10.0.0.2", 4, inner))])
    assert out == [plain(1, "ipip")]
    assert rp.counts["ipip"] == 1


def test_ipv6_in_ipv4():
    inner = pw.ipv6(UA6, PBX6, 17, pw.udp(5060, 5060, OPTIONS, UA6, PBX6))
    out, _ = run([pw.ethernet(pw.ipv4("10.0.0.1", "10.0.0.2", 41, inner))])
    assert out == [sip_dgram(1, OPTIONS, UA6, PBX6, encap="ipip")]


@pytest.mark.parametrize("gre_kw", [{}, {"key": 42}, {"key": 1, "seq": 7}, {"checksum": True}],
                         ids=["plain", "key", "key+seq", "checksum"])
def test_gre(gre_kw):
    out, rp = run([pw.ethernet(pw.ipv4("10.0.0.1", "10.0.0.2", 47, pw.gre(udp4(OPTIONS), **gre_kw)))])
    assert out == [plain(1, "gre")] and rp.counts["gre"] == 1


def test_gre_transparent_ethernet_bridging():
    gre = pw.gre(pw.ethernet(udp4(OPTIONS)), 0x6558)
    out, _ = run([pw.ethernet(pw.ipv4("10.0.0.1", "10.0.0.2", 47, gre))])
    assert out == [plain(1, "gre")]


def test_gre_ppp():
    gre = pw.gre(b"\xff\x03\x00\x21" + udp4(OPTIONS), 0x880B)
    out, _ = run([pw.ethernet(pw.ipv4("10.0.0.1", "10.0.0.2", 47, gre))])
    assert out == [plain(1, "gre")]


def test_erspan_ii():
    mirrored = pw.ethernet(udp4(OPTIONS), vlans=(30,))
    out, _ = run([pw.ethernet(pw.ipv4("10.0.0.1", "10.0.0.2", 47, pw.erspan_ii(mirrored, session_id=5, seq=9)))])
    assert out == [plain(1, "erspan")]


def test_erspan_iii():
    mirrored = pw.ethernet(udp4(OPTIONS))
    out, _ = run([pw.ethernet(pw.ipv4("10.0.0.1", "10.0.0.2", 47, pw.erspan_iii(mirrored, timestamp=123)))])
    assert out == [plain(1, "erspan")]


def test_vxlan():
    vxlan = struct.pack("!BxxxI", 0x08, 5000 << 8) + pw.ethernet(udp4(OPTIONS))
    out, rp = run([pw.ethernet(udp4(vxlan, "10.0.0.1", "10.0.0.2", 40000, 4789))])
    assert out == [plain(1, "vxlan")] and rp.counts["vxlan"] == 1


@pytest.mark.parametrize("with_ext", [False, True], ids=["plain", "pdu-session-ext"])
def test_gtp_u(with_ext):
    inner = udp4(OPTIONS)
    if with_ext:  # E flag, 4 optional bytes ending with next extension type 0x85 (PDU session container)
        body = b"\x00\x00\x00\x85" + b"\x01\x00\x01\x00"
        gtp = struct.pack("!BBHI", 0x34, 0xFF, len(body) + len(inner), 0x1234) + body + inner
    else:
        gtp = struct.pack("!BBHI", 0x30, 0xFF, len(inner), 0x1234) + inner
    out, rp = run([pw.ethernet(udp4(gtp, "10.0.0.1", "10.0.0.2", 2152, 2152))])
    assert out == [plain(1, "gtp-u")] and rp.counts["gtp-u"] == 1


def test_mpls_label_stack():
    labels = struct.pack("!II", 100 << 12 | 64, 200 << 12 | 1 << 8 | 64)  # bottom of stack on the second
    out, _ = run([pw.ethernet(labels + udp4(OPTIONS), 0x8847)])
    assert out == [plain(1, "mpls")]


def test_pppoe_session():
    ppp = struct.pack("!BBHHH", 0x11, 0, 0x1234, len(udp4(OPTIONS)) + 2, 0x0021) + udp4(OPTIONS)
    out, _ = run([pw.ethernet(ppp, 0x8864, vlans=(10,))])
    assert out == [plain(1, "pppoe")]


def test_rtp_inside_a_tunnel_becomes_an_rtp_row():
    rtp = pw.rtp_packet(seq=5, ts=800, ssrc=0xCAFE)
    out, rp = run([pw.ethernet(pw.ipv4("10.0.0.1", "10.0.0.2", 47, pw.gre(udp4(rtp, sport=4000, dport=4002))))])
    assert out == []
    assert rp.rtp_rows == [(1, ts(1), b"\x00" * 10 + b"\xff\xff" + bytes([192, 168, 1, 10]),
                            b"\x00" * 10 + b"\xff\xff" + bytes([203, 0, 113, 5]), 4000, 4002, rtp)]


# ------------------------------------------------------------------------------------------------------ HEP


def test_hep3_gives_the_inner_addresses_and_time():
    hep_ts = T0 + 123_456_000
    hep = pw.hep3(OPTIONS, "10.1.1.1", "10.2.2.2", 5080, 5090, hep_ts)
    out, rp = run([pw.ethernet(udp4(hep, "172.16.0.1", "172.16.0.2", 40000, 9060))])
    assert out == [Datagram(1, hep_ts, "10.1.1.1", 5080, "10.2.2.2", 5090, "udp", OPTIONS, (1,), "hep", "sip")]
    assert rp.counts["hep"] == 1


def test_a_relayed_hep_copy_is_named_not_counted_again():
    """A capture beside an agent and a relaying collector sees each HEP message once per hop, with one HEP time
    (corpus hep3_compressed.pcapng: three times each). The copies are not SIP retransmissions; a resend is."""
    first = pw.hep3(OPTIONS, "10.1.1.1", "10.2.2.2", 5080, 5090, T0)
    resent = pw.hep3(OPTIONS, "10.1.1.1", "10.2.2.2", 5080, 5090, T0 + 500_000_000)  # Timer A, 500 ms later
    hops = [pw.ethernet(udp4(first, "172.16.0.1", "172.16.0.2", 40000, 9060)),
            pw.ethernet(udp4(first, "172.16.0.2", "172.16.0.3", 40001, 9060)),  # relayed on: same message
            pw.ethernet(udp4(resent, "172.16.0.1", "172.16.0.2", 40000, 9060))]
    out, rp = run(hops)
    assert [(d.frame, d.ts_ns) for d in out] == [(1, T0), (3, T0 + 500_000_000)]
    assert anomalies(rp) == [("hep.duplicate", 2)]
    assert rp.log.anomalies()[0].detail == ("a copy of the HEP message of frame 1 (same capture time, addresses and "
                                            "payload): relayed again, not sent again")


def test_hep3_ipv6_over_tcp_transport():
    hep = pw.hep3(OK, UA6, PBX6, 5061, 5062, T0, ip_proto=6)
    out, _ = run([pw.ethernet(udp4(hep, "172.16.0.1", "172.16.0.2", 40000, 9060))])
    assert out == [Datagram(1, T0, UA6, 5061, PBX6, 5062, "tcp", OK, (1,), "hep", "sip")]


def test_hep3_rtcp():
    rr = struct.pack("!BBHI", 0x80, 201, 1, 7)
    hep = pw.hep3(rr, UA, PBX, 4001, 4003, T0, proto_type=5)
    out, _ = run([pw.ethernet(udp4(hep, "172.16.0.1", "172.16.0.2", 40000, 9060))])
    assert out == [Datagram(1, T0, UA, 4001, PBX, 4003, "udp", rr, (1,), "hep", "rtcp")]


def test_hep3_over_tcp():
    hep = pw.hep3(OPTIONS, "10.1.1.1", "10.2.2.2", 5060, 5060, T0)
    out, _ = run([tcp4(1, hep, sport=40000, dport=9061)])
    assert out == [Datagram(1, T0, "10.1.1.1", 5060, "10.2.2.2", 5060, "udp", OPTIONS, (1,), "hep", "sip")]


def test_hep3_damaged_is_an_anomaly():
    hep = pw.hep3(OPTIONS, "10.1.1.1", "10.2.2.2", 5060, 5060, T0)
    damaged = hep[:4] + struct.pack("!H", len(hep) + 50) + hep[6:]
    out, rp = run([pw.ethernet(udp4(damaged, "172.16.0.1", "172.16.0.2", 40000, 9060))])
    assert out == [] and anomalies(rp) == [("hep.bad-message", 1)]


def test_hep2():
    sec, usec = divmod(T0 // 1000, 1_000_000)
    hep = (bytes([2, 16, 2, 17]) + struct.pack("!HH", 5070, 5080) + bytes([10, 9, 8, 7]) + bytes([10, 6, 5, 4])
           + struct.pack("<IIHxx", sec, usec, 101) + OPTIONS)
    out, _ = run([pw.ethernet(udp4(hep, "172.16.0.1", "172.16.0.2", 40000, 9060))])
    assert out == [Datagram(1, T0, "10.9.8.7", 5070, "10.6.5.4", 5080, "udp", OPTIONS, (1,), "hep", "sip")]


# ------------------------------------------------------------------------------------------------ SCTP, ICMP


def sctp(sport: int, dport: int, chunks: list[tuple[int, int, bytes]]) -> bytes:
    """SCTP common header (RFC 9260 §3.1, checksum left 0) + DATA chunks (flags, tsn, user data), PPID 0."""
    out = struct.pack("!HHII", sport, dport, 0x1234, 0)
    for flags, tsn, user in chunks:
        chunk = struct.pack("!BBHIHHI", 0, flags, 16 + len(user), tsn, 0, 0, 0) + user
        out += chunk + bytes(-len(chunk) % 4)
    return out


def test_sctp_data_chunk():
    out, rp = run([pw.ethernet(pw.ipv4(UA, PBX, 132, sctp(5060, 5060, [(0x03, 1, OPTIONS)])))])
    assert out == [sip_dgram(1, transport="sctp")] and rp.counts["sctp"] == 1


def test_sctp_message_split_over_two_chunks():
    a, b = INVITE[:33], INVITE[33:]
    out, _ = run([pw.ethernet(pw.ipv4(UA, PBX, 132, sctp(5060, 5060, [(0x02, 10, a)]))),
                  pw.ethernet(pw.ipv4(UA, PBX, 132, sctp(5060, 5060, [(0x01, 11, b)])))])
    assert out == [sip_dgram(2, INVITE, transport="sctp", frames=(1, 2))]


def test_sctp_message_whose_end_was_lost_is_replaced_by_the_next_one():
    a, b = INVITE[:33], INVITE[33:]
    out, rp = run([pw.ethernet(pw.ipv4(UA, PBX, 132, sctp(5060, 5060, [(0x02, 10, b"LOST BEGINNING ")]))),
                   pw.ethernet(pw.ipv4(UA, PBX, 132, sctp(5060, 5060, [(0x02, 12, a)]))),
                   pw.ethernet(pw.ipv4(UA, PBX, 132, sctp(5060, 5060, [(0x01, 13, b)])))])
    assert out == [sip_dgram(3, INVITE, transport="sctp", frames=(2, 3))]
    assert rp._sctp_parts == {}


def test_sctp_endless_message_is_dropped_past_64k():
    frames = [pw.ethernet(pw.ipv4(UA, PBX, 132, sctp(5060, 5060, [(0x02 if i == 0 else 0, i, bytes(1200))])))
              for i in range(100)]
    out, rp = run(frames)
    assert out == [] and rp._sctp_parts == {}  # nothing held once the message passed 65535 bytes


def test_icmp_port_unreachable():
    quoted = udp4(OPTIONS)[:28]  # the IP header and the first 8 bytes of the UDP datagram
    icmp = struct.pack("!BBHI", 3, 3, 0, 0) + quoted
    out, rp = run([pw.ethernet(pw.ipv4(PBX, UA, 1, icmp))])
    assert out == [Datagram(1, ts(1), PBX, 0, UA, 0, "icmp", icmp, (1,), "", "icmp")]
    assert rp.counts["icmp"] == 1


def test_icmp_echo_is_not_a_datagram():
    out, rp = run([pw.ethernet(pw.ipv4(PBX, UA, 1, struct.pack("!BBHI", 8, 0, 0, 1) + bytes(8)))])
    assert out == [] and rp.counts["icmp"] == 1


def test_icmpv6_destination_unreachable():
    icmp = struct.pack("!BBHI", 1, 4, 0, 0) + bytes(48)
    out, _ = run([pw.ethernet(pw.ipv6(PBX6, UA6, 58, icmp), pw.ETHERTYPE_IPV6)])
    assert out == [Datagram(1, ts(1), PBX6, 0, UA6, 0, "icmpv6", icmp, (1,), "", "icmp")]


# ------------------------------------------------------------------------------------------- other UDP, links


def test_stun_and_rtcp_are_datagrams_of_their_kind():
    stun = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + bytes(12)
    sr = struct.pack("!BBHI", 0x80, 200, 6, 0x1234) + bytes(20)
    out, rp = run([pw.ethernet(udp4(stun, sport=40000, dport=3478)),
                   pw.ethernet(udp4(sr, sport=40001, dport=50001))])
    assert out == [sip_dgram(1, stun, sport=40000, dport=3478, kind="stun"),
                   sip_dgram(2, sr, sport=40001, dport=50001, kind="rtcp")]
    assert (rp.counts["stun"], rp.counts["rtcp"]) == (1, 1)


def test_unsupported_link_type_is_reported_once():
    out, rp = run([bytes(40), bytes(40)], linktype=147)
    assert out == [] and anomalies(rp) == [("link.unsupported", 1)]


@pytest.mark.parametrize("link", ["sll", "sll2", "raw", "null", "loop"])
def test_rich_path_link_types(link):
    out, _ = run([pw.link_frame(udp4(OPTIONS), link)], linktype=pw.LINKTYPES[link])
    assert out == [sip_dgram(1)]
