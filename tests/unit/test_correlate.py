"""Transactions, dialogs, calls, registrations and B2BUA legs from SIP text (no capture needed)."""

from __future__ import annotations

import dataclasses
import random
from types import SimpleNamespace

import pytest

from sipdiag.correlate import Correlator, link_legs
from sipdiag.parsers.sip import parse_sip

A = ("192.168.1.10", 5060)  # phone
P = ("203.0.113.5", 5060)  # PBX / B2BUA
C = ("198.51.100.7", 5060)  # carrier

SDP = ("v=0\r\no=- 1 {v} IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 8 101\r\n"
       "a=rtpmap:101 telephone-event/8000\r\na={dir}\r\n")


def msg(text: str, src, dst, t: float, frame: int, body: str = ""):
    """A SIP message from its start line + headers (LF line ends), with an optional body."""
    head = text.strip("\n").replace("\n", "\r\n")
    extra = f"\r\nContent-Type: application/sdp" if body else ""
    raw = f"{head}{extra}\r\nContent-Length: {len(body.encode())}\r\n\r\n{body}".encode()
    m = parse_sip(raw, frame=frame, ts_ns=int(t * 1e9), src=src, dst=dst)
    assert m is not None
    return m


def hdr(call_id: str, cseq: str, branch: str, ftag: str = "a1", ttag: str | None = None, extra: str = "") -> str:
    to = "<sip:300@example.com>" + (f";tag={ttag}" if ttag else "")
    return (f"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK{branch}\nFrom: <sip:200@example.com>;tag={ftag}\nTo: {to}\n"
            f"Call-ID: {call_id}\nCSeq: {cseq}\nMax-Forwards: 70{extra}")


def run(messages, end: float = 100.0):
    c = Correlator()
    for m in messages:
        c.add(m)
    return c.finish(int(end * 1e9))


def test_fork_keeps_two_early_dialogs_and_confirms_one() -> None:
    cid = "fork-1"
    result = run([
        msg(f"INVITE sip:300@example.com SIP/2.0\n{hdr(cid, '1 INVITE', 'i1')}", A, P, 0.0, 1),
        msg(f"SIP/2.0 180 Ringing\n{hdr(cid, '1 INVITE', 'i1', ttag='x')}", P, A, 0.1, 2),
        msg(f"SIP/2.0 180 Ringing\n{hdr(cid, '1 INVITE', 'i1', ttag='y')}", P, A, 0.2, 3),
        msg(f"SIP/2.0 200 OK\n{hdr(cid, '1 INVITE', 'i1', ttag='y')}", P, A, 1.0, 4),
        msg(f"ACK sip:300@example.com SIP/2.0\n{hdr(cid, '1 ACK', 'a1', ttag='y')}", A, P, 1.1, 5),
    ])
    (call,) = result.calls
    assert [(d.callee_tag, d.state, d.created_frame, d.confirmed_frame) for d in call.dialogs] == [
        ("x", "early", 2, None), ("y", "confirmed", 3, 4)]
    assert (call.outcome, call.setup_ms, call.answer_ms, call.bye_frame) == ("answered", 100.0, 1000.0, None)
    assert call.duration_s == 99.0  # no BYE: answered until the end of the capture


def test_auth_challenge_then_answer_hold_reinvite_prack_and_refer() -> None:
    cid = "auth-1"
    offer = SDP.format(v=1, ip="192.168.1.10", port=6000, dir="sendrecv")
    answer = SDP.format(v=1, ip="203.0.113.5", port=7000, dir="sendrecv")
    hold = SDP.format(v=2, ip="192.168.1.10", port=6000, dir="sendonly")
    result = run([
        msg(f"INVITE sip:300@example.com SIP/2.0\n{hdr(cid, '1 INVITE', 'i1')}", A, P, 0.0, 1, offer),
        msg(f"SIP/2.0 407 Proxy Authentication Required\n{hdr(cid, '1 INVITE', 'i1', ttag='p')}", P, A, 0.01, 2),
        msg(f"ACK sip:300@example.com SIP/2.0\n{hdr(cid, '1 ACK', 'i1', ttag='p')}", A, P, 0.02, 3),
        msg(f"INVITE sip:300@example.com SIP/2.0\n{hdr(cid, '2 INVITE', 'i2')}", A, P, 0.03, 4, offer),
        msg(f"SIP/2.0 183 Session Progress\n{hdr(cid, '2 INVITE', 'i2', ttag='b', extra=chr(10) + 'Require: 100rel' + chr(10) + 'RSeq: 1')}",
            P, A, 0.5, 5),
        msg(f"PRACK sip:300@example.com SIP/2.0\n{hdr(cid, '3 PRACK', 'p1', ttag='b', extra=chr(10) + 'RAck: 1 2 INVITE')}",
            A, P, 0.6, 6),
        msg(f"SIP/2.0 200 OK\n{hdr(cid, '2 INVITE', 'i2', ttag='b')}", P, A, 2.0, 7, answer),
        msg(f"ACK sip:300@example.com SIP/2.0\n{hdr(cid, '2 ACK', 'a2', ttag='b')}", A, P, 2.1, 8),
        msg(f"INVITE sip:300@example.com SIP/2.0\n{hdr(cid, '4 INVITE', 'i4', ttag='b')}", A, P, 10.0, 9, hold),
        msg(f"SIP/2.0 200 OK\n{hdr(cid, '4 INVITE', 'i4', ttag='b')}", P, A, 10.1, 10, answer),
        msg(f"REFER sip:300@example.com SIP/2.0\n{hdr(cid, '5 REFER', 'r1', ttag='b', extra=chr(10) + 'Refer-To: <sip:400@example.com>')}",
            A, P, 12.0, 11),
        msg(f"BYE sip:200@example.com SIP/2.0\n{hdr(cid, '1 BYE', 'bye', ftag='b', ttag='a1')}", P, A, 20.0, 12),
        msg(f"SIP/2.0 200 OK\n{hdr(cid, '1 BYE', 'bye', ftag='b', ttag='a1')}", A, P, 20.01, 13),
    ])
    (call,) = result.calls
    assert (call.outcome, call.final_status, call.auth_challenges, call.prack, call.reinvites) == (
        "answered", 200, 1, True, 1)
    assert call.refer_to == ("<sip:400@example.com>",)
    assert (call.ended_by, call.duration_s, call.setup_ms, call.answer_ms) == ("callee", 18.0, 500.0, 2000.0)
    kinds = [(n.kind, n.offer_frame, n.answer_frame, n.hold, n.status) for n in call.negotiations]
    assert kinds == [("initial", 1, None, False, 407), ("initial", 4, 7, False, 200), ("re-invite", 9, 10, True, 200)]
    assert call.negotiations[1].offer[0].codecs == ("PCMU/8000", "PCMA/8000", "telephone-event/8000")
    assert call.negotiations[1].offer[0].telephone_event == 101


