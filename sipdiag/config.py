"""`--config sipdiag.toml`: a user's rule thresholds, checked against the documented defaults.

The file has the shape of RULES.md §5 in TOML (generated with every default in docs/config-defaults.toml):

    [media]
    delta_r = { minor = 4, major = 8, critical = 15 }   # E-model R points the RTP loss may cost

    [sip]
    ack_timeout_tolerance_s = 3

Only the keys given change; the rest keep their defaults (`settings.merged`). A key that does not exist or a value
of the wrong type is a usage error naming the key, so a typo never silently leaves a default in force.

In Python: ``sipdiag.analyze(path, settings=load_config("sipdiag.toml"))``.
"""

from __future__ import annotations

import inspect
import math
import os
import re
import stat
import tomllib
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .checks.settings import DEFAULTS, merged
from .errors import UsageError

DOC_HINT = "docs/config-defaults.toml lists every key with its default"

# What each threshold means, for the generated defaults file and rules reference (RULES.md §5 and the rules that
# read them). A key added to DEFAULTS without a line here is still documented, with its value only.
DESCRIPTIONS: dict[str, str] = {
    "sip.t1_default_ms": "RFC 3261 T1 (§17.1.1.1 allows a larger one): the rules and the call outcomes expect "
                         "Timer B/F and the 2xx retransmissions to give up at 64*T1 and requests to be retransmitted "
                         "from T1 on; a transaction whose first retransmission gap shows another T1 (by more than "
                         "25 %) is judged by that one (RULES.md T1_est)",
    "sip.t2_ms": "RFC 3261 T2: the cap of non-INVITE and 2xx retransmission intervals, and of the T1 a retransmission "
                 "gap is taken for",
    "sip.ack_timeout_tolerance_s": "how far from 64*T1 a teardown may be and still count as the ACK timeout (4 s "
                                   "more are always allowed)",
    "sip.large_udp_sip_bytes": "SIP over UDP above this size risks fragmentation (RFC 3261 §18.1.1)",
    "sip.auth_loop_attempts": "challenges in a row that make an authentication loop",
    "sip.auth_loop_window_s": "time window for sip.auth_loop_attempts",
    "nat.recommended_keepalive_s": "keep-alive interval to recommend behind NAT",
    "nat.rfc4787_min_mapping_s": "shortest UDP mapping lifetime RFC 4787 REQ-5 allows (below it: router fault)",
    "media.min_media_for_verdict_s": "shortest media that supports a quality verdict",
    "media.oneway_min_ratio": "share of its expected packets (duration / ptime) below which a direction counts as "
                              "absent for one-way audio",
    "media.oneway_report_s": "one-way audio at least this long is a problem (minor); shorter is information of low "
                             "confidence",
    "media.onewaytimeout_s": "one-way audio this long is major; silence in one direction this long counts as lost "
                             "(VoIPmonitor default)",
    "media.no_rtp_report_s": "an answered call still up when the capture ends, with no RTP in fewer seconds than "
                             "this after its answer, is information of low confidence (too short to tell)",
    "media.rtptimeout_s": "silence in both directions before a call counts as hung (VoIPmonitor default)",
    "media.loss_pct": "RTP loss per stream, % (RFC 3550 A.3), per severity, for codecs the E-model has no values "
                      "for (RULES.md: overridden by the codec-aware media.delta_r rule)",
    "media.delta_r": "E-model R points the RTP loss of a stream costs (media.packet-loss), per severity; minor is "
                     "also the network's cost below which a low score is the codec's (media.low-mos)",
    "media.jitter_mean_ms": "mean RFC 3550 jitter, ms, per severity",
    "media.jitter_max_ms": "maximum RFC 3550 jitter, ms, per severity",
    "media.late_discard_pct": "packets late for the simulated jitter buffer, %, per severity",
    "media.burst_run_packets": "consecutive lost packets that make a burst",
    "media.max_gap_ms": "arrival gap that counts as an audio hole",
    "media.mouth_to_ear_ms": "estimated mouth-to-ear delay, ms, per severity (ITU-T G.114)",
    "media.r_factor": "E-model R below which quality is reported, per severity (ITU-T G.107)",
    "media.reorder_pct": "reordered packets, %",
    "media.drift_ppm": "RTP clock drift against the capture clock, ppm",
    "media.rtcp_missing_s": "media time without RTCP before RTCP counts as missing",
    "qos.rtp_dscp": "DSCP expected on RTP (46 = EF)",
    "qos.sip_dscp_allowed": "DSCP values accepted on SIP",
    "qos.bufferbloat_rtt_rise_ms": "RTT rise under load that suggests bufferbloat",
    "security.scan_distinct_users_60s": "user names probed from one source in 60 s that make a scan",
    "security.scan_distinct_dst_ips_60s": "addresses probed from one source in 60 s that make a scan",
    "security.bruteforce_failures_per_min": "failed authentications a minute from one source that make brute force",
    "security.bruteforce_distinct_users": "user names whose authentication failed from one source that make brute "
                                          "force (password guessing across extensions), at any rate",
    "security.steady_retry_min_failures": "refusals of every AOR from one device, at a steady pace, that make a "
                                          "source's failed authentications a device retrying, not brute force",
    "security.steady_retry_min_interval_s": "median seconds between one AOR's refusals below which its retries are "
                                            "too fast for a device's retry timer",
    "security.steady_retry_spread": "fraction of the median by which an interval between one AOR's refusals may "
                                    "differ from it and still be a device's steady retries",
    "security.fraud_distinct_intl_dest_10min": "distinct international destinations in 10 min that suggest fraud",
    "security.home_country_codes": "E.164 country codes at home, whose + numbers are not international: [44] or "
                                   "[\"+44\"]",
}


