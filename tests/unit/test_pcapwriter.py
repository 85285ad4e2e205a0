"""tests/pcapwriter.py checked against independent readers: exact bytes from the RFCs' own examples, dpkt and
scapy where they parse the layer, and tshark/capinfos (marker `tshark`) for everything Wireshark dissects."""

from __future__ import annotations

import gzip
import io
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from tests.pcapwriter import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_RAW,
    LINKTYPES,
    SimplePacket,
    erspan_ii,
    erspan_iii,
    ethernet,
    fragment_ipv4,
    fragment_ipv6,
    gre,
    hep3,
    inet_checksum,
    ipv4,
    ipv6,
    ipv6_ext_header,
    rtp_packet,
    sip_bytes,
    sip_udp_frame,
    sll2,
    tcp,
    udp,
    write_pcap,
    write_pcap_gz,
    write_pcapng,
    ws_frame,
)

HAVE_TSHARK = shutil.which("tshark") is not None and shutil.which("capinfos") is not None

T0 = 1_700_000_000_123_456_789  # 2023-11-14T22:13:20.123456789Z
UA, PBX = "192.168.1.10", "203.0.113.5"

INVITE = """INVITE sip:bob@203.0.113.5 SIP/2.0
Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK776asdhds
Max-Forwards: 70
To: Bob <sip:bob@203.0.113.5>
From: Alice <sip:alice@192.168.1.10>;tag=1928301774
Call-ID: a84b4c76e66710@pc33
CSeq: 314159 INVITE
Contact: <sip:alice@192.168.1.10>
Content-Length: 0

"""


def tshark_fields(path: Path, *fields: str, args: tuple[str, ...] = ()) -> list[list[str]]:
    """One row per frame, one column per field (empty string when absent)."""
    cmd = ["tshark", "-n", "-r", str(path), *args, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]
    for field in fields:
        cmd += ["-e", field]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def capinfos(path: Path) -> str:
    return subprocess.run(["capinfos", str(path)], capture_output=True, text=True, check=True).stdout


# --- exact bytes, no external reader ------------------------------------------------------------------------------

def test_inet_checksum_rfc1071_example():
    # RFC 1071 §3 numerical example: words 0001 f203 f4f5 f6f7 sum to ddf2 (after the end-around carry)
    assert inet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2


def test_ipv4_header_matches_a_known_header():
    # A widely reproduced UDP header example: 192.168.0.1 -> 192.168.0.199, total length 0x73, DF, TTL 64.
    packet = ipv4("192.168.0.1", "192.168.0.199", 17, bytes(0x73 - 20), df=True)
    assert packet[:20].hex() == "45000073000040004011b861c0a80001c0a800c7"


def test_sip_bytes_normalises_line_ends_to_crlf():
    assert sip_bytes("OPTIONS sip:a SIP/2.0\nContent-Length: 0\r\n\n") == \
        b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 0\r\n\r\n"
    assert sip_bytes(b"raw\n") == b"raw\n"


def test_ethernet_qinq_tags_outer_88a8_inner_8100():
    frame = ethernet(b"", vlans=((200, 5), 300))
    assert frame[12:22].hex() == "88a8" "a0c8" "8100" "012c" "0800"


def test_hep3_exact_layout():
    ts_ns = 1_700_000_000_123_456_789
    packet = hep3(b"OPTIONS", UA, PBX, 5060, 5080, ts_ns, capture_id=2001, auth_key="k")
    expected = (
        b"HEP3" + struct.pack("!H", 113)  # 6 + chunks 7+7+10+10+8+8+10+10+7+10+7+13
        + bytes.fromhex("0000 0001 0007 02")          # IP family: AF_INET
        + bytes.fromhex("0000 0002 0007 11")          # IP protocol: UDP
        + bytes.fromhex("0000 0003 000a c0a8010a")    # IPv4 source
        + bytes.fromhex("0000 0004 000a cb007105")    # IPv4 destination
        + bytes.fromhex("0000 0007 0008 13c4")        # source port 5060
        + bytes.fromhex("0000 0008 0008 13d8")        # destination port 5080
        + bytes.fromhex("0000 0009 000a 6553f100")    # seconds 1700000000
        + bytes.fromhex("0000 000a 000a 0001e240")    # microseconds 123456
        + bytes.fromhex("0000 000b 0007 01")          # protocol type: SIP
        + bytes.fromhex("0000 000c 000a 000007d1")    # capture id 2001
        + bytes.fromhex("0000 000e 0007") + b"k"      # auth key
        + bytes.fromhex("0000 000f 000d") + b"OPTIONS"  # payload
    )
    assert packet == expected
    assert struct.unpack("!H", packet[4:6])[0] == len(packet)