def test_b2bua_legs_linked_by_header_and_by_timing() -> None:
    leg_a = msg(f"INVITE sip:300@example.com SIP/2.0\n{hdr('leg-a', '1 INVITE', 'la')}", A, P, 0.0, 1)
    leg_b = msg(f"INVITE sip:300@carrier.example SIP/2.0\n{hdr('leg-b', '1 INVITE', 'lb', ftag='z', extra=chr(10) + 'X-CID: leg-a')}",
                P, C, 0.05, 2)
    # Another call through the same B2BUA, no header: same callee number, 0.2 s apart, B2BUA's address in between.
    leg_c = msg(f"INVITE sip:+7 (495) 111-22-33@example.com SIP/2.0\n{hdr('leg-c', '1 INVITE', 'lc')}".replace(
        "To: <sip:300@example.com>", "To: <sip:84951112233@example.com>"), A, P, 10.0, 3)
    leg_d = msg(f"INVITE sip:74951112233@carrier.example SIP/2.0\n{hdr('leg-d', '1 INVITE', 'ld', ftag='w')}".replace(
        "To: <sip:300@example.com>", "To: <sip:+74951112233@carrier.example>"), P, C, 10.2, 4)
    calls = {c.call_id: c for c in run([leg_a, leg_b, leg_c, leg_d], end=12).calls}
    assert [(leg.call_id, leg.rule) for leg in calls["leg-a"].legs] == [("leg-b", "header X-CID")]
    assert [(leg.call_id, leg.rule) for leg in calls["leg-b"].legs] == [("leg-a", "header X-CID")]
    rule = "same callee, start within 2 s, through the B2BUA's address"
    assert [(leg.call_id, leg.rule) for leg in calls["leg-c"].legs] == [("leg-d", rule)]
    assert calls["leg-a"].outcome == "in-progress"  # 12 s: Timer B has not fired yet


BY_ADDRESS = "same callee, start within 2 s, through the B2BUA's address"


def burst_through_a_b2bua(n: int) -> list:
    """n INVITEs to one number within a second (a scanner), each passed on by the B2BUA P to the carrier C 10 ms
    later and refused with 403 on both legs."""
    out = []
    for i in range(n):
        t = i / n
        for leg, src, dst, dt in (("a", A, P, 0.0), ("b", P, C, 0.01)):
            cid = f"{leg}{i}"
            out.append(msg(f"INVITE sip:300@example.com SIP/2.0\n{hdr(cid, '1 INVITE', cid)}", src, dst, t + dt,
                           len(out) + 1))
            out.append(msg(f"SIP/2.0 403 Forbidden\n{hdr(cid, '1 INVITE', cid, ttag='r')}", dst, src, t + dt + 0.001,
                           len(out) + 1))
    return sorted(out, key=lambda m: m.ts_ns)


def expected_burst_legs(n: int) -> dict[str, list[tuple[str, str]]]:
    """What the pass over every pair in start order gives: the first INVITE gains every leg the B2BUA passed on
    within 2 s (none of them has a leg when it is reached), each later one only its own (all others have one)."""
    legs = {"a0": [(f"b{i}", BY_ADDRESS) for i in range(n)], "b0": [("a0", BY_ADDRESS)]}
    for i in range(1, n):
        legs[f"a{i}"] = [(f"b{i}", BY_ADDRESS)]
        legs[f"b{i}"] = [("a0", BY_ADDRESS), (f"a{i}", BY_ADDRESS)]
    return legs


def test_b2bua_legs_of_a_burst_captured_on_both_sides() -> None:
    calls = run(burst_through_a_b2bua(100)).calls
    assert {c.call_id: [(leg.call_id, leg.rule) for leg in c.legs] for c in calls} == expected_burst_legs(100)


def test_b2bua_legs_of_a_burst_of_20000_calls_to_one_number() -> None:
    """link_legs passed over every pair of calls starting within 2 s: 2 x 10^8 pairs here (minutes). Only the pairs
    a rule can link are visited now; the legs are those of the pass over every pair."""
    template = run(burst_through_a_b2bua(1)).calls
    calls = [dataclasses.replace(template[leg], call_id=f"{'ab'[leg]}{i}", start_ns=i * 100_000 + leg * 10_000)
             for i in range(10_000) for leg in (0, 1)]
    linked = link_legs(calls, {})
    assert {c.call_id: [(leg.call_id, leg.rule) for leg in c.legs] for c in linked} == expected_burst_legs(10_000)
    # Without the B2BUA's second leg in the capture (the burst as the PBX saw it) nothing is linked.
    assert link_legs(calls[::2], {}) == calls[::2]


def timed_call(template, n: int, number: str, caller: str, callee: str, start_ns: int,
               answer_ns: int | None = None, bye_ns: int | None = None, frames: tuple[int, int, int] | None = None):
    """A call from `template` with its number, hosts and times; `answer_ns`/`bye_ns`: when its 2xx to the INVITE
    and its BYE were seen (what Call.answer_and_bye_ns reads); frames: those of its start, answer and BYE."""
    start_frame, answer_frame, bye_frame = frames or (template.first_frame, 2 * n + 1, 2 * n + 2)
    events = []
    if answer_ns is not None:
        events.append(SimpleNamespace(ts_ns=answer_ns, status_code=200, cseq_method="INVITE", frame=answer_frame))
    if bye_ns is not None:
        events.append(SimpleNamespace(ts_ns=bye_ns, status_code=None, cseq_method="BYE", frame=bye_frame))
    return dataclasses.replace(template, call_id=f"c{n}", callee=f"sip:{number}@example.com",
                               caller_address=f"{caller}:5060", callee_address=f"{callee}:5060", start_ns=start_ns,
                               first_frame=start_frame, start_frame=start_frame, messages=tuple(events),
                               bye_frame=bye_frame if bye_ns is not None else None)


