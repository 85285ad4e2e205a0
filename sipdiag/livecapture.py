"""Live capture from an interface (`sipdiag capture`, `sipdiag watch -i`): a Linux packet socket with a BPF
filter compiled and attached by scapy (libpcap's compiler), frames read raw with their kernel timestamps.

Why raw reads and not `scapy.sendrecv.sniff`: sniff dissects every packet into scapy objects, about 2.6 k packets
per second here (ARCHITECTURE.md "Two speeds"), while 100 calls of G.711 are 10 k RTP packets per second. scapy
does what needs it, the filter (compile_filter + attach_filter, so the kernel drops the rest before we see it);
the frames go as bytes to the capture writer and to the same decoder as a file's records.

The default filter (DEFAULT_FILTER) keeps:
- all UDP: SIP on any port, RTP/RTCP on the ports SDP chose, HEP, STUN (BPF cannot know RTP ports in advance);
- all TCP except a few bulk ports (ssh 22, http 80, https 443, smb 445, rdp 3389): SIP over TCP on any port, TLS on
  5061, WebSocket on 8080/8088/... (a filter on ports 5060-5061 only would miss SIP on 5080 or a carrier's port;
  content matching in BPF sees only the first segment of a message). The price: other TCP traffic (databases,
  backups) is recorded too; give --filter 'udp or icmp or icmp6 or (tcp and port 5060)' on such a host;
- ICMP and ICMPv6 (port unreachable, fragmentation needed: evidence for router.* rules);
- IPv4 fragments of any protocol (`ip[6:2] & 0x3fff != 0`: MF set or offset non-zero) and IPv6 fragments whose
  fragment header comes first (`ip6[6] = 44`).
VLAN-tagged frames: Linux strips the tag before the filter sees it on most NICs; where it does not, add
`or (vlan and udp)`.
"""

from __future__ import annotations

import re
import select
import socket
import struct
import time
from pathlib import Path

from .errors import CaptureError, UsageError
from .parsers import linktypes as lt

DEFAULT_FILTER = ("udp or icmp or icmp6 or (ip[6:2] & 0x3fff != 0) or (ip6 and ip6[6] = 44) or "
                  "(tcp and not (port 22 or port 80 or port 443 or port 445 or port 3389))")
ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = 35  # Linux: the receive time as a struct timespec in the ancillary data
PACKET_OUTGOING = 4
SNAPLEN = 262144
RCVBUF = 32 << 20  # the kernel buffer that absorbs bursts while a batch is analysed
ARPHRD_LOOPBACK, ARPHRD_NONE, ARPHRD_PPP, ARPHRD_IPGRE, ARPHRD_TUNNEL = 772, 0xFFFE, 512, 778, 768

Frame = tuple[int, bytes, int]  # (ts_ns, bytes, wire length)

NEED_RIGHTS = ("Run it as root (sudo sipdiag ...), or give the Python interpreter the right once: "
               "sudo setcap cap_net_raw,cap_net_admin+eip $(readlink -f $(which python3))")


def parse_size(text: str) -> int:
    """`50M`, `2G`, `500k`, `1048576` -> bytes (powers of 1024)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)[bB]?\s*", text)
    if not m:
        raise UsageError(f"{text!r} is not a size", hint="Give a size such as 50M, 2G or 500k.")
    return int(float(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()])


def interface_linktype(iface: str) -> int:
    """The link type a packet socket delivers on this interface: Ethernet headers on Ethernet and on Linux's
    loopback, raw IP on tunnels (tun, PPP, GRE, IPIP)."""
    try:
        hatype = int(Path(f"/sys/class/net/{iface}/type").read_text())
    except (OSError, ValueError):
        return lt.ETHERNET
    return lt.RAW if hatype in (ARPHRD_NONE, ARPHRD_PPP, ARPHRD_IPGRE, ARPHRD_TUNNEL) else lt.ETHERNET


def _interfaces() -> str:
    try:
        return ", ".join(name for _, name in socket.if_nameindex())
    except OSError:
        return "?"


class PacketSocket:
    """One interface opened for capture with a BPF filter. Raises CaptureError (no rights, no such interface)
    or UsageError (the filter does not compile)."""

    def __init__(self, iface: str, bpf: str, promisc: bool = True) -> None:
        self.iface = iface
        self.bpf = bpf
        try:
            socket.if_nametoindex(iface)
        except OSError:
            raise CaptureError(f"there is no interface named {iface!r}",
                               hint=f"Interfaces on this host: {_interfaces()} ('ip link' lists them).") from None
        self.linktype = interface_linktype(iface)
        self.loopback = _hatype(iface) == ARPHRD_LOOPBACK
        from scapy.arch.common import compile_filter  # lazily: `sipdiag --help` works without scapy's start-up
        from scapy.error import Scapy_Exception

        try:
            compile_filter(bpf, linktype=self.linktype)
        except (Scapy_Exception, ImportError, OSError) as e:
            raise UsageError(f"the capture filter does not compile: {e}",
                             hint="Check it with: tcpdump -d 'FILTER' (pcap-filter(7) syntax).") from None
        try:
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        except PermissionError:
            raise CaptureError(f"no permission to capture on {iface} (capturing needs root or CAP_NET_RAW)",
                               hint=NEED_RIGHTS) from None
        try:
            from scapy.arch.linux import attach_filter

            attach_filter(self.sock, bpf, iface)
            self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            except OSError:
                pass
            self.sock.bind((iface, ETH_P_ALL))
            if promisc and not self.loopback:
                # Promiscuous mode, as tcpdump sets it by default: on a switch's mirror (SPAN) port the calls are
                # addressed to other hosts' MACs and the NIC would drop them. A membership of this socket
                # (PACKET_MR_PROMISC): the kernel drops it when the socket closes, even if we are killed.
                from scapy.arch.linux import set_promisc

                try:
                    set_promisc(self.sock, iface, 1)
                except OSError:  # an interface without the mode (some tunnels): capture what reaches the host
                    pass
        except PermissionError:
            self.sock.close()
            raise CaptureError(f"no permission to capture on {iface}", hint=NEED_RIGHTS) from None
        except (OSError, Exception) as e:  # scapy raises its own exception types for a filter it cannot attach
            self.sock.close()
            raise CaptureError(f"cannot capture on {iface}: {e}",
                               hint="Check that the interface is up ('ip link set IFACE up').") from None
        self.sock.setblocking(False)

    def read(self, max_frames: int = 4096, timeout_s: float = 0.1) -> list[Frame]:
        """The frames that arrive within timeout_s (fewer when max_frames are there sooner)."""
        frames: list[Frame] = []
        deadline = time.monotonic() + timeout_s
        while len(frames) < max_frames:
            try:
                data, anc, _flags, addr = self.sock.recvmsg(SNAPLEN, 64)
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                    break
                continue
            if self.loopback and addr[2] == PACKET_OUTGOING:
                continue  # on lo every packet is seen leaving and arriving; keep one copy, as libpcap does
            ts_ns = time.time_ns()
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                    sec, nsec = struct.unpack("qq", value[:16])
                    ts_ns = sec * 1_000_000_000 + nsec
            frames.append((ts_ns, data, len(data)))
        return frames

    def close(self) -> None:
        self.sock.close()


def _hatype(iface: str) -> int | None:
    try:
        return int(Path(f"/sys/class/net/{iface}/type").read_text())
    except (OSError, ValueError):
        return None


def can_capture() -> bool:
    """Whether this process may open packet sockets (root or CAP_NET_RAW)."""
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)).close()
        return True
    except OSError:
        return False