def test_hep3_ipv6_uses_chunks_5_and_6():
    packet = hep3(b"x", "2001:db8::1", "2001:db8::2", 1, 2, 0)
    assert packet[6:13] == bytes.fromhex("0000 0001 0007 0a")
    assert packet[20:26] == bytes.fromhex("0000 0005 0016")
    assert packet[42:48] == bytes.fromhex("0000 0006 0016")


def test_ws_frame_lengths_and_mask_rfc6455_examples():
    # RFC 6455 §5.7: a single-frame unmasked text message "Hello" and its masked form
    assert ws_frame(b"Hello") == bytes.fromhex("810548656c6c6f")
    assert ws_frame(b"Hello", mask_key=bytes.fromhex("37fa213d")) == bytes.fromhex("818537fa213d7f9f4d5158")
    # §5.7: 256 bytes binary in a single unmasked frame: 0x82 0x7E 0x0100; 64 KiB: 0x82 0x7F 0x0000000000010000
    assert ws_frame(bytes(256), opcode=2)[:4] == bytes.fromhex("827e0100")
    assert ws_frame(bytes(65536), opcode=2)[:10] == bytes.fromhex("827f0000000000010000")
    assert ws_frame(b"ab", opcode=0, fin=False) == bytes.fromhex("00026162")


def test_rtp_packet_header_fields():
    packet = rtp_packet(0xFFFF, 0x01020304, 0xDEADBEEF, pt=8, marker=True, payload=b"\xd5" * 4,
                        csrcs=(7,), extension=(0xBEDE, b"\x10\x01"), padding=3)
    assert packet.hex() == (
        "b1" "88" "ffff" "01020304" "deadbeef"   # V=2 P X CC=1 | M PT=8 | seq | ts | ssrc
        "00000007"                              # CSRC
        "bede0001" "10010000"                   # extension: profile, 1 word, data padded to 4
        "d5d5d5d5"                              # payload
        "000003"                                # padding, count in the last octet
    )


def test_fragment_ipv4_offsets_and_flags():
    fragments = fragment_ipv4(UA, PBX, 17, bytes(3000), mtu=1500, ident=0x1234)
    fields = [struct.unpack("!HHH", f[2:8]) for f in fragments]
    # total length, ident, flags|offset/8: 1480 data octets per fragment (a multiple of 8), MF on all but the last
    assert fields == [(1500, 0x1234, 0x2000 | 0), (1500, 0x1234, 0x2000 | 185), (60, 0x1234, 370)]


def test_fragment_ipv6_fragment_headers():
    fragments = fragment_ipv6("2001:db8::1", "2001:db8::2", 17, bytes(2000), mtu=1280, ident=7)
    assert [len(f) for f in fragments] == [1280, 48 + 2000 - 1232]
    assert [f[6] for f in fragments] == [44, 44]
    # next header 17, offset 0 with M; then offset 1232 octets: 1232 / 8 = 154, 154 << 3 = 0x04d0, M = 0
    assert [f[40:48].hex() for f in fragments] == ["1100000100000007", "110004d000000007"]


def test_ipv6_ext_header_padded_to_8_octets():
    assert ipv6_ext_header(17) == bytes.fromhex("1100010400000000")
    assert len(ipv6_ext_header(17, bytes(7))) == 16


# --- dpkt and scapy as readers ------------------------------------------------------------------------------------

def test_dpkt_reads_pcap_variants():
    dpkt = pytest.importorskip("dpkt")
    frame = sip_udp_frame(INVITE, vlans=(100,))
    for nanos, big_endian in [(False, False), (True, False), (False, True), (True, True)]:
        buf = io.BytesIO()
        write_pcap(buf, [(T0, frame)], LINKTYPE_ETHERNET, nanos=nanos, big_endian=big_endian)
        buf.seek(0)
        reader = dpkt.pcap.Reader(buf)
        [(ts, data)] = list(reader)
        assert reader.datalink() == 1
        assert data == frame
        if nanos:  # dpkt gives a Decimal with every nanosecond for the nanosecond magic
            assert str(ts) == "1700000000.123456789"
        else:
            assert round(ts * 1e6) == 1_700_000_000_123_456
        eth = dpkt.ethernet.Ethernet(data)
        assert [tag.id for tag in eth.vlan_tags] == [100]
        assert eth.data.data.data.startswith(b"INVITE sip:bob@203.0.113.5 SIP/2.0\r\n")