def legs_of_every_pair(calls, headers) -> dict[str, list[tuple[str, str]]]:
    """link_legs as its docstring defines it: header links first, then every pair (a, b) in start order, b starting
    within LEG_WINDOW_NS of a, skipped when both have a leg, linked by the first timing rule that holds."""
    from sipdiag.addresses import address_host
    from sipdiag.correlate import _BY_ADDRESS, _BY_EVENTS, LEG_WINDOW_NS, _together, number_key

    links: dict[str, dict[str, str]] = {c.call_id: {} for c in calls}
    for call_id, found in headers.items():
        for value in found.values():
            links[call_id].setdefault(value, "header X-CID")
            links[value].setdefault(call_id, "header X-CID")
    ordered = sorted((c for c in calls if c.seen_from_start), key=lambda c: c.start_ns)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if b.start_ns > a.start_ns + LEG_WINDOW_NS:
                break
            if links[a.call_id] and links[b.call_id]:
                continue
            same = number_key(a.callee) == number_key(b.callee)
            a_from, a_to = address_host(a.caller_address), address_host(a.callee_address)
            b_from, b_to = address_host(b.caller_address), address_host(b.callee_address)
            if same and a_to == b_from and a_from != b_to:
                rule = _BY_ADDRESS
            elif same and a_from != b_from and a_to != b_to and _together(a.answer_and_bye_ns(),
                                                                          b.answer_and_bye_ns()):
                rule = _BY_EVENTS
            else:
                continue
            links[a.call_id].setdefault(b.call_id, rule)
            links[b.call_id].setdefault(a.call_id, rule)
    return {c.call_id: list(links[c.call_id].items()) for c in calls}


@pytest.mark.parametrize("seed", range(6))
def test_leg_linking_equals_the_pass_over_every_pair(seed: int) -> None:
    """Random calls to two numbers between four hosts, starting within 6 s, answered and ended (or not) at random
    times near each other (some on whole half seconds: answers or BYEs exactly LEG_EVENT_NS apart): the same legs,
    in the same order, as the pass over every pair."""
    rng = random.Random(seed)
    template = run(burst_through_a_b2bua(1)).calls[0]
    hosts = ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4")
    calls = []
    for n in range(400):
        step = 5 * 10**8 if rng.random() < 0.3 else 1
        start = rng.randrange(0, 6 * 10**9, step)
        answer = start + rng.randrange(0, 3 * 10**9, step) if rng.random() < 0.8 else None
        bye = answer + rng.randrange(0, 3 * 10**9, step) if answer is not None and rng.random() < 0.8 else None
        calls.append(timed_call(template, n, rng.choice(("100", "200")), rng.choice(hosts), rng.choice(hosts),
                                start, answer, bye))
    headers = {f"c{n}": {"x-cid": f"c{rng.randrange(400)}"} for n in rng.sample(range(400), 10)}
    headers = {k: v for k, v in headers.items() if v["x-cid"] != k}
    linked = link_legs(calls, headers)
    got = {c.call_id: [(leg.call_id, leg.rule) for leg in c.legs] for c in linked}
    assert got == legs_of_every_pair(calls, headers)
    assert sum(map(len, got.values())) > 100  # both timing rules had work to do


@pytest.mark.parametrize("shape", ["own-callee-host", "answers-apart", "byes-apart"])
def test_leg_linking_of_answered_calls_visits_few_rows(shape: str, monkeypatch) -> None:
    """Answered and ended calls to one number in a second: each to its own callee host (a number answered by many
    hosts), or to two hosts and answered, or ended, 2 s apart. Every such call looked at every callee host's calls
    (13 s for 8 000 calls), or at every call of the burst that failed the answer or BYE times (13 s for 4 000):
    O(n^2) seeks. Now a few per call."""
    from sipdiag import correlate

    template = run(burst_through_a_b2bua(1)).calls[0]
    n = 2000
    calls = []
    for k in range(n):
        start = k * 10**9 // n
        caller, callee, answer, held = f"10.1.{k >> 8}.{k & 255}", f"10.0.0.{k % 2 + 1}", start + 10**8, 3 * 10**9
        if shape == "own-callee-host":  # from one host: no two can be legs
            caller, callee = "10.0.0.1", caller
        elif shape == "answers-apart":
            answer += k * 2 * 10**9
        else:
            held += k * 2 * 10**9
        calls.append(timed_call(template, k, "100", caller, callee, start, answer, answer + held))
    seeks = [0]
    real = correlate._Lane.seek

    def counted(self, *args):
        seeks[0] += 1
        return real(self, *args)

    monkeypatch.setattr(correlate._Lane, "seek", counted)
    assert link_legs(calls, {}) == calls  # no two are legs of one call
    assert seeks[0] <= 3 * n


def test_registration_auth_loop_and_refresh_interval() -> None:
    reg = "REGISTER sip:example.com SIP/2.0\n{h}\nContact: <sip:200@192.168.1.10:5060>;expires=120"
    ok = "SIP/2.0 200 OK\n{h}\nContact: <sip:200@192.168.1.10:5060>;expires=60"
    messages = []
    frame = 0
    for i, t in enumerate((0.0, 55.0, 110.0)):
        h1 = hdr("reg-1", f"{2 * i + 1} REGISTER", f"r{i}a", ttag=None).replace("300@", "200@")
        h2 = hdr("reg-1", f"{2 * i + 2} REGISTER", f"r{i}b", ttag=None).replace("300@", "200@")
        messages += [
            msg(reg.format(h=h1), A, P, t, frame + 1),
            msg(f"SIP/2.0 401 Unauthorized\n{h1}", P, A, t + 0.01, frame + 2),
            msg(reg.format(h=h2), A, P, t + 0.02, frame + 3),
            msg(ok.format(h=h2), P, A, t + 0.03, frame + 4),
        ]
        frame += 4
    (r,) = run(messages).registrations
    assert (r.aor, r.contact, r.attempts, r.challenges, r.outcome, r.final_status) == (
        "sip:200@example.com", "sip:200@192.168.1.10:5060", 6, 3, "registered", 200)
    assert (r.requested_expires_s, r.expires_s, r.refresh_interval_s) == (120, 60, 55.0)


