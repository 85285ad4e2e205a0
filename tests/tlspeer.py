"""A real SIP call over TLS on the loopback, captured with tcpdump, with the TLS key log of the session.

The callee is Kamailio (Debian's `kamailio` + `kamailio-tls-modules`): an independent SIP server with its own TLS
stack, configured as a small UAS that answers INVITE with 180 and 200 (SDP), swallows the ACK and answers BYE.
The caller is a few lines of Python on the standard library's `ssl` (OpenSSL underneath), because Kamailio 5.6 has
no key log option and sipp here is built without TLS: `SSLContext.keylog_filename` writes the session's secrets in
SSLKEYLOGFILE format, which is what a support engineer gets from a softphone or SBC that supports it.

Addresses 127.0.10.60 (caller) and 127.0.10.61:5061 (callee) are loopback addresses of their own, so that the
capture filter sees this call only. Needs root (tcpdump on lo), kamailio, tcpdump and openssl.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

CALLER, CALLEE, PORT = "127.0.10.60", "127.0.10.61", 5061
CALL_ID = "tls-call-1@127.0.10.60"
HOLD_S = 1.0  # between ACK and BYE: the call's duration
KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"

KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
tcp_children=1
listen=tls:{callee}:{port}
enable_tls=yes
auto_aliases=no
mpath="{modules}"
loadmodule "tls.so"
loadmodule "sl.so"
loadmodule "textops.so"
modparam("tls", "config", "{tls_cfg}")
request_route {{
    if (is_method("INVITE")) {{
        append_to_reply("Contact: <sip:uas@{callee}:{port};transport=tls>\\r\\n");
        sl_send_reply("180", "Ringing");
        set_reply_body("{answer}", "application/sdp");
        sl_send_reply("200", "OK");
        exit;
    }}
    if (is_method("ACK")) {{ exit; }}
    sl_send_reply("200", "OK");
}}
"""

# The 200's SDP answer, as Kamailio's config string escapes write it.
ANSWER = "\\r\\n".join(["v=0", f"o=uas 1 1 IN IP4 {CALLEE}", "s=-", f"c=IN IP4 {CALLEE}", "t=0 0",
                        "m=audio 40000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", ""])

TLS_CFG = """[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
private_key = {key}
certificate = {cert}
"""


@dataclass(frozen=True)
class TlsCall:
    capture: Path
    keylog: Path


