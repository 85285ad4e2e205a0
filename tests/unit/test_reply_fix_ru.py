"""The Russian "How to fix" of the rules (sipdiag.reports.replyactions.FIX_RU), which the Russian engineer note
shows: a rule without one fell back to its English docstring paragraph in the middle of the Russian note."""

from __future__ import annotations

import hashlib

from sipdiag.checks import all_rules
from sipdiag.reports.replyactions import FIX_RU, RULE_STEPS
from tests.russiantext import english_runs

# The English "How to fix" each FIX_RU entry translates, as a digest of its words: when the English changes, the
# Russian must follow (three entries had lost a remedy the English gained since). Update the entry, then this.
TRANSLATED_FROM = {
    "alg.content-length-mismatch": "17861cabf643",
    "alg.message-modified-in-transit": "734f7a6225a9",
    "alg.sdp-rewritten-inconsistently": "97d7ddaf5507",
    "call.ack-timeout-32s": "ac9adefeddac",
    "call.failure-response": "7540bc0bf858",
    "call.in-dialog-request-misrouted": "3973397a4a79",
    "call.invite-timeout": "3fe581e13d18",
    "call.media-timeout-or-hung": "2b7e9489c59e",
    "call.reinvite-failed": "6334a2f17db0",
    "call.session-timer-expiry": "0da614f292cd",
    "codec.answer-format-issues": "a68ff87cfb64",
    "codec.asymmetric-codec": "3c93c867f7c6",
    "codec.no-common-codec": "7557d5020b32",
    "codec.rtp-payload-not-negotiated": "69e913d1c8f3",
    "codec.timestamp-clock-mismatch": "528a0ebd3e65",
    "dtmf.rfc4733-problem": "fc404b30edf1",
    "media.burst-loss": "8fd7cb1268c9",
    "media.clock-drift": "b1d647c02363",
    "media.high-delay": "e1c4fe244b34",
    "media.high-jitter": "70f8e8246aad",
    "media.loopback-sdp-address": "396276a93f1e",
    "media.low-mos": "70f108287d3f",
    "media.no-rtp": "a3b79e15ad77",
    "media.one-way-audio": "23a7bf9a34a1",
    "media.packet-loss": "03f9599aa267",
    "media.rtcp-issues": "6ee98ff69b04",
    "media.sequence-anomalies": "af8ee6310516",
    "media.srtp-profile-mismatch": "86762c10a945",
    "nat.cgnat-or-double-nat": "7abb75cdf4d3",
    "nat.hairpin-failure": "06942b2059cc",
    "nat.media-source-mismatch": "e9c74277c3a4",
    "nat.no-rport-response-lost": "b5ee09cfa959",
    "nat.port-translated": "f195286a30a2",
    "nat.private-contact": "3c7e6ae800ed",
    "nat.private-sdp-address": "edf5bba0d35a",
    "nat.stun-mapping-mismatch": "49b0e826f409",
    "nat.via-address-mismatch": "65090df2eb85",
    "qos.bufferbloat-suspected": "3eb79a03804e",
    "qos.dscp-marking": "d21f78aa9fe2",
    "reg.auth-loop": "94665ec2b63e",
    "reg.binding-churn": "fe99352721fc",
    "reg.contact-binding-mismatch": "8e407599a095",
    "reg.interval-too-brief": "15dcee80680b",
    "reg.no-response": "d08e44521327",
    "reg.rejected": "bafca27b5dc5",
    "reg.server-error": "ee85b0e29b8f",
    "router.icmp-unreachable": "60ee1527b89c",
    "router.nat-binding-timeout": "7f8436965fb5",
    "router.udp-fragmentation": "505d59ba4547",
    "sec.bruteforce-auth": "49294cc0691f",
    "sec.scanner-detected": "25bfe53797bb",
    "sec.toll-fraud-attempt": "1f8952602bc9",
}


def test_every_rule_has_a_russian_fix_and_every_fix_names_a_rule() -> None:
    rules = {r.id for r in all_rules()}
    assert sorted(rules - set(FIX_RU)) == []
    assert sorted(set(FIX_RU) - rules) == []  # a renamed rule's entry left behind is never shown


def test_the_russian_fixes_carry_no_english_prose() -> None:
    assert {rule: runs for rule, text in FIX_RU.items() if (runs := english_runs(text))} == {}


def test_the_steps_of_the_reply_name_registered_rules() -> None:
    # the steps of codec.answer-not-in-offer outlived the rule (replaced by codec.answer-format-issues, which got the
    # same steps only through the fallback for its category and owner)
    assert sorted(set(RULE_STEPS) - {r.id for r in all_rules()}) == []


def _digest(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:12]


def test_the_russian_fixes_translate_the_current_english() -> None:
    changed = [r.id for r in all_rules() if TRANSLATED_FROM.get(r.id) != _digest(r.sections()["How to fix"])]
    assert changed == [], "the English 'How to fix' changed: bring FIX_RU up to date, then TRANSLATED_FROM"