def test_a_repeated_to_is_parsed_once(monkeypatch) -> None:
    """A registration's AOR is the To of each REGISTER and response (RFC 3261 §10.2): the same text over and over
    in a registrar's capture. uri_of remembers it: 40 REGISTERs and 40 responses of one phone parse it once."""
    from sipdiag import dialogs

    parsed = []
    real = dialogs.parse_name_addr
    monkeypatch.setattr(dialogs, "parse_name_addr", lambda value: parsed.append(value) or real(value))
    getattr(dialogs.uri_of, "cache_clear", lambda: None)()  # a value parsed by an earlier test is remembered
    reg = "REGISTER sip:example.com SIP/2.0\n{h}\nContact: <sip:200@192.168.1.10:5060>;expires=120"
    messages = []
    for i in range(40):
        h = hdr("reg-9", f"{i + 1} REGISTER", f"r{i}", ttag=None).replace("300@", "200@")
        messages += [msg(reg.format(h=h), A, P, i * 60.0, 2 * i + 1),
                     msg(f"SIP/2.0 200 OK\n{h}\nContact: <sip:200@192.168.1.10:5060>;expires=120", P, A,
                         i * 60.0 + 0.01, 2 * i + 2)]
    (r,) = run(messages, end=2500.0).registrations
    assert (r.aor, r.attempts, r.outcome) == ("sip:200@example.com", 40, "registered")
    assert parsed == ["<sip:200@example.com>"]


def test_a_registrations_refusal_keeps_what_it_says_of_itself_bounded() -> None:
    """reg.rejected quotes a refusal's Server, Warning and Reason and names a 420's Unsupported option tags
    (RFC 3261 §20.35, §20.43, §20.40; RFC 3326): a hostile registrar's long values are cut, its tag list too. A
    challenge keeps none of them (an attack's thousands of 401s), a REGISTER its Max-Forwards (RFC 3261 §20.22)."""
    h = hdr("reg-1", "1 REGISTER", "r1").replace("300@", "200@").replace("Max-Forwards: 70", "Max-Forwards: 5")
    tags = ", ".join(f"tag{n}-{'x' * 60}" for n in range(12))
    refusal = (f"SIP/2.0 420 Bad Extension\n{h}\nServer: {'S' * 500}\nWarning: 399 host \"{'w' * 500}\"\n"
               f"Warning: 399 other \"second\"\nReason: SIP;cause=420\nUnsupported: {tags}")
    h2 = hdr("reg-1", "2 REGISTER", "r2").replace("300@", "200@")
    (r,) = run([msg(f"REGISTER sip:example.com SIP/2.0\n{h}", A, P, 0.0, 1), msg(refusal, P, A, 0.01, 2),
                msg(f"REGISTER sip:example.com SIP/2.0\n{h2}", A, P, 1.0, 3),
                msg(f"SIP/2.0 401 Unauthorized\n{h2}\nServer: pbx", P, A, 1.01, 4)]).registrations
    first, second = r.exchanges
    assert (first.max_forwards, second.max_forwards, second.refusal) == (5, 70, None)
    kept = first.refusal
    assert kept is not None
    assert (kept.server, kept.warning[:10], len(kept.warning), kept.reason) == ("S" * 200, '399 host "', 200,
                                                                               "SIP;cause=420")
    assert kept.option_tags == tuple(f"tag{n}-{'x' * 60}"[:40] for n in range(8))


def test_a_5xx_keeps_its_retry_after_bounded_and_each_register_its_server() -> None:
    """reg.server-error quotes a 5xx's Retry-After (RFC 3261 §20.33) and reads the phone's next REGISTER to the
    same server against it (§21.5.4): the seconds before any comment or parameter, the value as written (cut at
    200 characters). One that is no number of seconds is kept without seconds; one over a day (digits past
    2**32-1 too) as a day, named capped; no header, None. Each REGISTER keeps the server it was sent to."""
    o = ("198.51.100.20", 5060)  # a second registrar: the failover RFC 3261 §21.5.4 asks for
    values = ("120 (overload);duration=600", "soon", "-5", "86401", "9" * 30, "7" * 500, None)
    msgs = []
    for k, value in enumerate(values):
        h = hdr("reg-1", f"{k + 1} REGISTER", f"r{k}").replace("300@", "200@")
        to = o if k == 1 else P
        msgs += [msg(f"REGISTER sip:example.com SIP/2.0\n{h}", A, to, 10.0 * k, 2 * k + 1),
                 msg(f"SIP/2.0 503 Service Unavailable\n{h}" + (f"\nRetry-After: {value}" if value else ""), to, A,
                     10.0 * k + 0.5, 2 * k + 2)]
    (r,) = run(msgs).registrations
    kept = [e.refusal.retry_after for e in r.exchanges]
    assert [(a.seconds, a.capped) if a else None for a in kept] == [
        (120, False), (None, False), (None, False), (86_400, True), (86_400, True), (86_400, True), None]
    assert [a.text for a in kept[:5]] == ["120 (overload);duration=600", "soon", "-5", "86401", "9" * 30]
    assert kept[5].text == "7" * 200
    assert [e.destination for e in r.exchanges] == ["203.0.113.5:5060", "198.51.100.20:5060"] + [
        "203.0.113.5:5060"] * 5


def test_options_keepalive_is_a_transaction_not_a_call() -> None:
    result = run([
        msg(f"OPTIONS sip:example.com SIP/2.0\n{hdr('ka-1', '1 OPTIONS', 'o1')}", A, P, 0.0, 1),
        msg(f"SIP/2.0 200 OK\n{hdr('ka-1', '1 OPTIONS', 'o1', ttag='q')}", P, A, 0.01, 2),
        msg(f"OPTIONS sip:example.com SIP/2.0\n{hdr('ka-1', '1 OPTIONS', 'o1')}", A, P, 0.5, 3),  # retransmission
    ])
    assert result.calls == () and result.registrations == ()
    (t,) = result.transactions
    assert (t.method, t.final_status, t.request_retransmissions, t.responses) == (
        "OPTIONS", 200, 1, ((200, 2, 10_000_000),))


BY_EVENTS = "same callee, start within 2 s, answered and ended within 1 s of each other"


