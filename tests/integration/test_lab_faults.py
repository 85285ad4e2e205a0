"""The lab's captures of faults seen only in the network's answers or over time (samples/pcaps): ICMP errors for
RTP, a registrar that never answers, password guessing, a NAT that forgets and re-maps the phone. Each gives
exactly its findings, with the figures the capture holds (tshark reads the same ones into manifest.json)."""

from __future__ import annotations

import sipdiag
from sipdiag.icmprefusal import IcmpRefusal
from tests.conftest import SAMPLES


def findings(name: str) -> list:
    return list(sipdiag.analyze(SAMPLES / name).findings)


def test_rtp_port_unreachable_names_the_refusing_host_and_its_rate_limited_errors() -> None:
    analysis = sipdiag.analyze(SAMPLES / "rtp_port_unreachable.pcap")
    f, one_way = analysis.findings
    # The PBX answers the phone's RTP with ICMP port unreachable (RFC 792 type 3 code 3), as fast as its kernel's
    # rate limit lets it: a burst of 6 for the first packets, a 7th one second later, none for the other 68.
    assert (f.rule, f.severity.label, f.call_id, f.frames) == (
        "router.icmp-unreachable", "major", "rtp_port_unreachable-1@sdlab", (9, 11, 13, 15, 17, 19, 107))
    assert {k: f.evidence[k] for k in ("count", "reporter", "reason", "icmp_type", "icmp_code", "kind", "flow")} == {
        "count": 7, "reporter": "203.0.113.10", "reason": "port unreachable", "icmp_type": 3, "icmp_code": 3,
        "kind": "RTP", "flow": "203.0.113.2:6000 -> 203.0.113.10:7000"}
    # The refusing host is the flow's own destination, the PBX the phone called: the operator's side, not a router
    # of the customer's, so the finding is engineering's and the customer is not asked to check their router.
    assert f.owner == "engineering"
    assert f.customer_text == {
        "en": "Our equipment refused the audio from your phone. Nothing needs changing on your side: we are fixing "
              "it on our side.",
        "ru": "Наше оборудование отклонило звук от вашего телефона. С вашей стороны ничего менять не нужно: мы "
              "исправляем это на своей стороне."}
    assert f.engineer_text["en"] == (
        "7 ICMP error(s) from 203.0.113.10 (port unreachable, type 3 code 3; first at frame 9) quote RTP packets "
        "203.0.113.2:6000 -> 203.0.113.10:7000 of call rtp_port_unreachable-1@sdlab. Nothing listens on the "
        "destination port: the service is down or the media port was already closed. The refusing host is the "
        "flow's own destination (the call's callee), on the operator's side. (RFC 792, RFC 1122 §3.2.2.1, RFC 4443 "
        "§3.1).")
    # Both RTP directions are on the wire at the PBX's interface, but the last error came 0.46 s before the
    # phone's last packet: the port stayed closed to the end (the rate limit hid the other errors), so no packet
    # of the phone's reached an application (RFC 1122 §3.2.2.1) and the PBX heard nothing.
    (media,) = analysis.media
    assert (media.verdict.verdict, media.verdict.missing_direction, media.verdict.unreachable_target) == (
        "one-way", "caller->callee", "203.0.113.10:7000")
    assert media.verdict.detail == (
        "one-way audio: the callee hears nothing; 75 packets were sent to 203.0.113.10:7000 and its host refused "
        "them to the end of the stream with ICMP port unreachable (7 errors during the call)")
    assert sorted((s.stats.packets, s.stats.lost, s.refusal) for s in analysis.streams) == [
        (50, 0, None), (75, 0, IcmpRefusal("203.0.113.10", "port unreachable", 7, 9, 107))]
    # The one-way audio lasted the 1.0 s the PBX's own RTP ran: below the 5 s report threshold, an information
    # finding of low confidence (RULES.md media.one-way-audio), explained by the ICMP errors (RULES.md §2).
    assert (one_way.rule, one_way.severity.label, one_way.confidence, one_way.cause, f.explains) == (
        "media.one-way-audio", "info", "low", 0, (1,))
    assert {k: one_way.evidence[k] for k in ("missing", "one_way_s", "media_s", "unreachable_target")} == {
        "missing": "caller->callee", "one_way_s": 1.0, "media_s": 1.0, "unreachable_target": "203.0.113.10:7000"}
    # our equipment refused it: the one-way text does not send the customer to their router's SIP ALG
    assert one_way.customer_text["en"].endswith("simply ended early. We are checking it on our side.")
    assert "SIP ALG" not in one_way.customer_text["ru"]