# Keys of RULES.md §5 that no rule reads yet, with why: a file may set them (RULES.md documents them, and a file
# written for a later version stays valid), but the value changes nothing, which the generated documentation says
# and `sipdiag analyze --config` warns about (`ineffective`). Every other key is read by a rule (tests/integration/
# test_config.py checks both ways).
NOT_READ: dict[str, str] = {}


def ineffective(overrides: Mapping[str, Any]) -> list[str]:
    """One line for each key of `overrides` (a configuration file's own keys) that no rule reads (NOT_READ) and that
    the file sets to another value than its default (docs/config-defaults.toml, copied whole, says nothing new)."""
    given = set(leaf_paths(overrides))
    return [f"'{path}' has no effect: {why}" for path, why in NOT_READ.items()
            if path in given and lookup(path, overrides) != lookup(path)]


def load_config(path: str | Path, warn: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The full settings tree (defaults with the file's values laid over them) for `run_checks`/`analyze`.

    Raises UsageError (exit code 2) naming the file and the key for a file that cannot be read, is not TOML, or has
    an unknown key or a value of the wrong type. A key the file sets that no rule reads (NOT_READ) is no error:
    `warn` is called with a line about it (the CLI prints "Warning: ..."), else a UserWarning is issued."""
    name = Path(path).name
    problem = settings_file_problem(path)
    if problem:
        raise UsageError(f"cannot read the configuration {name}: {problem}", hint="Give --config the file.")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read the configuration {name}: {getattr(e, 'strerror', None) or e}",
                         hint="Check the path given to --config.") from e
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{name} is not valid TOML: {e}", hint=f"Fix the line named; {DOC_HINT}.") from e
    except RecursionError:  # tables or arrays nested hundreds deep: tomllib recurses once per level
        raise UsageError(f"{name} is not a configuration: its tables or arrays are nested too deeply",
                         hint=DOC_HINT) from None
    validate(data, source=name)
    for line in ineffective(data):
        if warn is not None:
            warn(line)
        else:
            warnings.warn(line, UserWarning, stacklevel=2)
    return merged(data)


def from_overrides(data: Any, *, source: str) -> dict[str, Any]:
    """The full settings tree of overrides kept elsewhere than in a file (a case filing's, sipdiag.cases): checked
    as a configuration file is, since a store written by another version may hold a key this one does not know."""
    if not isinstance(data, Mapping):
        raise UsageError(f"{source}: the settings are not a table", hint=DOC_HINT)
    validate(data, source=source)
    return merged(data)


def describe(overrides: Mapping[str, Any]) -> str:
    """Overrides (sipdiag.checks.settings.overrides) in one line as a configuration file sets them,
    `security.bruteforce_distinct_users = 4, media.loss_pct.minor = 2`; "the defaults" for none."""
    if not overrides:
        return "the defaults"
    return ", ".join(f"{path} = {_toml(lookup(path, overrides))}" for path in leaf_paths(overrides))


MAX_SETTINGS_BYTES = 10 << 20  # a configuration or suite file is a few KB; /dev/zero or a capture is not one


def settings_file_problem(path: str | Path) -> str | None:
    """Why `path` cannot be a configuration or regression-suite file, found before it is opened (a FIFO blocked
    for ever waiting for a writer, /dev/zero ran out of memory); None where reading it will say what is wrong."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if stat.S_ISDIR(st.st_mode):
        return None
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a pipe or a device)"
    if st.st_size > MAX_SETTINGS_BYTES:
        return f"{st.st_size} bytes is too large for it (a few KB are usual)"
    return None


def validate(overrides: Mapping[str, Any], *, source: str = "configuration") -> None:
    """Check `overrides` against DEFAULTS: known keys only, tables where tables are, numbers where numbers are, and
    severity levels that keep their order once laid over the defaults."""
    _check(overrides, DEFAULTS, (), source)
    _check_levels(merged(overrides), DEFAULTS, (), source)


LEVELS = ("minor", "major", "critical")


def _check_levels(tree: Mapping[str, Any], defaults: Mapping[str, Any], path: tuple[str, ...], source: str) -> None:
    """A table of severity levels (media.loss_pct = {minor, major, critical}) must not cross: with minor = 4 and the
    default major = 3, 3.5 % loss would be major but not minor, and the rule, which takes the worst level reached,
    would call 3 % major while the engineer expects nothing below 4. The direction is the defaults' own (a lower
    R factor is worse)."""
    for key, default in defaults.items():
        if not isinstance(default, Mapping):
            continue
        dotted = ".".join(path + (key,))
        levels = [lv for lv in LEVELS if lv in default]
        if not levels or set(default) - set(LEVELS):
            _check_levels(tree[key], default, path + (key,), source)
            continue
        falling = default[levels[0]] > default[levels[-1]]
        for lower, higher in zip(levels, levels[1:]):
            a, b = tree[key][lower], tree[key][higher]
            if (a < b) if falling else (a > b):
                order = " >= " if falling else " <= "
                raise UsageError(f"{source}: '{dotted}': {lower} ({_toml(a)}) is "
                                 f"{'below' if falling else 'above'} {higher} ({_toml(b)})",
                                 hint=f"The levels must keep their order, {order.join(levels)} (the defaults are "
                                      f"{', '.join(_toml(default[lv]) for lv in levels)}); set them together.")


def _check(given: Mapping[str, Any], defaults: Mapping[str, Any], path: tuple[str, ...], source: str) -> None:
    for key, value in given.items():
        dotted = ".".join(path + (key,))
        if key not in defaults:
            where = f"[{'.'.join(path)}]" if path else "the top level"
            known = ", ".join(sorted(defaults))
            close = [k for k in defaults if _similar(k, key)]
            raise UsageError(f"{source}: unknown key '{dotted}'",
                             hint=(f"Did you mean '{'.'.join(path + (close[0],))}'? " if close else "")
                             + f"Known keys in {where}: {known} ({DOC_HINT}).")
        default = defaults[key]
        if isinstance(default, Mapping):
            if not isinstance(value, Mapping):
                raise UsageError(f"{source}: '{dotted}' must be a table, not {_kind(value)}",
                                 hint=f"Write it as {dotted.rsplit('.', 1)[-1]} = {_toml(default)} "
                                      f"or under [{dotted}].")
            _check(value, default, path + (key,), source)
        elif dotted in COUNTRY_CODE_LISTS:
            bad = [v for v in value if not _country_code(v)] if isinstance(value, list) else None
            if bad is None or bad:
                what = f"not {_kind(value)}" if bad is None else f"{_toml(bad[0])} is not one"
                raise UsageError(f"{source}: '{dotted}' must be a list of E.164 country codes (1 to 3 digits), {what}",
                                 hint=f"Write it as {dotted.rsplit('.', 1)[-1]} = [44, 353] or [\"+44\", \"+353\"].")
        elif isinstance(default, list):
            if not isinstance(value, list) or not all(_is_number(v) and _finite(v) for v in value):
                raise UsageError(f"{source}: '{dotted}' must be a list of numbers, not {_kind(value)}",
                                 hint=f"The default is {dotted} = {_toml(default)}.")
        elif _is_number(default):
            if not _is_number(value):
                raise UsageError(f"{source}: '{dotted}' must be a number, not {_kind(value)}",
                                 hint=f"The default is {dotted} = {_toml(default)}.")
            if not _finite(value):  # TOML has nan and inf: no threshold compares sensibly with them
                raise UsageError(f"{source}: '{dotted}' must be a finite number, not {_shown(value)}",
                                 hint=f"The default is {dotted} = {_toml(default)}.")
            if value < 0:
                raise UsageError(f"{source}: '{dotted}' must not be negative ({value})",
                                 hint=f"The default is {dotted} = {_toml(default)}.")
            if value == 0 and dotted in POSITIVE:
                raise UsageError(f"{source}: '{dotted}' must be above 0",
                                 hint=f"The default is {dotted} = {_toml(default)}.")
        elif type(value) is not type(default):
            raise UsageError(f"{source}: '{dotted}' must be {_kind(default)}, not {_kind(value)}",
                             hint=f"The default is {dotted} = {_toml(default)}.")


# Timers that retransmission schedules double from (sipdiag.checks.timers): zero would be no schedule at all.
POSITIVE = {"sip.t1_default_ms", "sip.t2_ms"}

# Lists of ITU-T E.164 country codes (1 to 3 digits, never starting with 0): written as numbers or, as an engineer
# writes them, "+44".
COUNTRY_CODE_LISTS = {"security.home_country_codes"}
_COUNTRY_CODE = re.compile(r"\+?[1-9][0-9]{0,2}")


def _country_code(v: Any) -> bool:
    if isinstance(v, str):
        return _COUNTRY_CODE.fullmatch(v) is not None
    return type(v) is int and 1 <= v <= 999


MAX_INTEGER = 2**53  # beyond it an integer is not exact as the float the thresholds are compared with


def _finite(v: int | float) -> bool:
    """nan and inf are not thresholds; nor is an integer too large for a float (TOML allows 400 digits, and
    math.isfinite raised OverflowError on it)."""
    return math.isfinite(v) if isinstance(v, float) else -MAX_INTEGER <= v <= MAX_INTEGER


def _shown(v: int | float) -> str:
    return f"an integer of {v.bit_length()} bits" if isinstance(v, int) else str(v)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "true/false"
    if _is_number(v):
        return "a number"
    if isinstance(v, str):
        return f"the text {v[:40]!r}"
    if isinstance(v, list):
        return "a list" + (" with other values than numbers" if v else "")
    if isinstance(v, Mapping):
        return "a table"
    return type(v).__name__


def _similar(a: str, b: str) -> bool:
    """A likely typo: same key but for case, one letter, or one being the start of the other."""
    a, b = a.lower(), b.lower()
    if a == b or a.startswith(b) or b.startswith(a):
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    return sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b)) <= 1


