"""sipp scenarios of the lab: SDP bodies, template rendering and sipp command lines.

The XML files in ``lab/scenarios/`` are sipp scenarios with ``$name`` placeholders
(:class:`string.Template`) for what differs between lab scenarios (users, SDP offer/answer,
media action, status codes); sipp's own ``[keywords]`` are left to sipp.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

SCENARIO_DIR = Path(__file__).parent / "scenarios"

# RFC 3551 static payload types and the dynamic one used for RFC 4733 events.
RTPMAP = {
    0: "PCMU/8000",
    8: "PCMA/8000",
    9: "G722/8000",
    18: "G729/8000",
    101: "telephone-event/8000",
}


def sdp(address: str, session_id: int, payload_types: list[int], port: str = "[media_port]") -> str:
    """An SDP body (RFC 8866) with one audio stream; ``[media_port]`` is filled in by sipp."""
    lines = [
        "v=0",
        f"o=- {session_id} {session_id} IN IP4 {address}",
        "s=sdlab",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(str(pt) for pt in payload_types)}",
    ]
    for pt in payload_types:
        lines.append(f"a=rtpmap:{pt} {RTPMAP[pt]}")
        if pt == 101:
            lines.append("a=fmtp:101 0-16")
    lines += ["a=ptime:20", "a=sendrecv"]
    return "\n".join(lines) + "\n"


def play_pcap(pcap: Path) -> str:
    """A sipp element that starts sending the RTP packets of ``pcap`` (sipp's play_pcap_audio)."""
    return f'<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>'


def write_injection(path: Path, rows: tuple[tuple[str, ...], ...]) -> Path:
    """A sipp injection file (``-inf``): one call per row, read in order, fields separated by ';'."""
    path.write_text("SEQUENTIAL\n" + "".join(";".join(row) + "\n" for row in rows))
    return path


def render(template: str, out_dir: Path, values: dict[str, object]) -> Path:
    """Fill a scenario template; raises KeyError naming a missing value."""
    text = Template((SCENARIO_DIR / template).read_text()).substitute(
        {k: str(v) for k, v in values.items()})
    path = out_dir / template
    path.write_text(text)
    return path


def command(scenario: Path, local_ip: str, *, remote: str | None = None, port: int = 5060,
            media_ip: str | None = None, media_port: int = 6000, call_id: str | None = None,
            transport: str = "u1", calls: int = 1, inject: Path | None = None,
            extra: tuple[str, ...] = ()) -> list[str]:
    """The sipp command line for one lab party (client when ``remote`` is given); ``inject``: an injection
    file whose lines fill ``[field0]``, ``[field1]``... call by call."""
    argv = ["sipp"]
    if remote:
        argv.append(remote)
    argv += ["-sf", str(scenario), "-i", local_ip, "-p", str(port), "-t", transport,
             "-mi", media_ip or local_ip, "-mp", str(media_port), "-m", str(calls),
             "-nostdin", "-trace_err", "-trace_msg"]
    if call_id:
        argv += ["-cid_str", call_id]
    if inject:
        argv += ["-inf", str(inject)]
    # Retransmissions follow RFC 3261 timers (T1 500 ms, T2 4 s, §17.1.1.1); allow enough of them
    # for a full 64*T1 transaction so that sipp, not its retransmission cap, decides the end.
    argv += ["-T2", "4000", "-max_invite_retrans", "12", "-max_non_invite_retrans", "12"]
    return argv + list(extra)