def missing_tools() -> str | None:
    """Why the TLS call cannot run here, or None."""
    for tool in ("kamailio", "tcpdump", "openssl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (requirements-apt.txt; scripts/test.sh installs it as root)"
    if not Path(KAMAILIO_MODULES, "tls.so").is_file():
        return "Kamailio's TLS module is not installed (Debian package kamailio-tls-modules)"
    import os

    if os.geteuid() != 0:
        return "tcpdump on the loopback needs root"
    return None


def run_tls_call(workdir: Path) -> TlsCall:
    """Run the call and return the capture and the key log."""
    key, cert = workdir / "key.pem", workdir / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", f"/CN={CALLEE}"], check=True, capture_output=True)
    tls_cfg = workdir / "tls.cfg"
    tls_cfg.write_text(TLS_CFG.format(key=key, cert=cert))
    cfg = workdir / "kamailio.cfg"
    cfg.write_text(KAMAILIO_CFG.format(callee=CALLEE, port=PORT, modules=KAMAILIO_MODULES, tls_cfg=tls_cfg,
                                       answer=ANSWER))
    capture, keylog = workdir / "sip-tls.pcap", workdir / "sslkeys.log"
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-w", str(capture), "host", CALLEE],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    kam = subprocess.Popen(["kamailio", "-f", str(cfg), "-DD", "-E", "-n", "1", "-Y", str(workdir)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_listening(kam)
        _wait_capturing(dump)
        _caller(keylog)
        time.sleep(0.5)  # the last segments reach the capture file (immediate mode: no kernel block timeout)
    finally:
        for proc in (kam, dump):
            proc.terminate()
        for proc in (kam, dump):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return TlsCall(capture, keylog)


def _wait_listening(kam: subprocess.Popen, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if kam.poll() is not None:
            raise RuntimeError(f"kamailio exited: {kam.stderr.read().decode(errors='replace')[-2000:]}")
        try:
            socket.create_connection((CALLEE, PORT), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("kamailio did not listen on its TLS port")


def _wait_capturing(dump: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """tcpdump says 'listening on lo' on stderr once the capture runs."""
    deadline = time.monotonic() + timeout_s
    line = b""
    while time.monotonic() < deadline and b"listening on" not in line:
        if dump.poll() is not None:
            raise RuntimeError("tcpdump exited")
        line = dump.stderr.readline()
    time.sleep(0.2)


def _caller(keylog: Path) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the callee's certificate is self-signed for the test
    ctx.keylog_filename = str(keylog)
    raw = socket.create_connection((CALLEE, PORT), timeout=5, source_address=(CALLER, 0))
    with ctx.wrap_socket(raw) as s:
        port = s.getsockname()[1]
        reader = _Reader(s)
        sdp = (f"v=0\r\no=uac 1 1 IN IP4 {CALLER}\r\ns=-\r\nc=IN IP4 {CALLER}\r\nt=0 0\r\n"
               "m=audio 40002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
        common = (f"Max-Forwards: 70\r\nFrom: <sip:uac@{CALLER}>;tag=uac1\r\n")
        s.sendall((f"INVITE sip:uas@{CALLEE}:{PORT};transport=tls SIP/2.0\r\n"
                   f"Via: SIP/2.0/TLS {CALLER}:{port};branch=z9hG4bK-inv1;rport\r\n{common}"
                   f"To: <sip:uas@{CALLEE}>\r\nCall-ID: {CALL_ID}\r\nCSeq: 1 INVITE\r\n"
                   f"Contact: <sip:uac@{CALLER}:{port};transport=tls>\r\nUser-Agent: sipdiag-test-uac\r\n"
                   f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}").encode())
        ringing, ok = reader.message(), reader.message()
        assert ringing.startswith(b"SIP/2.0 180") and ok.startswith(b"SIP/2.0 200"), (ringing, ok)
        to_tag = next(line for line in ok.split(b"\r\n") if line.lower().startswith(b"to:")).split(b"tag=")[1]
        in_dialog = (f"{common}To: <sip:uas@{CALLEE}>;tag={to_tag.decode()}\r\nCall-ID: {CALL_ID}\r\n")
        s.sendall((f"ACK sip:uas@{CALLEE}:{PORT};transport=tls SIP/2.0\r\n"
                   f"Via: SIP/2.0/TLS {CALLER}:{port};branch=z9hG4bK-ack1;rport\r\n{in_dialog}"
                   "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n").encode())
        time.sleep(HOLD_S)
        s.sendall((f"BYE sip:uas@{CALLEE}:{PORT};transport=tls SIP/2.0\r\n"
                   f"Via: SIP/2.0/TLS {CALLER}:{port};branch=z9hG4bK-bye1;rport\r\n{in_dialog}"
                   "CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n").encode())
        bye_ok = reader.message()
        assert bye_ok.startswith(b"SIP/2.0 200"), bye_ok


class _Reader:
    """SIP messages out of the TLS byte stream, framed by Content-Length (RFC 3261 §18.3)."""

    def __init__(self, sock: ssl.SSLSocket) -> None:
        self.sock, self.buf = sock, b""

    def message(self) -> bytes:
        while True:
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if sep:
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                if len(rest) >= length:
                    self.buf = rest[length:]
                    return head + sep + rest[:length]
            data = self.sock.recv(65535)
            if not data:
                raise RuntimeError("the callee closed the connection")
            self.buf += data
