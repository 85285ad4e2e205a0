"""The lab network: a phone behind a NAT router, an ISP segment, a PBX and a second host.

Topology (every address lives only inside namespaces this module creates)::

    phone 192.168.1.10 --eth0--lan0-- router --wan0--+-- isp (bridge br0, 203.0.113.1)
                                    192.168.1.1      |      |- pbx  203.0.113.10
                                    203.0.113.2 -----+      `- peer 203.0.113.20

- ``phone``: the customer's phone on a private LAN (RFC 1918), default route via the router.
- ``router``: the customer's CPE; forwards and masquerades (iptables MASQUERADE, conntrack).
- ``isp``: a bridge standing for the access network, with the ISP gateway address. Its IPv4
  forwarding is off, so a packet sent to a private address (RTP towards a private SDP address)
  ends there silently (no ICMP when forwarding is off), as it does on the Internet.
- ``pbx``: the operator's PBX/registrar (the "operator edge" vantage point).
- ``peer``: a second host on the operator side (a remote phone, a scanner).

Namespaces are named ``<prefix>-<role>`` with a prefix holding the creating process id, so
parallel runs never collide; interface names are created inside those namespaces, never in the
caller's. :class:`Lab` is a context manager: leaving it (normally, by exception, by SIGTERM or at
interpreter exit) kills the processes it started, by their pid, and deletes its namespaces.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path

LAN_NET = "192.168.1.0/24"
PHONE_IP = "192.168.1.10"
ROUTER_LAN_IP = "192.168.1.1"
ROUTER_WAN_IP = "203.0.113.2"
ISP_GW_IP = "203.0.113.1"
PBX_IP = "203.0.113.10"
PEER_IP = "203.0.113.20"

ROLES = ("phone", "router", "isp", "pbx", "peer")

# Fixed, locally administered MAC addresses keep the captures byte-identical between runs.
MACS = {
    ("phone", "eth0"): "02:00:c0:a8:01:0a",
    ("router", "lan0"): "02:00:c0:a8:01:01",
    ("router", "wan0"): "02:00:cb:00:71:02",
    ("isp", "br0"): "02:00:cb:00:71:01",
    ("pbx", "eth0"): "02:00:cb:00:71:0a",
    ("peer", "eth0"): "02:00:cb:00:71:14",
}

# Vantage point (ARCHITECTURE.md / RULES.md §0.2) -> (namespace role, interface) to capture on.
VANTAGES = {
    "phone-lan": ("router", "lan0"),
    "cpe-wan": ("router", "wan0"),
    "operator-edge": ("pbx", "eth0"),
    "trunk": ("peer", "eth0"),
}


class LabError(RuntimeError):
    """A lab command failed; the message holds the command and its stderr."""


def _run(argv: list[str], check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, input=input)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(argv)} -> {proc.returncode}: {proc.stderr.strip()}")
    return proc


@dataclass
class Lab:
    """One instance of the lab network; use as ``with Lab() as lab: ...``."""

    prefix: str = field(default_factory=lambda: f"sdlab-{os.getpid()}-{uuid.uuid4().hex[:4]}")
    _procs: list[subprocess.Popen] = field(default_factory=list)
    _created: list[str] = field(default_factory=list)

    def ns(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    # ---- life cycle -------------------------------------------------------------------
    def __enter__(self) -> Lab:
        atexit.register(self.down)
        # SIGTERM (a CI timeout, kill PID) unwinds through __exit__ like an exception would.
        self._old_sigterm = None
        if threading.current_thread() is threading.main_thread():
            self._old_sigterm = signal.signal(signal.SIGTERM, _raise_exit)
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.down()
        if self._old_sigterm is not None:
            signal.signal(signal.SIGTERM, self._old_sigterm)
        atexit.unregister(self.down)

    def up(self) -> None:
        for role in ROLES:
            _run(["ip", "netns", "add", self.ns(role)])
            self._created.append(self.ns(role))
            # No IPv6: router solicitations and MLD reports would add noise to every capture.
            self.sysctl(role, "net.ipv6.conf.all.disable_ipv6", "1")
            self.sysctl(role, "net.ipv6.conf.default.disable_ipv6", "1")
            self.ip(role, "link", "set", "lo", "up")
        # Links: veth pairs are created inside the namespaces (never in the caller's).
        self._veth("phone", "eth0", "router", "lan0")
        self._veth("router", "wan0", "isp", "r0")
        self._veth("pbx", "eth0", "isp", "p0")
        self._veth("peer", "eth0", "isp", "h0")
        # No STP and no multicast snooping: neither sends anything, so the captures hold only the
        # traffic of the scenario (plus ARP).
        self.ip("isp", "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0",
                "mcast_snooping", "0")
        self.ip("isp", "link", "set", "br0", "address", MACS[("isp", "br0")])
        for port in ("r0", "p0", "h0"):
            self.ip("isp", "link", "set", port, "master", "br0")
            self.ip("isp", "link", "set", port, "up")
        self.ip("isp", "link", "set", "br0", "up")
        self._addr("phone", "eth0", f"{PHONE_IP}/24")
        self._addr("router", "lan0", f"{ROUTER_LAN_IP}/24")
        self._addr("router", "wan0", f"{ROUTER_WAN_IP}/24")
        self.ip("isp", "addr", "add", f"{ISP_GW_IP}/24", "dev", "br0")
        self._addr("pbx", "eth0", f"{PBX_IP}/24")
        self._addr("peer", "eth0", f"{PEER_IP}/24")
        self.ip("phone", "route", "add", "default", "via", ROUTER_LAN_IP)
        for role in ("router", "pbx", "peer"):
            self.ip(role, "route", "add", "default", "via", ISP_GW_IP)
        # The CPE: forwarding plus source NAT of the LAN behind its one public address.
        self.sysctl("router", "net.ipv4.ip_forward", "1")
        self.exec("router", ["iptables", "-t", "nat", "-A", "POSTROUTING", "-s", LAN_NET,
                             "-o", "wan0", "-j", "MASQUERADE"])
        # The ISP gateway routes nothing: traffic for private or unknown addresses dies here.
        self.sysctl("isp", "net.ipv4.ip_forward", "0")

    def down(self) -> None:
        for proc in reversed(self._procs):
            _stop(proc, signal.SIGTERM)
        self._procs.clear()
        for name in reversed(self._created):
            # Kill what is still inside (only our own namespaces), then delete them.
            pids = _run(["ip", "netns", "pids", name], check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            _run(["ip", "netns", "del", name], check=False)
        self._created.clear()

    # ---- helpers ----------------------------------------------------------------------
    def ip(self, role: str, *args: str) -> None:
        _run(["ip", "-n", self.ns(role), *args])

    def sysctl(self, role: str, key: str, value: str) -> None:
        self.exec(role, ["sysctl", "-q", "-w", f"{key}={value}"])

    def exec(self, role: str, argv: list[str], check: bool = True,
             input: str | None = None) -> subprocess.CompletedProcess:
        return _run(["ip", "netns", "exec", self.ns(role), *argv], check=check, input=input)

    def nft(self, role: str, ruleset: str) -> None:
        self.exec(role, ["nft", "-f", "-"], input=ruleset)

    def iptables(self, role: str, *args: str) -> None:
        self.exec(role, ["iptables", *args])

    def spawn(self, role: str, argv: list[str], log: Path, cwd: Path | None = None) -> subprocess.Popen:
        """Start a process in a namespace; it is tracked and killed by pid on teardown."""
        out = open(log, "wb")
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns(role), *argv], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
                                start_new_session=True, preexec_fn=_sigint_default)
        out.close()
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 5.0) -> int:
        rc = _stop(proc, sig, timeout)
        if proc in self._procs:
            self._procs.remove(proc)
        return rc

    def _veth(self, role_a: str, if_a: str, role_b: str, if_b: str) -> None:
        self.ip(role_a, "link", "add", if_a, "address", MACS.get((role_a, if_a), _mac(role_a, if_a)),
                "type", "veth", "peer", "name", if_b, "netns", self.ns(role_b),
                "address", MACS.get((role_b, if_b), _mac(role_b, if_b)))
        for role, ifname in ((role_a, if_a), (role_b, if_b)):
            # Offloads off: the capture must show the frames as they are on a wire (real checksums,
            # no 64 KB GSO super-packets, fragments as fragments).
            self.exec(role, ["ethtool", "-K", ifname, "tx", "off", "rx", "off", "gso", "off",
                             "tso", "off", "gro", "off"])
            self.ip(role, "link", "set", ifname, "up")

    def _addr(self, role: str, ifname: str, cidr: str) -> None:
        self.ip(role, "addr", "add", cidr, "dev", ifname)


def _mac(role: str, ifname: str) -> str:
    h = zlib.crc32(f"{role}/{ifname}".encode())
    return "02:01:" + ":".join(f"{(h >> s) & 0xFF:02x}" for s in (24, 16, 8, 0))


def _stop(proc: subprocess.Popen, sig: int, timeout: float = 5.0) -> int:
    """Signal one process we started (its own session: the group holds only its children)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    return proc.returncode


def _raise_exit(signum, frame):  # pragma: no cover - signal path
    raise SystemExit(128 + signum)


def wait_for_text(path: Path, text: str, timeout: float = 5.0) -> bool:
    """Poll a log file until it contains ``text`` (tcpdump's "listening on")."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return True
        time.sleep(0.05)
    return False


def _sigint_default() -> None:
    """In a spawned process before exec: SIGINT back to its default. Recorders are stopped with SIGINT (tcpdump,
    `sipdiag capture` writing its report on Ctrl-C); a test runner started in the background hands SIGINT down
    ignored, and an ignored signal stays ignored across exec: the recorder then never stopped, and wrote no
    report (a fresh-clone CI run showed it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
