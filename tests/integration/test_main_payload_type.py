"""A stream's main payload type, the one of most media packets (sipdiag.rtpfinal._main_type), against the first
packet's (`payload_type`, as tshark shows it): where no SDP or static table names the codec, the reports show the
main type's number, and JSON gives both."""

from __future__ import annotations

import io
import json
import re

import sipdiag
from sipdiag.reports.html import render_html
from sipdiag.reports.streams import render_streams
from tests import callcapture as cc
from tests.callcapture import PBX, PBX_RTP, UA, UA_RTP
from tests.conftest import validate_json_document


def test_an_unnamed_codec_is_shown_by_its_main_payload_type_not_the_first_packets(tmp_path) -> None:
    """No SIP: three RFC 3389 comfort-noise packets (PT 13), then 200 packets of dynamic PT 96. The codec column
    showed 13, the type of the first packet, in the streams table and the HTML report."""
    path = cc.Script().rtp_runs((UA[0], UA_RTP), (PBX[0], PBX_RTP), 0x1111, 0.0,
                                ((13, 3, "cn"), (96, 200, "audio"))).write(tmp_path / "unnamed.pcap")
    a = sipdiag.analyze(path)
    (m,) = a.streams
    assert (m.stats.payload_type, m.stats.main_payload_type, m.stats.payload_types, m.stats.codec,
            m.stats.media_packets_by_type, m.stats.codec_label) == (13, 96, (13, 96), None, ((13, 3), (96, 200)), "96")
    out = io.StringIO()
    render_streams(a, "terminal", out)
    assert [[cell.strip() for cell in line.split("│")[3:6]] for line in out.getvalue().splitlines()
            if "│ 0x" in line] == [["0x00001111", "96", "203"]]
    out = io.StringIO()
    render_streams(a, "json", out)
    (record,) = json.loads(out.getvalue())["streams"]
    validate_json_document(record, "stream")
    assert (record["payload_type"], record["main_payload_type"], record["payload_types"], record["codec"]) == (
        13, 96, [13, 96], None)
    out = io.StringIO()
    render_html(a, out)
    page = out.getvalue()
    assert re.findall(r"0x00001111</td><td>([^<]*)</td>", page) == ["96"]
    assert re.findall(r"<p>([^<]*), 203 packets, ", page) == ["96"]