def _toml(value: Any) -> str:
    """A value as TOML writes it (the subset DEFAULTS uses: numbers, lists of numbers, tables of numbers, text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def defaults_toml() -> str:
    """DEFAULTS as a commented TOML file: what `--config` accepts, every key at its default
    (docs/config-defaults.toml)."""
    lines = ["# sipdiag rule thresholds: every key `sipdiag analyze --config FILE` accepts, at its default value.",
             "# Generated from sipdiag/checks/settings.py by `python -m sipdiag.tools.rulesdoc`; do not edit.",
             "# A configuration file needs only the keys it changes; RULES.md §5 explains the values.",
             "# Severity levels keep their order (minor <= major <= critical; for r_factor the reverse): raising",
             "# one level past the next needs that one raised too."]
    for section, table in DEFAULTS.items():
        lines += ["", f"[{section}]"]
        for key, value in table.items():
            note = DESCRIPTIONS.get(f"{section}.{key}")
            if note:
                lines.append(f"# {note}")
            for path in (p for p in NOT_READ if p == f"{section}.{key}" or p.startswith(f"{section}.{key}.")):
                lines.append(f"# {path}: no effect yet ({NOT_READ[path]})")
            lines.append(f"{key} = {_toml(value)}")
    return "\n".join(lines) + "\n"


def leaf_paths(tree: Mapping[str, Any] = DEFAULTS, prefix: str = "") -> list[str]:
    """Every dotted threshold path of a settings tree, e.g. `media.loss_pct.minor`."""
    out: list[str] = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        out += leaf_paths(value, path + ".") if isinstance(value, Mapping) else [path]
    return out


def lookup(path: str, tree: Mapping[str, Any] = DEFAULTS) -> Any:
    node: Any = tree
    for part in path.split("."):
        node = node[part]
    return node


_SETTING_CALL = re.compile(r"""\bsetting\(\s*["']([A-Za-z0-9_.]+)["']""")


def _reads_thresholds(module: str) -> bool:
    """A module whose functions may read a rule's thresholds: the rules and their helpers (a helper shared by two
    rules, as regretry's steady pace, counts for both), not the settings module (its examples are no reads)."""
    return module.startswith("sipdiag.checks.") and module != "sipdiag.checks.settings"


def _names(code: Any) -> set[str]:
    """The global names a function's code uses, with those of the code nested in it: a helper called inside a
    comprehension, generator expression or lambda (a code object of its own before Python 3.12) reads its
    thresholds for the rule too."""
    if not inspect.iscode(code):
        return set()
    out = set(code.co_names)
    for const in code.co_consts:
        out |= _names(const)
    return out


def settings_read_by(func: Callable) -> tuple[str, ...]:
    """The threshold paths a rule reads with `setting("...")`, found in its source and in the check functions it
    calls (helpers of its module or of another rules module it imports, and theirs); tables are expanded to their
    leaves. Sorted."""
    seen: set[Callable] = set()
    found: set[str] = set()

    def visit(f: Callable) -> None:
        if f in seen:
            return
        seen.add(f)
        try:
            found.update(_SETTING_CALL.findall(inspect.getsource(f)))
        except (OSError, TypeError):
            return
        for name in _names(getattr(f, "__code__", None)):
            helper = getattr(f, "__globals__", {}).get(name)
            if inspect.isfunction(helper) and _reads_thresholds(helper.__module__):
                visit(helper)

    visit(func)
    leaves = set(leaf_paths())
    out: set[str] = set()
    for path in found:
        expanded = {p for p in leaves if p.startswith(path + ".")}
        out |= expanded or {path}
    return tuple(sorted(out))
