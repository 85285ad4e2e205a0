"""Lab pieces that need neither root nor tshark: RTP files, the ALG rewriter, templates, table."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from lab import alg_relay, facts, media, run, sipp
from lab.netns import VANTAGES
from lab.scenarios import BY_NAME, CATEGORIES, CI_SCENARIOS, SCENARIOS, Party

ISSUE_FILE_NAMES = {
    "clean_call", "nat_one_way_audio", "nat_symmetric_rtp", "codec_rejected_488",
    "answer_codec_not_offered", "busy_486", "cancelled_487", "invite_timeout", "register_ok",
    "register_wrong_password", "register_423_then_ok", "ack_dropped", "firewall_one_way_audio",
    "rtp_loss", "fragmented_invite_dropped", "sip_over_tcp", "sip_alg_rewrite", "dtmf_rfc4733",
    "sipvicious_scan", "rtp_port_unreachable", "register_no_response", "register_bruteforce", "nat_port_churn",
}


def _pcap_records(path: Path) -> list[tuple[float, bytes]]:
    data = path.read_bytes()
    assert struct.unpack_from("<I", data)[0] == 0xA1B2C3D4
    out, off = [], 24
    while off < len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, off)
        out.append((sec + usec / 1e6, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


def test_audio_file_has_exact_packets_timing_and_headers(tmp_path):
    path = media.write_audio(tmp_path / "a.pcap", 50, 0x11223344, pt=8, seq0=1000, ts0=8000)
    recs = _pcap_records(path)
    assert len(recs) == 50
    assert [round(t, 3) for t, _ in recs[:3]] == [0.0, 0.02, 0.04]
    rtp = [frame[14 + 20 + 8:] for _, frame in recs]
    v_p_x_cc, m_pt, seq, ts, ssrc = struct.unpack("!BBHII", rtp[0][:12])
    assert (v_p_x_cc, m_pt, seq, ts, ssrc) == (0x80, 0x80 | 8, 1000, 8000, 0x11223344)
    _, m_pt, seq, ts, _ = struct.unpack("!BBHII", rtp[49][:12])
    assert (m_pt, seq, ts) == (8, 1049, 8000 + 49 * 160)
    assert {len(p) for p in rtp} == {12 + 160}


def test_dtmf_file_follows_rfc4733(tmp_path):
    recs = _pcap_records(media.write_dtmf(tmp_path / "d.pcap", "1#", 0x55, seq0=5000, ts0=80000))
    assert len(recs) == 16  # per digit: 5 updates + 3 end packets
    events = [struct.unpack("!BBHIIBBH", f[42:42 + 16]) for _, f in recs]
    first, last_of_first = events[0], events[7]
    assert first[1] == 0x80 | 101 and first[5] == 1 and first[6] == 10 and first[7] == 160
    assert last_of_first[6] & 0x80 and last_of_first[7] == 800  # E bit, duration 100 ms
    assert {e[3] for e in events[:8]} == {80000}  # one timestamp per event (§2.5.1.2)
    assert events[8][5] == 11 and events[8][3] == 80000 + (100 + 200) * 8
    assert [e[2] for e in events] == list(range(5000, 5016))


def test_alg_rewrites_via_and_contact_but_not_the_sdp():
    msg = (b"INVITE sip:300@203.0.113.10 SIP/2.0\r\n"
           b"Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK-1;rport\r\n"
           b"Contact: <sip:100@192.168.1.10:5060>\r\n"
           b"Content-Length: 31\r\n\r\n"
           b"c=IN IP4 192.168.1.10:5060 x\r\n")
    out = alg_relay.rewrite_headers(msg, b"192.168.1.10:5060", b"203.0.113.2:5060")
    assert b"Via: SIP/2.0/UDP 203.0.113.2:5060;branch" in out
    assert b"Contact: <sip:100@203.0.113.2:5060>" in out
    assert out.endswith(b"\r\n\r\nc=IN IP4 192.168.1.10:5060 x\r\n")
    assert b"Content-Length: 31" in out


def _parties() -> list[tuple[str, Party]]:
    return [(f"{s.name}/{p.role}", p) for s in SCENARIOS for p in (s.server, s.client) if p]


@pytest.mark.parametrize("label,party", _parties(), ids=[lbl for lbl, _ in _parties()])
def test_every_template_renders_without_leftover_placeholders(tmp_path, label, party):
    values = dict(party.values, media_action="")
    text = sipp.render(party.template, tmp_path, values).read_text()
    assert not re.search(r"\$[a-z_]", text), label
    assert "<scenario" in text and text.rstrip().endswith("</scenario>")


def test_scenario_table_matches_the_issue_and_architecture():
    names = [s.name for s in SCENARIOS]
    assert set(names) == ISSUE_FILE_NAMES and len(names) == len(set(names))
    assert set(CI_SCENARIOS) <= set(names)
    for s in SCENARIOS:
        assert s.vantage in VANTAGES, s.name
        assert set(s.expect.present) <= set(CATEGORIES), s.name
        assert set(s.expect.absent) <= set(CATEGORIES), s.name
        assert not set(s.expect.present) & set(s.expect.absent), s.name
    # The CI rebuild stays short: one 64*T1 scenario at most.
    assert sum(s.slow for s in SCENARIOS if s.name in CI_SCENARIOS) <= 1


def test_injection_file_feeds_sipp_one_row_a_call(tmp_path):
    inject = sipp.write_injection(tmp_path / "inject.csv", (("100", "100"), ("101", "101")))
    # sipp's -inf format: the reading order, then one line of ';'-separated fields a call
    assert inject.read_text() == "SEQUENTIAL\n100;100\n101;101\n"
    argv = sipp.command(tmp_path / "s.xml", "203.0.113.20", remote="203.0.113.10:5060", calls=2, inject=inject,
                        extra=("-au", "[field0]"))
    assert argv[argv.index("-inf") + 1] == str(inject)
    assert argv[-2:] == ["-au", "[field0]"]
    assert "-inf" not in sipp.command(tmp_path / "s.xml", "203.0.113.20")


def test_faults_are_applied_with_their_tool():
    calls = []

    class FakeLab:
        def iptables(self, role, *args):
            calls.append((role, "iptables", args))

        def nft(self, role, ruleset):
            calls.append((role, "nft", ruleset))

        def exec(self, role, argv):
            calls.append((role, "exec", tuple(argv)))

    run._apply_rules(FakeLab(), BY_NAME["nat_port_churn"])
    assert calls == [
        ("router", "exec", ("sysctl", "-q", "-w", "net.netfilter.nf_conntrack_udp_timeout=30")),
        ("router", "iptables", ("-t", "nat", "-I", "POSTROUTING", "1", "-s", "192.168.1.0/24", "-o", "wan0",
                                "-j", "MASQUERADE", "--random"))]
    assert BY_NAME["nat_port_churn"].fault[0] == "router: sysctl net.netfilter.nf_conntrack_udp_timeout=30"


def test_sdp_lists_rtpmap_for_every_format():
    body = sipp.sdp("192.0.2.1", 7, [0, 101])
    assert "m=audio [media_port] RTP/AVP 0 101" in body
    assert "a=rtpmap:0 PCMU/8000" in body and "a=rtpmap:101 telephone-event/8000" in body
    assert "c=IN IP4 192.0.2.1" in body


def _sip(frame, method, status, call_id, cseq, user, contact=None):
    """A message as lab.facts.sip_messages gives it, the fields the registration reader uses."""
    return {"frame": frame, "method": method, "status": status, "call_id": call_id, "cseq": cseq,
            "cseq_method": "REGISTER", "to_user": user, "to_host": "pbx", "to_port": None, "contact": contact}


def test_registrations_are_bindings_not_call_ids():
    msgs = [_sip(1, None, 200, "lost", 7, "100"),  # its REGISTER is not in the capture: a binding of its own
            _sip(2, "REGISTER", None, "a", 1, "100", "sip:100@phone"), _sip(3, None, 401, "a", 1, "100"),
            _sip(4, None, 401, "a", 1, "100"),  # a retransmitted challenge: one challenge
            _sip(5, "REGISTER", None, "b", 1, "100", "sip:100@phone"),  # rebooted, new Call-ID: the same binding
            _sip(6, None, 200, "b", 1, "100"), _sip(7, None, 200, "late", 3, "100"),  # to a binding of its AOR
            _sip(8, "REGISTER", None, "b", 2, "101", "sip:101@phone"),  # another line, same Call-ID: a binding
            _sip(9, "REGISTER", None, "b", 2, "101", "sip:101@phone")]  # retransmitted, never answered
    assert [(r["call_id"], r["aor"], r["contact"], r["outcome"], r["final_status"], r["challenges"], r["requests"],
             r["statuses"]) for r in facts.registrations(msgs)] == [
        ("lost", "sip:100@pbx", "", "registered", 200, 0, 0, [200, 200]),
        ("a", "sip:100@pbx", "sip:100@phone", "registered", 200, 1, 2, [401, 401, 200]),
        ("b", "sip:101@pbx", "sip:101@phone", "unanswered", None, 0, 2, [])]


def test_contacts_that_are_one_uri_are_one_binding():
    # RFC 3261 §19.1.4: the challenged REGISTER's Contact lacks the ;line= its credentialed retry carries (aaa.pcap's
    # phone): one binding, as the registrar and sipdiag see it; a Contact with another port is another binding
    msgs = [_sip(1, "REGISTER", None, "a", 1, "100", "sip:100@10.0.0.5:5060"), _sip(2, None, 401, "a", 1, "100"),
            _sip(3, "REGISTER", None, "a", 2, "100", "sip:100@10.0.0.5:5060;line=9c7d"),
            _sip(4, None, 200, "a", 2, "100"),
            _sip(5, "REGISTER", None, "a", 3, "100", "sip:100@10.0.0.5"), _sip(6, None, 200, "a", 3, "100")]
    assert [(r["contact"], r["outcome"], r["challenges"], r["requests"], r["statuses"])
            for r in facts.registrations(msgs)] == [
        ("sip:100@10.0.0.5:5060", "registered", 1, 2, [401, 200]),
        ("sip:100@10.0.0.5", "registered", 0, 1, [200])]


@pytest.mark.parametrize(("a", "b", "same"), [
    ("sip:100@10.0.0.5:5060", "sip:100@10.0.0.5:5060;line=abc", True),  # a parameter only one carries
    ("sip:100@PHONE.example;transport=udp", "sip:100@phone.example", True),  # host without case, transport ignored
    ("sip:100@10.0.0.5", "sip:100@10.0.0.5:5060", False),  # an absent port is not 5060
    ("sip:100@h;user=phone", "sip:100@h", False),  # user, ttl, method, maddr must be in both
    ("sip:100@h;line=a", "sip:100@h;line=b", False),
    ("sip:Alice@h", "sip:alice@h", False),  # the user part is case-sensitive
    ("sip:100@[fd00::1]:5060;x=1", "sip:100@[FD00::1]:5060", True),
    ("sips:100@h", "sip:100@h", False),
])
def test_contact_equality_is_rfc3261_and_agrees_with_sipdiag(a, b, same):
    from sipdiag.parsers.sipuri import same_uri

    assert facts.same_contact(a, b) is same
    assert same_uri(a, b) is same  # the two readings agree


def test_an_accepted_removal_is_deregistered():
    # RFC 3261 §10.2.2: a 2xx to expires 0 (or Contact *) removed the binding, as sipdiag's outcome says; a refused
    # one stays failed
    msgs = [_sip(1, "REGISTER", None, "a", 1, "100", "sip:100@phone") | {"expires": 300},
            _sip(2, None, 200, "a", 1, "100"),
            _sip(3, "REGISTER", None, "a", 2, "100", "sip:100@phone") | {"expires": 0},
            _sip(4, None, 200, "a", 2, "100"),
            _sip(5, "REGISTER", None, "b", 1, "101", "*") | {"expires": 0}, _sip(6, None, 403, "b", 1, "101")]
    assert [(r["aor"], r["outcome"], r["final_status"]) for r in facts.registrations(msgs)] == [
        ("sip:100@pbx", "deregistered", 200), ("sip:101@pbx", "failed", 403)]


@pytest.mark.parametrize(("addr", "value", "uri"), [
    ("tel:+15551234", "<tel:+15551234>;tag=1", "tel:+15551234"),  # tshark's address when it gives one
    (None, "tel:+15551234;tag=1", "tel:+15551234"),  # no brackets: ';' starts the header's parameters
    (None, '"Bob; <x>" <tel:+1-555-1234;ext=22>;tag=1', "tel:+1-555-1234;ext=22"),  # quoted display name
    (None, None, None),
])
def test_header_uri(addr, value, uri):
    assert facts.header_uri(addr, value) == uri


def test_a_tel_aor_is_written_as_it_is():
    # RFC 3966: a tel: URI has no user or host; its parameters (phone-context, ext) are part of the number
    tel = {"to_user": None, "to_host": None, "to_port": None, "to_uri": "tel:5551234;phone-context=example.com"}
    assert facts.aor_of(tel) == "tel:5551234;phone-context=example.com"
    assert facts.aor_of({"to_user": "100", "to_host": "pbx", "to_port": "5070", "to_uri": "sip:100@pbx:5070"}) == (
        "sip:100@pbx:5070")
    assert (facts.party_user(None, "tel:+15551234;ext=2"), facts.party_user("100", "sip:100@pbx")) == (
        "+15551234", "100")

