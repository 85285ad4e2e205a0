"""The size log of SIP messages over UDP (sipdiag.udpsizes): a size for every message, a record for the large or
fragmented ones, looked up by frame."""

from __future__ import annotations

from sipdiag.parsers.sip import parse_sip
from sipdiag.udpsizes import SizeLog, sizes_of
from tests import callcapture as cc
from tests import pcapwriter as pw

T0 = cc.T0
UA, PBX = cc.UA, cc.PBX
SMALL = cc.sip_message("OPTIONS sip:200@example.com SIP/2.0", "opt-1", "1 OPTIONS", src=UA, to_tag=False)
LARGE = cc.sip_message("INVITE sip:200@example.com SIP/2.0", "late-1", "1 INVITE", src=UA, to_tag=False,
                       body=cc.SDP.format(ip=UA[0], port=cc.UA_RTP) + "a=x-pad:" + "p" * 1100 + "\n")


def _parsed(text: str, frame: int, *, transport: str = "udp", fragments: tuple[int, ...] = (), src=UA, dst=PBX):
    return parse_sip(pw.sip_bytes(text), frame=frame, ts_ns=T0, src=src, dst=dst, transport=transport,
                     fragments=fragments)


def test_the_log_keeps_every_size_and_records_only_the_large_or_fragmented() -> None:
    log = SizeLog()
    log.add(_parsed(SMALL, 5))
    log.add(_parsed(LARGE, 9))
    log.add(_parsed(SMALL, 7, fragments=(6, 7)))  # out of frame order (merged interfaces)
    log.add(_parsed(LARGE, 11, transport="tcp"))  # over TCP: the stream is cut into segments, not IP fragments
    log.add(_parsed(LARGE, 12))
    sizes = log.finish()
    small_n, large_n = len(pw.sip_bytes(SMALL)), len(pw.sip_bytes(LARGE))
    assert (list(sizes.frames), list(sizes.sizes)) == ([5, 7, 9, 12], [small_n, small_n, large_n, large_n])
    assert [sizes.size_at(f) for f in (5, 6, 7, 9, 11, 12, 13, None)] == [
        small_n, None, small_n, large_n, None, large_n, None, None]
    assert [(r.frame, r.size, r.fragments, r.method, r.call_id) for r in sizes.records] == [
        (9, large_n, (), "INVITE", "late-1"), (7, small_n, (6, 7), "OPTIONS", "opt-1"),
        (12, large_n, (), "INVITE", "late-1")]
    first, _, again = sizes.records
    assert first.copy_key == again.copy_key  # a retransmission: the same octets on the same flow
    assert first.src_ip is again.src_ip and first.call_id is again.call_id  # one string each, not one per record
    # an analysis built from messages in memory records all of them
    assert [r.frame for r in sizes_of([_parsed(SMALL, 3), _parsed(LARGE, 2)]).records] == [2, 3]