def test_dpkt_reads_pcapng_epb_times_and_big_endian():
    dpkt = pytest.importorskip("dpkt")
    frame = sip_udp_frame(INVITE)
    for big_endian in (False, True):
        buf = io.BytesIO()
        write_pcapng(buf, [(LINKTYPE_ETHERNET, 9)], [(0, T0, frame), (0, T0 + 20_000_000, frame)],
                     big_endian=big_endian)
        buf.seek(0)
        records = list(dpkt.pcapng.Reader(buf))
        assert [data for _, data in records] == [frame, frame]
        assert [round(ts * 1e6) for ts, _ in records] == [1_700_000_000_123_457, 1_700_000_000_143_457]


def test_scapy_agrees_on_checksums_and_rtp():
    scapy_all = pytest.importorskip("scapy.all")
    from scapy.layers.rtp import RTP

    for src, dst in [(UA, PBX), ("2001:db8::1", "2001:db8::2")]:
        raw = sip_udp_frame(INVITE, src=src, dst=dst)
        parsed = scapy_all.Ether(raw)
        ours = parsed[scapy_all.UDP].chksum
        del parsed[scapy_all.UDP].chksum
        assert scapy_all.Ether(bytes(parsed))[scapy_all.UDP].chksum == ours
    segment = ipv4(UA, PBX, 6, tcp(5060, 5061, 1000, b"hello", ack=5, src=UA, dst=PBX))
    parsed = scapy_all.IP(segment)
    ours_ip, ours_tcp = parsed.chksum, parsed[scapy_all.TCP].chksum
    del parsed.chksum, parsed[scapy_all.TCP].chksum
    rebuilt = scapy_all.IP(bytes(parsed))
    assert (rebuilt.chksum, rebuilt[scapy_all.TCP].chksum) == (ours_ip, ours_tcp)
    assert str(rebuilt[scapy_all.TCP].flags) == "PA"

    rtp = RTP(rtp_packet(65000, 123456, 0x11223344, pt=0, marker=True, csrcs=(9, 10)))
    assert (rtp.version, rtp.marker, rtp.payload_type, rtp.sequence, rtp.timestamp, rtp.sourcesync,
            rtp.numsync, list(rtp.sync)) == (2, 1, 0, 65000, 123456, 0x11223344, 2, [9, 10])


# --- tshark and capinfos as readers -------------------------------------------------------------------------------

@pytest.mark.tshark
@pytest.mark.skipif(not HAVE_TSHARK, reason="tshark/capinfos not installed (apt-get install tshark)")
def test_tshark_ethernet_vlan_sip(tmp_path):
    path = tmp_path / "vlan.pcap"
    write_pcap(path, [(T0, sip_udp_frame(INVITE, vlans=(100,))),
                      (T0 + 1_000, sip_udp_frame(INVITE, vlans=((200, 3), 300)))], LINKTYPE_ETHERNET)
    rows = tshark_fields(path, "frame.time_epoch", "ieee8021ad.id", "vlan.id", "sip.Method", "sip.Call-ID",
                         "sip.CSeq.seq", "ip.checksum.status", "udp.checksum.status",
                         args=("-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"))
    assert rows == [
        ["1700000000.123456000", "", "100", "INVITE", "a84b4c76e66710@pc33", "314159", "1", "1"],
        ["1700000000.123457000", "200", "300", "INVITE", "a84b4c76e66710@pc33", "314159", "1", "1"],
    ]