def test_register_no_response_counts_the_timer_e_schedule() -> None:
    analysis = sipdiag.analyze(SAMPLES / "register_no_response.pcap")
    (reg,) = analysis.registrations
    (tx,) = reg.transactions
    assert (reg.outcome, reg.final_status, tx.request_retransmissions, tx.responses) == ("unanswered", None, 10, ())
    (f,) = analysis.findings
    # RFC 3261 §17.1.2.2: sent at 0, 0.5, 1.5, 3.5, 7.5 s, then every T2 = 4 s up to 31.5 s; Timer F at 32 s.
    assert (f.rule, f.severity.label, f.call_id, f.frames) == ("reg.no-response", "critical", None, (3,))
    assert {k: f.evidence[k] for k in ("aor", "source", "registrar", "sends")} == {
        "aor": "sip:200@203.0.113.10", "source": "203.0.113.20:5060", "registrar": "203.0.113.10:5060", "sends": 11}


def test_register_bruteforce_is_an_attack_at_the_threshold_not_ten_failed_sign_ins() -> None:
    analysis = sipdiag.analyze(SAMPLES / "register_bruteforce.pcap")
    assert sorted((r.aor, r.outcome, r.final_status, r.challenges) for r in analysis.registrations) == [
        (f"sip:{ext}@203.0.113.10", "failed", 403, 1) for ext in range(100, 110)]
    # Ten refused digest answers (the credentialed REGISTERs, RFC 3261 §22.2) within a second: 10 a minute, the
    # RULES.md threshold. The guesser's 403s are the attack's evidence, not ten reg.rejected findings; sipp's
    # User-Agent is no scanner signature and ten user names are no sweep, so no sec.scanner-detected.
    (f,) = analysis.findings
    assert (f.rule, f.severity.label, f.call_id, f.frames) == (
        "sec.bruteforce-auth", "major", None, (5, 9, 13, 17, 21, 25, 29, 33, 37, 41))
    assert {k: f.evidence[k] for k in ("source", "failures", "rate", "users")} == {
        "source": "203.0.113.20", "failures": 10, "rate": 10.0, "users": 10}


def test_nat_port_churn_bounds_the_nat_timeout_from_the_refresh() -> None:
    found = findings("nat_port_churn.pcap")
    assert [(f.rule, f.severity.label) for f in found] == [
        ("reg.binding-churn", "major"), ("router.nat-binding-timeout", "major"),
        ("nat.port-translated", "info"), ("nat.via-address-mismatch", "info")]
    churn, timeout, translated, via = found
    # The refresh (frame 9) comes 35 s after the 200 OK from a new public port, the phone's socket unchanged
    # (Via 192.168.1.10:5060): the router's conntrack forgot the mapping after its 30 s UDP timeout.
    # the cause first (RULES.md §2): the NAT's timeout explains the churn
    assert (timeout.frames, timeout.confidence, churn.cause, timeout.explains) == ((5, 9), "high", 1, (0,))
    assert {k: timeout.evidence[k] for k in ("aor", "old_binding", "new_binding", "expired_after_s", "expires")} == {
        "aor": "sip:100@203.0.113.10", "old_binding": "203.0.113.2:34125", "new_binding": "203.0.113.2:46654",
        "expired_after_s": 35.0, "expires": 60}
    assert "violates the 120 s minimum of RFC 4787 REQ-5" in timeout.engineer_text["en"]
    # The only unchanged mapping is the digest retry right after the 401, with no idle time: no lower bound, and
    # the keep-alive is half the 35 s upper bound (it was a lower bound of 0 s and a 5 s keep-alive).
    assert {k: churn.evidence[k] for k in ("call_id", "changes", "sent_by", "first_source", "new_source",
                                           "upper_bound_s", "lower_bound_s", "keepalive_s")} == {
        "call_id": "nat_port_churn-1@sdlab", "changes": 1, "sent_by": "192.168.1.10:5060",
        "first_source": "203.0.113.2:34125", "new_source": "203.0.113.2:46654", "upper_bound_s": 35.0,
        "lower_bound_s": None, "keepalive_s": 17}
    # The phone's private Via leaves the NAT from another port; sipp's registrar copies the Via without received=.
    assert (translated.evidence["declared_port"], via.evidence["server_received"]) == (5060, "missing")
