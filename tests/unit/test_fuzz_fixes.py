"""Inputs a fuzzing campaign found that ended in a traceback, a schema-breaking document or gigabytes of memory: each
is now read as far as it can be, with the damage named. Every case fails on the code before its fix."""

from __future__ import annotations

import gzip
import io
import json
import struct
import zlib

import pytest

import sipdiag
from sipdiag.errors import CaptureReadError
from sipdiag.parsers.anomalytexts import Detail
from sipdiag.parsers.hep import MAX_INFLATED, parse_hep
from sipdiag.reports import render
from tests import callcapture as cc
from tests import pcapwriter as pw

OPTIONS = (b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
           b"To: <sip:a@b>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")


def chunk(ctype: int, value: bytes) -> bytes:
    return struct.pack("!HHH", 0, ctype, 6 + len(value)) + value


def hep(*chunks: bytes) -> bytes:
    body = b"".join(chunks)
    return b"HEP3" + struct.pack("!H", 6 + len(body)) + body


V4 = (chunk(1, b"\x02"), chunk(2, b"\x11"), chunk(3, bytes([10, 0, 0, 1])), chunk(4, bytes([10, 0, 0, 2])))


def test_hep_ipv6_address_chunk_of_the_wrong_length_is_a_bad_message() -> None:
    packet, problem = parse_hep(hep(chunk(1, b"\x0a"), chunk(5, b"\x01\x02"), chunk(6, bytes(16)), chunk(15, OPTIONS)))
    assert (packet, problem.en) == (None, "HEPv3 message without source/destination address chunks")


def test_hep_port_chunk_wider_than_16_bits_is_not_a_port() -> None:
    packet, _ = parse_hep(hep(*V4, chunk(7, b"\x01" * 17), chunk(8, b"\x13\xc4"), chunk(15, OPTIONS)))
    assert (packet.src_port, packet.dst_port) == (0, 5060)


def test_hep_compressed_payload_is_inflated_up_to_a_sip_message() -> None:
    fine, _ = parse_hep(hep(*V4, chunk(16, zlib.compress(OPTIONS))))
    assert fine.payload == OPTIONS
    bomb = zlib.compress(b"A" * (MAX_INFLATED + 1))  # 65 KB of SIP-less text in a few hundred octets
    assert parse_hep(hep(*V4, chunk(16, bomb))) == (None, Detail(
        "HEPv3 compressed payload (chunk 16) inflates beyond 65535 octets",
        "сжатые данные HEPv3 (блок 16) при распаковке превышают 65535 октетов"))


def test_gzip_capture_damaged_in_its_first_block_is_a_read_error(tmp_path) -> None:
    z = bytearray(gzip.compress(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) * 50))
    z[10] = 0x00  # the deflate stream's first octet: a stored block whose lengths do not check
    path = tmp_path / "damaged.pcap.gz"
    path.write_bytes(bytes(z))
    with pytest.raises(CaptureReadError, match="is a damaged gzip file, corrupt data"):
        sipdiag.analyze(path)


def test_sctp_data_chunk_cut_inside_its_header_is_skipped(tmp_path) -> None:
    sctp = struct.pack("!HHII", 5060, 5060, 0, 0) + struct.pack("!BBH", 0, 0x03, 100) + b"\x00\x00"
    path = tmp_path / "sctp.pcap"
    pw.write_pcap(path, [(cc.T0, pw.link_frame(pw.ipv4("10.0.0.1", "10.0.0.2", 132, sctp)))], pw.LINKTYPE_ETHERNET)
    a = sipdiag.analyze(path)
    assert (a.capture.packets, a.sip.messages) == (1, 0)


def test_no_rtp_text_names_an_m_line_without_any_c_line(tmp_path) -> None:
    offer = "v=0\no=- 1 1 IN IP4 192.168.1.10\ns=-\nt=0 0\nm=audio 6000 RTP/AVP 0\n"
    answer = "v=0\no=- 2 2 IN IP4 203.0.113.5\ns=-\nt=0 0\nm=audio 7000 RTP/AVP 0\n"
    s = cc.Script()
    s.sip(0.0, cc.sip_message("INVITE sip:200@example.com SIP/2.0", "noc-1", "1 INVITE", src=cc.UA, to_tag=False,
                              body=offer), cc.UA, cc.PBX)
    s.sip(0.3, cc.sip_message("SIP/2.0 200 OK", "noc-1", "1 INVITE", src=cc.UA, body=answer), cc.PBX, cc.UA)
    s.sip(0.31, cc.sip_message("ACK sip:200@203.0.113.5 SIP/2.0", "noc-1", "1 ACK", src=cc.UA, branch="a"),
          cc.UA, cc.PBX)
    cc.bye(s, 20.0, "noc-1")
    a = sipdiag.analyze(s.write(tmp_path / "noc.pcap"))
    (f,) = [f for f in a.findings if f.rule == "media.no-rtp"]
    assert f.evidence["media"] == "port 6000 (no c=), port 7000 (no c=)"


def test_statistics_of_an_undescribed_interface_are_skipped_and_named(tmp_path) -> None:
    def block(btype: int, body: bytes) -> bytes:
        body += bytes(-len(body) % 4)
        return struct.pack("<II", btype, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))

    frame = pw.sip_udp_frame(OPTIONS)
    head = (block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
            + block(1, struct.pack("<HHI", 1, 0, 65535))
            + block(6, struct.pack("<IIIII", 0, 0, 0, len(frame), len(frame)) + frame))
    data = head + block(5, struct.pack("<III", 7, 0, 0))  # interface 7: no IDB describes it
    path = tmp_path / "isb.pcapng"
    path.write_bytes(data)
    a = sipdiag.analyze(path)
    assert a.capture.interface_stats == ()
    assert [an.detail for an in a.anomalies if an.code == "pcapng.bad-block"] == [
        f"interface statistics block at offset {len(head)} names interface 7, which this section does not describe: "
        f"skipped"]
    out = io.StringIO()
    render(a, "json", out)
    assert json.loads(out.getvalue())["capture"]["interface_stats"] == []