@pytest.mark.tshark
@pytest.mark.skipif(not HAVE_TSHARK, reason="tshark/capinfos not installed (apt-get install tshark)")
class TestWithTshark:
    def test_pcap_nanos_big_endian_and_snaplen_cut(self, tmp_path):
        frame = sip_udp_frame(INVITE)
        path = tmp_path / "ns.pcap"
        write_pcap(path, [(T0, frame), (T0 + 1, frame[:60], len(frame))], LINKTYPE_ETHERNET, nanos=True,
                   big_endian=True, snaplen=200)
        rows = tshark_fields(path, "frame.time_epoch", "frame.len", "frame.cap_len")
        assert rows == [["1700000000.123456789", str(len(frame)), "200"],
                        ["1700000000.123456790", str(len(frame)), "60"]]
        info = capinfos(path)
        assert "File timestamp precision:  nanoseconds (9)" in info
        assert "Packet size limit:   file hdr: 200 bytes" in info

    def test_pcap_gz_is_read(self, tmp_path):
        path = tmp_path / "call.pcap.gz"
        write_pcap_gz(path, [(T0, sip_udp_frame(INVITE))], LINKTYPE_ETHERNET)
        assert gzip.open(path).read(4) == bytes.fromhex("d4c3b2a1")
        assert tshark_fields(path, "sip.Method") == [["INVITE"]]

    def test_pcapng_two_link_types_and_isb(self, tmp_path):
        path = tmp_path / "two.pcapng"
        eth = sip_udp_frame(INVITE)
        raw = sip_udp_frame(INVITE, link="raw")
        write_pcapng(path, [(LINKTYPE_ETHERNET, 9), (LINKTYPE_RAW, 6)],
                     [(0, T0, eth), (1, T0 + 1_000, raw), (0, T0 + 2_000, eth)],
                     statistics=[(0, T0 + 3_000, 2, 0), (1, T0 + 3_000, 5, 4)])
        info = capinfos(path)
        assert "Number of packets:   3" in info
        assert "Number of interfaces in file: 2" in info
        iface0, iface1 = info.split("Interface #0 info:")[1].split("Interface #1 info:")
        assert "Encapsulation = Ethernet (1 - ether)" in iface0
        assert "Time precision = nanoseconds (9)" in iface0
        assert "Number of stat entries = 1" in iface0
        assert "Number of packets = 2" in iface0
        assert "Encapsulation = Raw IP (7 - rawip)" in iface1
        assert "Time precision = microseconds (6)" in iface1
        assert "Number of stat entries = 1" in iface1
        assert "Number of packets = 1" in iface1
        rows = tshark_fields(path, "frame.interface_id", "frame.time_epoch", "sip.Method")
        assert rows == [["0", "1700000000.123456789", "INVITE"], ["1", "1700000000.123457000", "INVITE"],
                        ["0", "1700000000.123458789", "INVITE"]]

    def test_pcapng_big_endian_with_simple_packet_block(self, tmp_path):
        path = tmp_path / "be.pcapng"
        frame = sip_udp_frame(INVITE)
        write_pcapng(path, [(LINKTYPE_ETHERNET, 6)], [(0, T0, frame), SimplePacket(frame)], big_endian=True)
        assert path.read_bytes()[8:12] == bytes.fromhex("1a2b3c4d")
        rows = tshark_fields(path, "frame.len", "sip.Method")
        assert rows == [[str(len(frame)), "INVITE"], [str(len(frame)), "INVITE"]]

    def test_ipv4_fragments_reassemble_into_one_sip_message(self, tmp_path):
        body = "v=0\n" + "a=x-filler:" + "x" * 2980 + "\n"
        text = INVITE.replace("Content-Length: 0\n\n", f"Content-Type: application/sdp\n"
                              f"Content-Length: {len(sip_bytes(body))}\n\n") + body
        datagram = udp(5060, 5060, sip_bytes(text), UA, PBX)
        fragments = fragment_ipv4(UA, PBX, 17, datagram, mtu=1500, ident=0xBEEF)
        path = tmp_path / "frag.pcap"
        write_pcap(path, [(T0 + i, ethernet(f)) for i, f in enumerate(fragments)], LINKTYPE_ETHERNET)
        rows = tshark_fields(path, "frame.number", "ip.fragment.count", "ip.reassembled.length", "sip.Method",
                             "sip.Content-Length")
        assert len(fragments) == 3
        assert rows == [["1", "", "", "", ""], ["2", "", "", "", ""],
                        ["3", "3", str(len(datagram)), "INVITE", str(len(sip_bytes(body)))]]

    def test_ipv6_fragments_reassemble_into_one_sip_message(self, tmp_path):
        src, dst = "2001:db8::10", "2001:db8::5"
        text = INVITE.replace("Content-Length: 0", "Content-Length: 2000") + "y" * 2000
        datagram = udp(5060, 5060, sip_bytes(text), src, dst)
        fragments = fragment_ipv6(src, dst, 17, datagram, mtu=1280, ident=0x01020304)
        path = tmp_path / "frag6.pcap"
        write_pcap(path, [(T0 + i, f) for i, f in enumerate(fragments)], LINKTYPE_RAW)
        rows = tshark_fields(path, "ipv6.fragment.count", "ipv6.reassembled.length", "sip.Method",
                             "udp.checksum.status", args=("-o", "udp.check_checksum:TRUE"))
        assert len(fragments) == 2
        assert rows == [["", "", "", ""], ["2", str(len(datagram)), "INVITE", "1"]]

    def test_ipv6_hop_by_hop_header_is_walked(self, tmp_path):
        src, dst = "2001:db8::10", "2001:db8::5"
        datagram = udp(5060, 5060, sip_bytes(INVITE), src, dst)
        packet = ipv6(src, dst, 0, datagram, ext_headers=ipv6_ext_header(17))
        path = tmp_path / "hbh.pcap"
        write_pcap(path, [(T0, packet)], LINKTYPE_RAW)
        assert tshark_fields(path, "ipv6.nxt", "sip.Method") == [["0", "INVITE"]]

    def test_link_layers(self, tmp_path):
        for link, linktype in LINKTYPES.items():
            path = tmp_path / f"{link}.pcap"
            write_pcap(path, [(T0, sip_udp_frame(INVITE, link=link))], linktype)
            assert tshark_fields(path, "ip.src", "udp.srcport", "sip.Method") == [[UA, "5060", "INVITE"]], link
        path = tmp_path / "sll2.pcap"
        write_pcap(path, [(T0, sll2(ipv4(UA, PBX, 17, udp(5060, 5060, sip_bytes(INVITE))), ifindex=7))],
                   LINKTYPE_LINUX_SLL2)
        assert tshark_fields(path, "sll.ifindex", "sll.etype", "sip.Method") == [["7", "0x0800", "INVITE"]]
        path = tmp_path / "null6.pcap"
        write_pcap(path, [(T0, sip_udp_frame(INVITE, src="2001:db8::1", dst="2001:db8::2", link="null"))], 0)
        assert tshark_fields(path, "null.family", "ipv6.src", "sip.Method") == [["24", "2001:db8::1", "INVITE"]]

    def test_tunnels(self, tmp_path):
        inner_ip = ipv4(UA, PBX, 17, udp(5060, 5060, sip_bytes(INVITE), UA, PBX))
        inner_eth = ethernet(inner_ip)
        outer = ("10.0.0.1", "10.0.0.2")
        frames = [
            ethernet(ipv4(*outer, 47, gre(inner_ip, key=42, seq=7))),
            ethernet(ipv4(*outer, 47, gre(inner_ip, checksum=True))),
            ethernet(ipv4(*outer, 47, erspan_ii(inner_eth, session_id=5, seq=9, index=3))),
            ethernet(ipv4(*outer, 47, erspan_iii(inner_eth, session_id=6, seq=10, timestamp=12345))),
            ethernet(ipv4(*outer, 4, inner_ip)),
        ]
        path = tmp_path / "tunnels.pcap"
        write_pcap(path, [(T0 + i, f) for i, f in enumerate(frames)], LINKTYPE_ETHERNET)
        rows = tshark_fields(path, "gre.key", "gre.sequence_number", "gre.checksum.status", "erspan.version",
                             "erspan.spanid", "erspan.index", "erspan.timestamp", "ip.src", "sip.Method")
        assert rows == [
            ["0x0000002a", "7", "", "", "", "", "", "10.0.0.1,192.168.1.10", "INVITE"],
            ["", "", "1", "", "", "", "", "10.0.0.1,192.168.1.10", "INVITE"],
            ["", "9", "", "1", "5", "3", "", "10.0.0.1,192.168.1.10", "INVITE"],
            ["", "10", "", "2", "6", "", "12345", "10.0.0.1,192.168.1.10", "INVITE"],
            ["", "", "", "", "", "", "", "10.0.0.1,192.168.1.10", "INVITE"],
        ]

    def test_rtp_fields(self, tmp_path):
        packets = [
            rtp_packet(65535, 160, 0xDEADBEEF, pt=8, marker=True, payload=b"\xd5" * 160),
            rtp_packet(0, 320, 0xDEADBEEF, pt=8, payload=b"\xd5" * 160, csrcs=(1, 2),
                       extension=(0xBEDE, b"\x10\x01"), padding=4),
        ]
        path = tmp_path / "rtp.pcap"
        write_pcap(path, [(T0 + i * 20_000_000, ethernet(ipv4(UA, PBX, 17, udp(40000, 40002, p, UA, PBX))))
                          for i, p in enumerate(packets)], LINKTYPE_ETHERNET)
        rows = tshark_fields(path, "rtp.seq", "rtp.timestamp", "rtp.ssrc", "rtp.p_type", "rtp.marker",
                             "rtp.csrc.item", "rtp.ext.profile", "rtp.ext.len", "rtp.padding.count",
                             args=("-d", "udp.port==40000,rtp"))
        assert rows == [["65535", "160", "0xdeadbeef", "8", "1", "", "", "", ""],
                        ["0", "320", "0xdeadbeef", "8", "0", "0x00000001,0x00000002", "0xbede", "1", "4"]]

    def test_sip_over_websocket_over_tcp(self, tmp_path):
        ua, ua_port, server = UA, 50000, PBX
        get = (b"GET / HTTP/1.1\r\nHost: 203.0.113.5\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sip\r\n"
               b"Sec-WebSocket-Version: 13\r\n\r\n")
        switching = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip\r\n\r\n")
        register = sip_bytes(INVITE.replace("INVITE sip:bob@203.0.113.5", "REGISTER sip:203.0.113.5")
                             .replace("314159 INVITE", "1 REGISTER"))
        ok = sip_bytes("SIP/2.0 200 OK\nCall-ID: a84b4c76e66710@pc33\nCSeq: 1 REGISTER\nContent-Length: 0\n\n")
        up, down = 1000, 5000  # next sequence numbers of each side

        def segment(to_server: bool, flags: str, data: bytes = b"") -> bytes:
            nonlocal up, down
            a, b, sp, dp = (ua, server, ua_port, 80) if to_server else (server, ua, 80, ua_port)
            seq, ack = (up, down) if to_server else (down, up)
            frame = ethernet(ipv4(a, b, 6, tcp(sp, dp, seq, data, ack=ack, flags=flags, src=a, dst=b)))
            advance = len(data) + (1 if "S" in flags else 0)
            if to_server:
                up += advance
            else:
                down += advance
            return frame

        frames = [segment(True, "S"), segment(False, "SA"), segment(True, "A"), segment(True, "PA", get),
                  segment(False, "PA", switching),
                  segment(True, "PA", ws_frame(register, mask_key=bytes.fromhex("37fa213d"))),
                  segment(False, "PA", ws_frame(ok))]
        path = tmp_path / "ws.pcap"
        write_pcap(path, [(T0 + i * 1000, f) for i, f in enumerate(frames)], LINKTYPE_ETHERNET)
        rows = tshark_fields(path, "tcp.checksum.status", "websocket.masking_key", "websocket.payload_length_ext_16",
                             "sip.Method", "sip.Status-Code", args=("-o", "tcp.check_checksum:TRUE"))
        assert len(register) > 125 and len(ok) < 126
        assert rows[5:] == [["1", "37fa213d", str(len(register)), "REGISTER", ""], ["1", "", "", "", "200"]]
        assert [r[0] for r in rows] == ["1"] * 7

    def test_hep3_in_tshark(self, tmp_path):
        protocols = subprocess.run(["tshark", "-G", "protocols"], capture_output=True, text=True).stdout
        if not any(line.split("\t")[-1] == "hep" for line in protocols.splitlines()):
            pytest.skip("this tshark has no HEP dissector (Wireshark ships none; HOMER's is a Lua plugin); "
                        "the HEP3 layout is checked byte for byte in test_hep3_exact_layout")
        packet = hep3(sip_bytes(INVITE), UA, PBX, 5060, 5060, T0)
        path = tmp_path / "hep.pcap"
        write_pcap(path, [(T0, ethernet(ipv4("10.0.0.1", "10.0.0.2", 17, udp(9060, 9060, packet))))],
                   LINKTYPE_ETHERNET)
        assert tshark_fields(path, "sip.Method", args=("-d", "udp.port==9060,hep")) == [["INVITE"]]