@pytest.mark.parametrize(("steps", "expected"), [
    ((), {"c0": [("c1", BY_ADDRESS)], "c1": [("c0", BY_ADDRESS)], "c2": [("c3", BY_EVENTS)],
          "c3": [("c2", BY_EVENTS)]}),
    ((100,), {"c0": [("c1", BY_ADDRESS)], "c1": [("c0", BY_ADDRESS)], "c2": [("c3", BY_EVENTS)],
              "c3": [("c2", BY_EVENTS)]}),  # a step after every frame changes nothing
    ((11,), {"c0": [], "c1": [], "c2": [("c3", BY_EVENTS)], "c3": [("c2", BY_EVENTS)]}),  # between c0 and c1 starts
    ((22,), {"c0": [("c1", BY_ADDRESS)], "c1": [("c0", BY_ADDRESS)], "c2": [], "c3": []}),  # between the starts
    ((26,), {"c0": [("c1", BY_ADDRESS)], "c1": [("c0", BY_ADDRESS)], "c2": [], "c3": []}),  # between the answers
    ((30,), {"c0": [("c1", BY_ADDRESS)], "c1": [("c0", BY_ADDRESS)], "c2": [], "c3": []}),  # between the BYEs
])
def test_leg_timing_is_not_compared_across_a_clock_step(steps: tuple[int, ...], expected) -> None:
    """Two pairs of legs, one linked through the B2BUA's address, one by its answer and BYE times. A clock step
    between the frames of two times that a rule compares (the starts; the answers; the BYEs) makes the times the
    clock's error: that rule does not hold, however near the stamped times are."""
    from sipdiag.clocksteps import ClockSteps

    template = dataclasses.replace(run(burst_through_a_b2bua(1)).calls[0], legs=())

    def leg(n, caller, callee, start_frame, start_s, answer=(0, None), bye=(0, None)):
        """answer, bye: (frame, seconds)"""
        return timed_call(template, n, "300", caller, callee, int(start_s * 1e9),
                          None if answer[1] is None else int(answer[1] * 1e9),
                          None if bye[1] is None else int(bye[1] * 1e9), (start_frame, answer[0], bye[0]))

    calls = [leg(0, "10.0.0.1", "10.0.0.2", 10, 0.0), leg(1, "10.0.0.2", "10.0.0.3", 12, 0.05),
             leg(2, "10.0.1.1", "10.0.1.2", 20, 0.1, (24, 1.0), (28, 9.0)),
             leg(3, "10.0.1.3", "10.0.1.4", 22, 0.2, (26, 1.01), (30, 9.01))]
    linked = link_legs(calls, {}, ClockSteps(steps, len(steps)))
    assert {c.call_id: [(x.call_id, x.rule) for x in c.legs] for c in linked} == expected


# ----------------------------------------------------------- in_dialog of a transaction known by its responses only

def answered(cid: str) -> list:
    """INVITE (CSeq 1) from the phone, 180 and 200 with To tag b, ACK: dialog (a1, b) confirmed at frame 3."""
    return [msg(f"INVITE sip:300@example.com SIP/2.0\n{hdr(cid, '1 INVITE', 'i1')}", A, P, 0.0, 1),
            msg(f"SIP/2.0 180 Ringing\n{hdr(cid, '1 INVITE', 'i1', ttag='b')}", P, A, 0.1, 2),
            msg(f"SIP/2.0 200 OK\n{hdr(cid, '1 INVITE', 'i1', ttag='b')}", P, A, 1.0, 3),
            msg(f"ACK sip:300@example.com SIP/2.0\n{hdr(cid, '1 ACK', 'a1', ttag='b')}", A, P, 1.1, 4)]


def response(status: str, cseq: str, branch: str, ftag: str = "a1", ttag: str | None = "b", src=P, dst=A,
             frame: int = 10):
    return msg(f"SIP/2.0 {status}\n{hdr('dlg-1', cseq, branch, ftag=ftag, ttag=ttag)}", src, dst, 5.0, frame)


@pytest.mark.parametrize(("before", "late", "in_dialog"), [
    # RFC 3261 §12.2.1.1: the caller's next INVITE in the confirmed dialog has a higher CSeq and the dialog's tags
    (answered("dlg-1"), response("488 Not Acceptable Here", "2 INVITE", "r2"), True),
    (answered("dlg-1"), response("100 Trying", "2 INVITE", "r2"), True),
    # the callee's re-INVITE: From and To the other way round, its own CSeq numbers (§12.2.1.1)
    (answered("dlg-1"), response("200 OK", "1 INVITE", "r9", ftag="b", ttag="a1", src=A, dst=P), True),
    # the initial INVITE's 200 seen on another hop (its INVITE there not captured): same CSeq, not in the dialog
    (answered("dlg-1"), response("200 OK", "1 INVITE", "i1", src=C, dst=P), False),
    # a 200 on the dialog's tags, but the dialog was early: an INVITE's own 180 then 200 (§13.2.2.4)
    (answered("dlg-1")[:2], response("200 OK", "1 INVITE", "i7"), False),
    # INFO on the dialog (§8.2.6.2: its To tag copied) / to a request outside it (a fresh tag, §19.3)
    (answered("dlg-1"), response("200 OK", "2 INFO", "n2"), True),
    (answered("dlg-1"), response("200 OK", "2 INFO", "n2", ttag="fresh"), False),
    # the 200 to CANCEL carries the INVITE's To tag (§9.2): a CANCEL is no request in a dialog
    (answered("dlg-1")[:2], response("200 OK", "1 CANCEL", "i1"), False),
    # no dialog known: only what the response says by itself (§14.2, §21.4.27; §15.1.1)
    ([], response("491 Request Pending", "2 INVITE", "r2"), True),
    ([], response("200 OK", "2 BYE", "y2"), True),
    ([], response("200 OK", "2 INVITE", "r2"), False),  # a 200 to an INVITE retried after a 401 looks the same
])
def test_a_transaction_without_its_request_is_in_a_dialog_when_its_response_shows_it(before, late,
                                                                                      in_dialog) -> None:
    (call,) = run([*before, late]).calls
    (t,) = [t for t in call.transactions if t.request_frame is None]
    assert (t.method, t.in_dialog) == (late.cseq_method, in_dialog)


def test_the_request_after_its_response_tells_whether_it_was_in_a_dialog() -> None:
    """The capture has the response first (interfaces merged, clock skew): its To tag alone says nothing, the
    request's To tag does (RFC 3261 §12.2). Before, the flag stayed as the response left it."""
    cid = "late-req"
    reinvite = f"{hdr(cid, '2 INVITE', 'r2', ttag='b')}"
    result = run([msg(f"SIP/2.0 200 OK\n{reinvite}", P, A, 0.0, 1),
                  msg(f"INVITE sip:300@example.com SIP/2.0\n{reinvite}", A, P, 0.001, 2)])
    (call,) = result.calls
    assert [(t.method, t.request_frame, t.in_dialog) for t in call.transactions] == [("INVITE", 2, True)]
    assert (call.reinvites, call.outcome, call.final_status) == (1, "answered", None)


