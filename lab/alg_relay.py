"""A SIP ALG as many consumer routers have one: rewrites Via and Contact, forgets the SDP.

This is a small user-space relay that stands in for the router's ALG (a kernel or firmware ALG
rewrites packets in the forwarding path; this one is the phone's outbound proxy at the router's
LAN address). On the WAN side its messages look like those of a real ALG: they leave from the
router's public address, Via sent-by and Contact carry the public address, and the SDP still
carries the phone's private address (c= and o=), the inconsistency RULES.md
alg.sdp-rewritten-inconsistently looks for. The message body and so Content-Length are left
untouched; RTP is not relayed (it crosses the router through the normal MASQUERADE NAT).

Run inside the router namespace::

    python -m lab.alg_relay --lan 192.168.1.1 --wan 203.0.113.2 --phone 192.168.1.10:5060 \\
        --upstream 203.0.113.10:5060 --seconds 20
"""

from __future__ import annotations

import argparse
import select
import signal
import socket
import sys
import time

HEADER_NAMES = ("via", "v", "contact", "m")


def rewrite_headers(message: bytes, old: bytes, new: bytes, names=HEADER_NAMES) -> bytes:
    """Replace ``old`` by ``new`` in the named header fields only, never in the body."""
    head, sep, body = message.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    for i, line in enumerate(lines[1:], start=1):
        name = line.split(b":", 1)[0].strip().lower()
        if name.decode(errors="replace") in names:
            lines[i] = line.replace(old, new)
    return b"\r\n".join(lines) + sep + body


def relay(lan: str, wan: str, phone: tuple[str, int], upstream: tuple[str, int], seconds: float) -> int:
    lan_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    lan_sock.bind((lan, 5060))
    wan_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    wan_sock.bind((wan, 5060))
    private = f"{phone[0]}:{phone[1]}".encode()
    public = f"{wan}:5060".encode()
    print(f"alg_relay: {lan}:5060 <-> {wan}:5060, phone {phone}, upstream {upstream}", flush=True)
    deadline = time.monotonic() + seconds
    relayed = 0
    while time.monotonic() < deadline:
        ready, _, _ = select.select([lan_sock, wan_sock], [], [], 0.2)
        for sock in ready:
            data, src = sock.recvfrom(65535)
            if sock is lan_sock:
                # Outbound: the ALG's half-done job -- headers rewritten, SDP untouched.
                wan_sock.sendto(rewrite_headers(data, private, public), upstream)
            else:
                # Inbound: restore the phone's own Via so it recognises its transaction.
                lan_sock.sendto(rewrite_headers(data, public, private, names=("via", "v")), phone)
            relayed += 1
            print(f"alg_relay: {src} -> {data.split(b' ', 2)[:2]}", flush=True)
    return relayed


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lan", required=True)
    parser.add_argument("--wan", required=True)
    parser.add_argument("--phone", required=True, type=_hostport)
    parser.add_argument("--upstream", required=True, type=_hostport)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    relay(args.lan, args.wan, args.phone, args.upstream, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
