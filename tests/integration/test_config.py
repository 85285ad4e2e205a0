"""`--config sipdiag.toml`: thresholds from a TOML file change what the rules report; a bad file is one `Error:` line
with a hint naming the key, and exit code 2."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
from click.testing import CliRunner

import sipdiag
from sipdiag.checks.settings import DEFAULTS
from sipdiag.cli import cli
from sipdiag.config import NOT_READ, defaults_toml, leaf_paths, load_config, settings_read_by, validate
from sipdiag.errors import UsageError
from sipdiag.tools import rulesdoc
from tests import callcapture
from tests.conftest import SAMPLES


def write(tmp_path, text: str, name: str = "sipdiag.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def loss(findings) -> list[tuple[str, float]]:
    return [(f.severity.label, f.evidence["loss_pct"]) for f in findings if f.rule == "media.packet-loss"]


def test_an_override_changes_the_finding(tmp_path) -> None:
    """A built G.711 call losing 1 packet in 50 (3 of 200 counted: 1.5 %, which costs 95·1.5/26.6 = 5.4 R points):
    minor by default, silent when the operator tolerates up to 6 R points, major when its own limits are stricter.
    media.packet-loss grades by media.delta_r wherever the E-model knows the codec (RULES.md media.packet-loss)."""
    lossy = callcapture.answered_call(tmp_path / "lossy.pcap", drop_every=50)
    assert loss(sipdiag.analyze(lossy).findings) == [("minor", 1.5)]
    tolerant = load_config(write(tmp_path, "[media]\ndelta_r = { minor = 6 }\n"))
    assert tolerant["media"]["delta_r"] == {"minor": 6, "major": 10, "critical": 20}  # the other keys keep defaults
    assert loss(sipdiag.analyze(lossy, settings=tolerant).findings) == []
    strict = load_config(write(tmp_path, "[media.delta_r]\nminor = 2\nmajor = 5\n", "strict.toml"))
    strict_findings = [f for f in sipdiag.analyze(lossy, settings=strict).findings if f.rule == "media.packet-loss"]
    assert loss(strict_findings) == [("major", 1.5)]
    # the engineer's note quotes the limits the run applied, not the defaults
    assert "thresholds ΔR 2/5/20, critical also below R 60 (RULES.md" in strict_findings[0].engineer_text["en"]
    assert "пороги ΔR 2/5/20, critical также ниже R 60 (RULES.md" in strict_findings[0].engineer_text["ru"]
    # media.loss_pct grades only codecs the E-model does not know: for this G.711 stream it changes nothing
    # (tests/integration/test_packet_loss_grading.py has the unknown codec it grades).
    by_share = load_config(write(tmp_path, "[media]\nloss_pct = { minor = 3 }\n", "share.toml"))
    assert loss(sipdiag.analyze(lossy, settings=by_share).findings) == [("minor", 1.5)]
    # One analysis's configuration never leaks into the next.
    assert loss(sipdiag.analyze(lossy).findings) == [("minor", 1.5)]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sipdiag", *args], capture_output=True, check=False)


def test_the_cli_reads_the_file_and_exit_codes_follow(tmp_path) -> None:
    # 4.7 % loss on G.711, 14.9 R points: major by default, exit 1 with --fail-on major
    capture = str(SAMPLES / "rtp_loss.pcap")
    assert run("analyze", capture).returncode == 1
    relaxed = write(tmp_path, "# loss limits of a lossy radio link\n[media]\n"
                              "delta_r = { minor = 20, major = 30, critical = 40 }\n")
    result = run("analyze", capture, "--config", str(relaxed))
    assert result.returncode == 0, result.stderr
    assert b"media.packet-loss" not in result.stdout


@pytest.mark.parametrize(("text", "error", "hint"), [
    ("[media]\nloss_pctt = 3\n", "Error: bad.toml: unknown key 'media.loss_pctt'",
     "Hint: Did you mean 'media.loss_pct'? Known keys in [media]: "),
    ("[medai]\nx = 1\n", "Error: bad.toml: unknown key 'medai'", "Hint: Known keys in the top level: media, nat, "),
    ("[media]\nloss_pct = \"high\"\n", "Error: bad.toml: 'media.loss_pct' must be a table, not the text 'high'",
     "Hint: Write it as loss_pct = { minor = 1, major = 3, critical = 5 } or under [media.loss_pct]."),
    ("[sip]\nt2_ms = true\n", "Error: bad.toml: 'sip.t2_ms' must be a number, not true/false",
     "Hint: The default is sip.t2_ms = 4000."),
    ("[qos]\nsip_dscp_allowed = [\"af31\"]\n",
     "Error: bad.toml: 'qos.sip_dscp_allowed' must be a list of numbers, not a list with other values than numbers",
     "Hint: The default is qos.sip_dscp_allowed = [24, 26, 40]."),
    ("[media]\nmax_gap_ms = -5\n", "Error: bad.toml: 'media.max_gap_ms' must not be negative (-5)",
     "Hint: The default is media.max_gap_ms = 200."),
    ("[media]\nmax_gap_ms = nan\n", "Error: bad.toml: 'media.max_gap_ms' must be a finite number, not nan",
     "Hint: The default is media.max_gap_ms = 200."),
    ("[media]\noneway_min_ratio = inf\n", "Error: bad.toml: 'media.oneway_min_ratio' must be a finite number, "
     "not inf", "Hint: The default is media.oneway_min_ratio = 0.1."),
    ("[qos]\nsip_dscp_allowed = [24, nan]\n",
     "Error: bad.toml: 'qos.sip_dscp_allowed' must be a list of numbers, not a list with other values than numbers",
     "Hint: The default is qos.sip_dscp_allowed = [24, 26, 40]."),
    ("[security]\nhome_country_codes = [\"+044\"]\n", "Error: bad.toml: 'security.home_country_codes' must be a "
     "list of E.164 country codes (1 to 3 digits), \"+044\" is not one", "Hint: Write it as home_country_codes = [44, 353] or "
     "[\"+44\", \"+353\"]."),
    ("[security]\nhome_country_codes = [4412]\n", "Error: bad.toml: 'security.home_country_codes' must be a list of "
     "E.164 country codes (1 to 3 digits), 4412 is not one", "Hint: Write it as"),
    ("[security]\nhome_country_codes = 44\n", "Error: bad.toml: 'security.home_country_codes' must be a list of "
     "E.164 country codes (1 to 3 digits), not a number", "Hint: Write it as"),
    # levels that cross once laid over the defaults: 3.5 % would be major but not minor
    ("[media]\nloss_pct = { minor = 4 }\n", "Error: bad.toml: 'media.loss_pct': minor (4) is above major (3)",
     "Hint: The levels must keep their order, minor <= major <= critical (the defaults are 1, 3, 5); set them "
     "together."),
    ("[media.r_factor]\nmajor = 75.5\n", "Error: bad.toml: 'media.r_factor': minor (70) is below major (75.5)",
     "Hint: The levels must keep their order, minor >= major >= critical (the defaults are 70, 60, 50)"),
    ("[media.mouth_to_ear_ms]\ncritical = 200\n",
     "Error: bad.toml: 'media.mouth_to_ear_ms': major (250) is above critical (200)", "Hint: The levels must"),
    ("[media\n", "Error: bad.toml is not valid TOML: Expected ']' at the end of a table declaration (at line 1, "
     "column 7)", "Hint: Fix the line named; docs/config-defaults.toml lists every key with its default."),
])
def test_a_bad_file_is_one_error_line_and_exit_2(tmp_path, text: str, error: str, hint: str) -> None:
    result = run("analyze", str(SAMPLES / "clean_call.pcap"), "--config", str(write(tmp_path, text, "bad.toml")))
    lines = result.stderr.decode().splitlines()
    assert result.returncode == 2
    assert lines[0] == error
    assert lines[1].startswith(hint)
    assert len(lines) == 2 and result.stdout == b""


def test_a_missing_file_is_a_usage_error(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["analyze", str(SAMPLES / "clean_call.pcap"), "--config",
                                      str(tmp_path / "nope.toml")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_validate_accepts_every_default_and_refuses_unknown_keys() -> None:
    validate(DEFAULTS)
    with pytest.raises(UsageError, match="unknown key 'nat.keepalive'"):
        validate({"nat": {"keepalive": 20}})


def test_rules_shows_the_thresholds_it_reads(tmp_path) -> None:
    assert settings_read_by(next(r for r in sipdiag.checks.all_rules() if r.id == "media.packet-loss").func) == (
        "media.delta_r.critical", "media.delta_r.major", "media.delta_r.minor", "media.loss_pct.critical",
        "media.loss_pct.major", "media.loss_pct.minor")
    config = write(tmp_path, "[media.loss_pct]\nmajor = 4\n[media.delta_r]\ncritical = 25\n")
    out = CliRunner().invoke(cli, ["rules", "--config", str(config)]).output.splitlines()
    at = next(i for i, line in enumerate(out) if line.startswith("media.packet-loss "))
    assert out[at + 1:at + 7] == ["    media.delta_r.critical = 25  (default 20)", "    media.delta_r.major = 10",
                                  "    media.delta_r.minor = 5", "    media.loss_pct.critical = 5",
                                  "    media.loss_pct.major = 4  (default 3)", "    media.loss_pct.minor = 1"]


def test_the_defaults_file_loads_back_to_the_defaults(tmp_path) -> None:
    assert load_config(write(tmp_path, defaults_toml())) == DEFAULTS


# ------------------------------------------------------------------ RFC 3261 timers (sip.t1_default_ms, sip.t2_ms)

def test_t1_and_t2_set_timer_f_of_an_unanswered_register(tmp_path) -> None:
    """REGISTER sent 11 times over 31.5 s, unanswered (Timer E up to Timer F with T1 = 0.5 s, T2 = 4 s): lost by
    default. With T2 = 2 s the schedule holds 18 sends within 32 s: 31.5 s and 11 sends are then a REGISTER still
    pending, not lost. T1 = 1 s configured (RFC 3261 §17.1.1.1 allows it) does not change that: the REGISTER's
    retransmissions show the phone's own T1, 0.5 s, and RULES.md §0.5 expects its give-up at 64*T1_est = 32 s. The
    configured T1 is the default of a REGISTER that shows none: sent once and unanswered for the 40 s the capture
    runs on, it is lost with T1 = 0.5 s (Timer F at 32 s), pending with T1 = 1 s (64 s). Before, both keys were
    ignored."""
    register = callcapture.unanswered_register(tmp_path / "reg.pcap")

    def lost(settings=None, capture=register) -> list[tuple[int, float | None]]:
        return [(f.evidence["sends"], f.evidence["t1_estimate_s"])
                for f in sipdiag.analyze(capture, settings=settings).findings if f.rule == "reg.no-response"]

    assert lost() == [(11, 0.5)]
    assert lost(load_config(write(tmp_path, "[sip]\nt1_default_ms = 1000\n"))) == [(11, 0.5)]
    assert lost(load_config(write(tmp_path, "[sip]\nt2_ms = 2000\n", "t2.toml"))) == []
    assert lost(load_config(write(tmp_path, "[sip]\nt1_default_ms = 500\n", "same.toml"))) == [(11, 0.5)]
    once = callcapture.unanswered_register(tmp_path / "once.pcap", offsets=(0,),
                                           extra=((40 * 10**9, callcapture.frame("\r\n\r\n", callcapture.UA,
                                                                                  callcapture.PBX)),))
    assert lost(capture=once) == [(1, None)]
    assert lost(load_config(write(tmp_path, "[sip]\nt1_default_ms = 1000\n")), once) == []


def test_t1_and_the_tolerance_set_the_ack_timeout(tmp_path) -> None:
    """A UAS whose 200 OK retransmissions show the configured T1 (RULES.md T1_est, sipdiag.siptimers: gaps within
    25 % of it are that T1 seen through jitter) is judged by the configured one. ack_dropped.pcap:
    the callee's BYE 32.0 s after its first 2xx, the ACK timeout of T1 = 0.5 s (64*T1, RFC 3261 §13.3.1.4). A UAS
    at T1 = 0.4 s configured as such: 25.6 s, and its BYE at 32 s is 6.4 s off, beyond the default tolerance (2 s,
    plus 4) but within 3 s (plus 4); the title says 25.6 s. With T1 = 1 s configured, the lab UAS's gaps (0.504 s)
    show its own T1: the timeout is still 32 s, not 64 s."""
    def ack_timeout(capture, text: str | None, name: str = "t.toml") -> list:
        settings = load_config(write(tmp_path, text, name)) if text else None
        return [f for f in sipdiag.analyze(capture, settings=settings).findings if f.rule == "call.ack-timeout-32s"]

    (f,) = ack_timeout(SAMPLES / "ack_dropped.pcap", None)
    assert f.evidence["bye_after_s"] == 32.0 and "timeout_s" not in f.evidence
    assert f.evidence["t1_estimate_s"] == 0.504  # the lab's 2xx gaps: the default T1 through jitter
    assert "(64*T1 = 32 s, RFC 3261 §13.3.1.4)" in f.engineer_text["en"]
    assert "(64*T1 = 32 с, RFC 3261 §13.3.1.4)" in f.engineer_text["ru"]
    (f,) = ack_timeout(SAMPLES / "ack_dropped.pcap", "[sip]\nt1_default_ms = 1000\n")
    assert "(64*T1 = 32.3 s, T1 = 0.504 s by the 2xx retransmissions, RFC 3261 §13.3.1.4)" in f.engineer_text["en"]
    # a UAS at T1 = 0.4 s whose BYE comes 32 s after its first 200 OK
    bye_32 = callcapture.ack_never_arrives(tmp_path / "t1-0.4.pcap", 0.4, bye_after=32.0)
    assert ack_timeout(bye_32, "[sip]\nt1_default_ms = 400\n", "t1.toml") == []
    (f,) = ack_timeout(bye_32, "[sip]\nt1_default_ms = 400\nack_timeout_tolerance_s = 3\n", "both.toml")
    assert (f.evidence["bye_after_s"], f.evidence["t1_estimate_s"]) == (32.0, 0.4)
    assert "(64*T1 = 25.6 s, RFC 3261 §13.3.1.4)" in f.engineer_text["en"]
    assert f.title == "Answered call torn down about 25.6 s after answer: the ACK never arrived"


def test_the_timers_are_listed_for_the_rules_that_read_them() -> None:
    reads = {r.id: settings_read_by(r.func) for r in sipdiag.checks.all_rules()}
    assert reads["reg.no-response"] == ("sip.t1_default_ms", "sip.t2_ms")
    assert reads["call.reinvite-failed"] == ("sip.t1_default_ms", "sip.t2_ms")
    # T2 caps the T1 a retransmission gap is taken for (sipdiag.siptimers)
    assert reads["call.ack-timeout-32s"] == ("sip.ack_timeout_tolerance_s", "sip.t1_default_ms", "sip.t2_ms")
    # read by a helper called inside a comprehension (a code object of its own): found too
    assert reads["call.in-dialog-request-misrouted"] == ("sip.t1_default_ms", "sip.t2_ms")


def test_a_zero_timer_is_a_usage_error(tmp_path) -> None:
    with pytest.raises(UsageError, match=r"'sip.t1_default_ms' must be above 0"):
        load_config(write(tmp_path, "[sip]\nt1_default_ms = 0\n"))
    with pytest.raises(UsageError, match=r"'sip.t2_ms' must be above 0"):
        load_config(write(tmp_path, "[sip]\nt2_ms = 0.0\n"))


# ------------------------------------------------------------------ keys documented in RULES.md §5 no rule reads

def test_every_key_is_read_by_a_rule_or_said_to_have_no_effect() -> None:
    """A key a user sets must change something, or the configuration must say that it does not: before, eight
    keys (the timers among them) were silently ignored."""
    read = set()
    for r in sipdiag.checks.all_rules():
        read |= set(settings_read_by(r.func))
    assert set(NOT_READ).isdisjoint(read)  # a key a rule has started to read leaves NOT_READ
    assert set(leaf_paths()) - read == set(NOT_READ)


def test_a_key_with_no_effect_is_a_warning_not_silence(tmp_path, monkeypatch) -> None:
    # media.delta_r.major and .critical had no effect until media.packet-loss graded loss by them: no warning now.
    config = write(tmp_path, "[media]\ndelta_r = { major = 12, critical = 25 }\n")
    result = run("analyze", str(SAMPLES / "clean_call.pcap"), "--config", str(config))
    assert (result.returncode, result.stderr) == (0, b"")
    # A key no rule reads (NOT_READ, empty today) still warns: pretend media.delta_r.critical were one.
    monkeypatch.setitem(NOT_READ, "media.delta_r.critical", "no rule reads it in this test")
    warned: list[str] = []
    load_config(config, warn=warned.append)
    assert warned == ["'media.delta_r.critical' has no effect: no rule reads it in this test"]
    # in Python, a UserWarning; a value equal to the default (a copied defaults file) changes nothing and says nothing
    with pytest.warns(UserWarning) as caught:
        load_config(config)
    assert [str(w.message).split(":")[0] for w in caught] == ["'media.delta_r.critical' has no effect"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_config(write(tmp_path, defaults_toml(), "defaults.toml"))
    assert ("| `media.delta_r.critical` | 20 | none yet | E-model R points the RTP loss of a stream costs "
            "(media.packet-loss), per severity; minor is also the network's cost below which a low score is the "
            "codec's (media.low-mos). **No effect yet**: no rule reads it in this test |") in rulesdoc.reference()