def test_a_reinvite_of_the_callee_is_in_the_callers_dialog() -> None:
    """The callee's re-INVITE, its 200 and its ACK carry the caller's tag in To and the callee's in From (RFC 3261
    §12.2.1.1): they belong to the one dialog (a1, b). Before, its 200 and ACK made a second, confirmed dialog of
    the caller's tag with itself, (a1, a1)."""
    cid = "dlg-1"
    callee = dict(ftag="b", ttag="a1")
    (call,) = run([*answered(cid),
                   msg(f"INVITE sip:200@example.com SIP/2.0\n{hdr(cid, '1 INVITE', 'c1', **callee)}", P, A, 5.0, 5),
                   msg(f"SIP/2.0 200 OK\n{hdr(cid, '1 INVITE', 'c1', **callee)}", A, P, 5.1, 6),
                   msg(f"ACK sip:200@example.com SIP/2.0\n{hdr(cid, '1 ACK', 'c2', **callee)}", P, A, 5.2, 7)]).calls
    assert [(d.caller_tag, d.callee_tag, d.state, d.created_frame, d.confirmed_frame) for d in call.dialogs] == [
        ("a1", "b", "confirmed", 2, 3)]
    assert (call.reinvites, [t.in_dialog for t in call.transactions if t.method == "INVITE"]) == (1, [False, True])


# ------------------------------------------------------------- offer/answer of an INVITE the capture holds in part

PHONE_SDP = SDP.format(v=2, ip="192.168.1.10", port=6002, dir="sendrecv")  # the phone, on a new port
SERVER_SDP = SDP.format(v=2, ip="203.0.113.77", port=7100, dir="sendrecv")  # the PBX's media server
PHONE_MEDIA, SERVER_MEDIA = [("192.168.1.10", 6002)], [("203.0.113.77", 7100)]


def reinvite(kind: str, frame: int, t: float, body: str = "", callee: bool = False):
    """A message of the re-INVITE transaction after answered(): the phone's (CSeq 2), or the PBX's (CSeq 1, tags
    the other way round, RFC 3261 §12.2.1.1). kind: INVITE, ACK or a response's status."""
    tags = dict(ftag="b", ttag="a1") if callee else dict(ttag="b")
    number = 1 if callee else 2
    sender, receiver = (P, A) if callee else (A, P)
    if kind == "ACK":
        return msg(f"ACK sip:x@example.com SIP/2.0\n{hdr('part-1', f'{number} ACK', 'ra', **tags)}", sender, receiver,
                   t, frame, body)
    if kind == "INVITE":
        return msg(f"INVITE sip:x@example.com SIP/2.0\n{hdr('part-1', f'{number} INVITE', 'ri', **tags)}", sender,
                   receiver, t, frame, body)
    return msg(f"SIP/2.0 {kind}\n{hdr('part-1', f'{number} INVITE', 'ri', **tags)}", receiver, sender, t, frame, body)


@pytest.mark.parametrize(("messages", "expected"), [
    # the phone's re-INVITE is lost at the capture point: the PBX's 200 answers an offer of the phone's that the
    # capture lacks (RFC 3261 §13.2.1), and it moves the media to the media server (RFC 3264 §8)
    ([reinvite("200 OK", 5, 5.0, SERVER_SDP), reinvite("ACK", 6, 5.1)],
     [("re-invite", None, "caller", [], 5, SERVER_MEDIA, 200)]),
    # the same from the PBX's side: its re-INVITE lost, the phone's 200 is the phone's answer
    ([reinvite("200 OK", 5, 5.0, PHONE_SDP, callee=True), reinvite("ACK", 6, 5.1, callee=True)],
     [("re-invite", None, "callee", [], 5, PHONE_MEDIA, 200)]),
    # the lost re-INVITE had no offer: the ACK carries SDP, so the 200's was the PBX's offer and the ACK the answer
    ([reinvite("200 OK", 5, 5.0, SERVER_SDP), reinvite("ACK", 6, 5.1, PHONE_SDP)],
     [("re-invite", 5, "callee", SERVER_MEDIA, 6, PHONE_MEDIA, 200)]),
    # the request after its response (interfaces merged out of order): one exchange, not an answer and an offer
    ([reinvite("200 OK", 5, 5.0, SERVER_SDP), reinvite("INVITE", 6, 4.99, PHONE_SDP), reinvite("ACK", 7, 5.1)],
     [("re-invite", 6, "caller", PHONE_MEDIA, 5, SERVER_MEDIA, 200)]),
    ([reinvite("200 OK", 5, 5.0, SERVER_SDP), reinvite("INVITE", 6, 4.99), reinvite("ACK", 7, 5.1, PHONE_SDP)],
     [("re-invite", 5, "callee", SERVER_MEDIA, 7, PHONE_MEDIA, 200)]),
    # an offerless re-INVITE whose 200 (the offer) is not in the capture (a mirror of one direction): the ACK of the
    # same CSeq answers it, not the initial offerless INVITE still without an offer
    ([reinvite("INVITE", 5, 5.0), reinvite("ACK", 6, 5.1, PHONE_SDP)],
     [("re-invite", None, "callee", [], 6, PHONE_MEDIA, None)]),
    # everything captured, as before: offer in the 200 and answer in the ACK; an offer the 200 does not answer
    ([reinvite("INVITE", 5, 5.0), reinvite("200 OK", 6, 5.05, SERVER_SDP), reinvite("ACK", 7, 5.1, PHONE_SDP)],
     [("re-invite", 6, "callee", SERVER_MEDIA, 7, PHONE_MEDIA, 200)]),
    ([reinvite("INVITE", 5, 5.0, PHONE_SDP), reinvite("200 OK", 6, 5.05), reinvite("ACK", 7, 5.1)],
     [("re-invite", 5, "caller", PHONE_MEDIA, None, [], 200)]),
])
def test_an_invite_captured_in_part_keeps_its_offer_and_answer(messages, expected) -> None:
    """Before, the SDP of a response whose INVITE is not in the capture was dropped: the media a re-INVITE moved
    were bound to no call or the wrong one, and no SDP rule saw them; and an ACK's SDP was dropped unless its
    INVITE's offer had been seen."""
    (call,) = run([*answered("part-1"), *messages]).calls

    def media(descriptions) -> list:
        return [(m.address, m.port) for m in descriptions or ()]

    assert [(n.kind, n.offer_frame, n.offerer, media(n.offer), n.answer_frame, media(n.answer), n.status)
            for n in call.negotiations] == expected


def test_each_hop_of_a_spiral_takes_the_answer_of_its_own_ack() -> None:
    """An offerless INVITE spirals: the phone A sends it to the proxy P (frame 1), P back to A's other line (2); each
    hop is a transaction of the same CSeq, its 200 carries the offer and its ACK the answer (RFC 3261 §13.2.1). Each
    ACK answers the hop it went along (phone to proxy, proxy to phone). Before, the first ACK answered the offer of the
    last hop and the second that of the first (each took the last offer still unanswered)."""
    cid = "spiral-1"
    offer = SDP.format(v=1, ip="192.168.1.10", port=6000, dir="sendrecv")
    answer = SDP.format(v=1, ip="192.168.1.10", port=6100, dir="sendrecv")
    first, second = hdr(cid, "20 INVITE", "h1"), hdr(cid, "20 INVITE", "h2")
    (call,) = run([
        msg(f"INVITE sip:300@example.com SIP/2.0\n{first}", A, P, 0.0, 1),
        msg(f"INVITE sip:300@192.168.1.10 SIP/2.0\n{second}", P, A, 0.01, 2),
        msg(f"SIP/2.0 200 OK\n{hdr(cid, '20 INVITE', 'h2', ttag='b')}", A, P, 1.0, 3, offer),
        msg(f"SIP/2.0 200 OK\n{hdr(cid, '20 INVITE', 'h1', ttag='b')}", P, A, 1.01, 4, offer),
        msg(f"ACK sip:300@example.com SIP/2.0\n{hdr(cid, '20 ACK', 'k1', ttag='b')}", A, P, 1.1, 5, answer),
        msg(f"ACK sip:300@192.168.1.10 SIP/2.0\n{hdr(cid, '20 ACK', 'k2', ttag='b')}", P, A, 1.11, 6, answer),
    ]).calls
    assert [(n.offer_frame, n.answer_frame) for n in call.negotiations] == [(4, 5), (3, 6)]


def test_each_leg_of_a_b2bua_that_keeps_the_call_id_is_a_dialog_of_its_own() -> None:
    """An SBC keeps the Call-ID on its outer leg and writes its own From tag there: a prefix, the inner caller's tag
    and the inner INVITE's Via branch (as the SBC in the corpus capture heplify/erspan_sip_ipv4_udp.pcapng). The
    outer callee's re-INVITE carries that tag in To (RFC 3261 §12.2.1.1). A dialog is the Call-ID and both tags
    (§12): two dialogs, each with its own caller tag, and the outer leg's offers are the caller side's. Before, the
    outer dialog was filed under the inner caller's tag, its INVITE's offer under the callee, and the re-INVITE's
    200 made a third dialog of the inner caller's tag with the outer one, confirmed at once."""
    cid = "sbc-1"
    outer = "00E4EF38-a1z9hG4bKi1"  # the SBC's tag on the outer leg: prefix + inner tag + inner branch
    offer = SDP.format(v=1, ip="203.0.113.5", port=7000, dir="sendrecv")
    answer = SDP.format(v=1, ip="198.51.100.7", port=8000, dir="sendrecv")
    hold = SDP.format(v=2, ip="198.51.100.7", port=8000, dir="sendonly")
    callee = dict(ftag="c9", ttag=outer)
    (call,) = run([
        msg(f"INVITE sip:300@example.com SIP/2.0\n{hdr(cid, '1 INVITE', 'i1')}", A, P, 0.0, 1, offer),
        msg(f"INVITE sip:300@carrier.example SIP/2.0\n{hdr(cid, '1 INVITE', 'o1', ftag=outer)}", P, C, 0.01, 2,
            offer),
        msg(f"SIP/2.0 200 OK\n{hdr(cid, '1 INVITE', 'o1', ftag=outer, ttag='c9')}", C, P, 1.0, 3, answer),
        msg(f"SIP/2.0 200 OK\n{hdr(cid, '1 INVITE', 'i1', ttag='b')}", P, A, 1.01, 4, answer),
        msg(f"ACK sip:300@example.com SIP/2.0\n{hdr(cid, '1 ACK', 'k1', ttag='b')}", A, P, 1.1, 5),
        msg(f"ACK sip:300@carrier.example SIP/2.0\n{hdr(cid, '1 ACK', 'k2', ftag=outer, ttag='c9')}", P, C, 1.11, 6),
        msg(f"INVITE sip:x@203.0.113.5 SIP/2.0\n{hdr(cid, '7 INVITE', 'r7', **callee)}", C, P, 5.0, 7, hold),
        msg(f"SIP/2.0 200 OK\n{hdr(cid, '7 INVITE', 'r7', **callee)}", P, C, 5.01, 8, offer),
        msg(f"ACK sip:x@203.0.113.5 SIP/2.0\n{hdr(cid, '7 ACK', 'r8', **callee)}", C, P, 5.1, 9),
    ]).calls
    assert sorted((d.caller_tag, d.callee_tag, d.state, d.created_frame, d.confirmed_frame) for d in call.dialogs) == [
        (outer, "c9", "confirmed", 3, 3), ("a1", "b", "confirmed", 4, 4)]
    assert [(n.kind, n.offer_frame, n.offerer, n.answer_frame) for n in call.negotiations] == [
        ("initial", 1, "caller", 4), ("initial", 2, "caller", 3), ("re-invite", 7, "callee", 8)]
    assert (call.reinvites, [t.in_dialog for t in call.transactions if t.method == "INVITE"]) == (
        1, [False, False, True])


# ------------------------------------------------------------------------------ a BYE known by its response only

@pytest.mark.parametrize(("response", "ended_by"), [
    # the callee's BYE: its From and To the other way round (RFC 3261 §12.2.1.1), its own CSeq numbers
    (msg(f"SIP/2.0 200 OK\n{hdr('dlg-1', '1 BYE', 'y1', ftag='b', ttag='a1')}", A, P, 10.0, 5), "callee"),
    (msg(f"SIP/2.0 200 OK\n{hdr('dlg-1', '2 BYE', 'y1', ttag='b')}", P, A, 10.0, 5), "caller"),
    # a BYE is ended when sent, whatever the answer (§15.1.1): a 481 ends it as well
    (msg(f"SIP/2.0 481 Call/Transaction Does Not Exist\n{hdr('dlg-1', '2 BYE', 'y1', ttag='b')}", P, A, 10.0, 5),
     "caller"),
])
def test_a_bye_known_by_its_response_ends_the_call(response, ended_by: str) -> None:
    """The capture lost the BYE but has its response, whose From is the BYE's (§8.2.6.2): the call ended there,
    hung up by the side that sent it. Before, the call ran to the end of the capture (99 s), nobody hung up and its
    dialog stayed confirmed."""
    (call,) = run([*answered("dlg-1"), response]).calls
    assert (call.outcome, call.ended_by, call.bye_frame, call.duration_s, call.end_reason) == (
        "answered", ended_by, 5, 9.0, None)
    assert [d.state for d in call.dialogs] == ["terminated"]


def test_the_bye_after_its_response_takes_its_place() -> None:
    """Two capture points merged with their clocks apart: the 200 comes first, then the BYE. The BYE's own frame,
    time and Reason (RFC 3326) are the call's end, as when it comes first."""
    cid = "dlg-1"
    bye = hdr(cid, "2 BYE", "y1", ttag="b", extra="\nReason: Q.850;cause=16")
    (call,) = run([*answered(cid), msg(f"SIP/2.0 200 OK\n{hdr(cid, '2 BYE', 'y1', ttag='b')}", P, A, 10.0, 5),
                   msg(f"BYE sip:200@example.com SIP/2.0\n{bye}", A, P, 10.5, 6)]).calls
    assert (call.ended_by, call.bye_frame, call.duration_s, call.end_reason) == ("caller", 6, 9.5, "Q.850;cause=16")


def test_a_capture_of_a_bye_answered_only_is_an_ended_call() -> None:
    """The capture began as the call ended and lost the BYE: its 200 alone shows a dialog that existed (a BYE is
    sent only in one, RFC 3261 §15), as the BYE itself would. Before, the call was "in-progress". Which party sent
    the BYE is not known: without the INVITE either party's tag may be the From tag (§12.2.1.1)."""
    (call,) = run([msg(f"SIP/2.0 200 OK\n{hdr('late-1', '7 BYE', 'y7', ttag='b')}", P, A, 1.0, 1)]).calls
    assert (call.outcome, call.ended_by, call.bye_frame, call.seen_from_start, call.roles_known) == (
        "answered", None, 1, False, False)


# --------------------------------------------------------------------------- a CANCEL known by its response only

def cancel_answered(cid: str, status: str = "200 OK", frame: int = 3, t: float = 5.0):
    """The response to the caller's CANCEL of INVITE CSeq 1 (branch i1, RFC 3261 §9.1), To tag b (§9.2)."""
    return msg(f"SIP/2.0 {status}\n{hdr(cid, '1 CANCEL', 'i1', ttag='b')}", P, A, t, frame)


def invite_final(cid: str, status: str, frame: int):
    return [msg(f"SIP/2.0 {status}\n{hdr(cid, '1 INVITE', 'i1', ttag='b')}", P, A, 5.1, frame),
            msg(f"ACK sip:300@example.com SIP/2.0\n{hdr(cid, '1 ACK', 'i1', ttag='b')}", A, P, 5.2, frame + 1)]


@pytest.mark.parametrize(("cancel", "after", "outcome", "final_status"), [
    # the capture ends before the INVITE's final response: the caller gave up while it rang
    (cancel_answered("c-1"), [], "cancelled", None),
    # the INVITE ended with 487 (§9.2) and was acknowledged
    (cancel_answered("c-1"), invite_final("c-1", "487 Request Terminated", 4), "cancelled", 487),
    # a proxy's 408 after it accepted the CANCEL: the caller's choice, no timeout (§9.2, §16.6)
    (cancel_answered("c-1"), invite_final("c-1", "408 Request Timeout", 4), "cancelled", 408),
    # a 481: the CANCEL matched no transaction, yet the caller sent it (§9.2)
    (cancel_answered("c-1", "481 Call/Transaction Does Not Exist"), [], "cancelled", None),
])
def test_a_cancel_known_by_its_response_cancels_the_call(cancel, after, outcome: str, final_status) -> None:
    """The capture lost the caller's CANCEL but has its response: the CANCEL was sent (only the caller sends one,
    §9.1), so the call was cancelled at that response's frame. Before, cancelled_frame stayed None: the ringing call
    was "in-progress", the 408 after the accepted CANCEL "rejected", and no call's end named a CANCEL."""
    (call,) = run([*answered("c-1")[:2], cancel, *after]).calls
    assert (call.outcome, call.final_status, call.cancelled_frame, call.bye_frame, call.ended_by,
            call.end_reason) == (outcome, final_status, 3, None, None, None)
    assert [(t.method, t.request_frame, t.final_status) for t in call.transactions if t.method == "CANCEL"] == [
        ("CANCEL", None, int(cancel.status_code))]


def test_the_cancel_after_its_response_takes_its_place() -> None:
    """Two capture points merged with their clocks apart: the CANCEL's 200 comes first, then the CANCEL. The
    CANCEL's own frame and Reason (RFC 3326) are the call's cancellation, as when it comes first."""
    cid = "c-1"
    cancel = hdr(cid, "1 CANCEL", "i1", extra='\nReason: SIP;cause=200;text="Call completed elsewhere"')
    (call,) = run([*answered(cid)[:2], cancel_answered(cid), msg(f"CANCEL sip:300@example.com SIP/2.0\n{cancel}",
                                                                 A, P, 5.5, 4),
                   *invite_final(cid, "487 Request Terminated", 5)]).calls
    assert (call.outcome, call.final_status, call.cancelled_frame, call.end_reason) == (
        "cancelled", 487, 4, 'SIP;cause=200;text="Call completed elsewhere"')
    assert [(t.method, t.request_frame, t.final_status) for t in call.transactions if t.method == "CANCEL"] == [
        ("CANCEL", 4, 200)]
