"""Rule thresholds (RULES.md §5): the documented defaults, and the values of the run in progress.

Rules read a threshold with `setting("media.loss_pct.major")`; `run_checks(analysis, settings=...)` makes a
user's overrides (from `--config sipdiag.toml`) the active values for that run only, so two analyses in one
process (batch, tests) never see each other's configuration.

An analysis keeps the tree its rules ran under (`Analysis.settings`). What is computed from it after the run (the
case summary and triage, the customer's reply, a batch row) reads the thresholds through `analysed_under` and
`memoised`, which make that tree active outside a run: the sign-ins a reply counts are the ones the findings
left to the customer, not those the default thresholds would.
"""

from __future__ import annotations

import contextvars
import copy
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

# RULES.md §5, in TOML's shape ([sip], [nat], [media], [qos], [security]). Why each value: the catalog's rule
# entries (RFC 3261 Table 4 timers, RFC 4787 mapping lifetimes, VoIPmonitor conventions, ITU-T G.107/G.114).
DEFAULTS: dict[str, dict[str, Any]] = {
    "sip": {
        "t1_default_ms": 500,
        "t2_ms": 4000,
        "ack_timeout_tolerance_s": 2,
        "large_udp_sip_bytes": 1300,
        "auth_loop_attempts": 3,
        "auth_loop_window_s": 60,
        # Not in §5: RULES.md reg.auth-loop's second trigger, "no 2xx within 5 min of registration attempts".
        "auth_loop_no_success_s": 300,
    },
    "nat": {
        "recommended_keepalive_s": 20,
        "rfc4787_min_mapping_s": 120,
    },
    "media": {
        "min_media_for_verdict_s": 10,
        "oneway_min_ratio": 0.10,
        "oneway_report_s": 5,
        "onewaytimeout_s": 15,
        # RULES.md media.no-rtp: "no RTP in either direction >= 5 s after ACK (or for the whole call)".
        "no_rtp_report_s": 5,
        "rtptimeout_s": 30,
        # RULES.md §5: "loss_pct ... overridden by codec-aware ΔR rule". media.packet-loss grades a stream's loss by
        # the E-model R points it costs (delta_r) wherever the E-model knows the codec; loss_pct, set in a file or
        # not, grades only the loss of a codec it has no values for (no Ie/Bpl to compute a ΔR with). It is not
        # applied on top of delta_r: 1/3/5 % are RULES.md's fixed equivalents, which would undo the codec-awareness
        # (1 % on G.711 with concealment costs 3.6 R points, on G.726 16.6).
        "loss_pct": {"minor": 1, "major": 3, "critical": 5},
        "delta_r": {"minor": 5, "major": 10, "critical": 20},
        "jitter_mean_ms": {"minor": 30, "major": 50},
        "jitter_max_ms": {"minor": 100},
        "late_discard_pct": {"minor": 1, "major": 3},
        "burst_run_packets": 3,
        "max_gap_ms": 200,
        # Not in RULES.md §5 (media.burst-loss gives no major level): a single dropout of a second removes whole
        # words (speech runs at 4-5 syllables a second), far beyond any concealment; that is a major finding.
        "burst_major_gap_ms": 1000,
        "mouth_to_ear_ms": {"minor": 150, "major": 250, "critical": 400},
        "r_factor": {"minor": 70, "major": 60, "critical": 50},
        "reorder_pct": 1,
        "drift_ppm": 500,
        "rtcp_missing_s": 15,
    },
    "qos": {
        "rtp_dscp": 46,
        "sip_dscp_allowed": [24, 26, 40],
        "bufferbloat_rtt_rise_ms": 100,
    },
    "security": {
        "scan_distinct_users_60s": 20,
        "scan_distinct_dst_ips_60s": 10,
        "bruteforce_failures_per_min": 10,
        # RULES.md sec.bruteforce-auth's trigger: "or failures across >= 5 usernames" (not in its §5 list).
        "bruteforce_distinct_users": 5,
        # Not in RULES.md §5: when failures that reach those triggers are a device's steady retries, its FP
        # pitfall ("a misconfigured legitimate device retrying wrong credentials ... steady cadence; NATed
        # offices"): every refused AOR refused at least this often, its retries at least this many seconds apart
        # at the median and none further than this fraction from the median (a retry timer, not a tool's burst).
        # reg.auth-loop reads the same pace (sipdiag.checks.regretry) for a loop that neither of its RULES.md
        # triggers shows in a short capture, with sip.auth_loop_attempts as its count.
        "steady_retry_min_failures": 3,
        "steady_retry_min_interval_s": 5,
        "steady_retry_spread": 0.25,
        "fraud_distinct_intl_dest_10min": 5,
        # Not in RULES.md §5: which `+` numbers are at home. E.164 numbers of the operator's own country are not
        # international; without this list only an attacker's `+` calls count as fraud (sec.toll-fraud-attempt).
        "home_country_codes": [],
    },
}

# DEFAULTS as loaded, what `overrides` measures a tree against: a copy, so that recording the settings of an
# analysis reads nothing of the live table, which nothing made after the rules may read for a threshold
# (tests/cases/test_case_settings.py replaces it with one that fails when read).
_DOCUMENTED: dict[str, dict[str, Any]] = copy.deepcopy(DEFAULTS)

# The thresholds of the block in progress (`active`: a rule run, or what is computed from an analysis after it);
# None outside any block, where `setting()` reads the defaults and `analysed_under` the analysis' own.
_active: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar("sipdiag_settings", default=None)


def setting(path: str) -> Any:
    """The active value of a dotted threshold path, e.g. `setting("media.loss_pct.major")`.

    An unknown path is a programming error (KeyError), not a user error: user files are validated on load.
    """
    values = _active.get()
    node: Any = DEFAULTS if values is None else values
    for part in path.split("."):
        node = node[part]
    return node


def merged(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """DEFAULTS with `overrides` laid over them, nested tables merged key by key."""
    out = copy.deepcopy(DEFAULTS)

    def lay(dst: dict[str, Any], src: Mapping[str, Any]) -> None:
        for k, v in src.items():
            if isinstance(v, Mapping) and isinstance(dst.get(k), dict):
                lay(dst[k], v)
            else:
                dst[k] = v

    lay(out, overrides)
    return out


def overrides(tree: Mapping[str, Any] | None) -> dict[str, Any]:
    """The values of a full settings tree that differ from DEFAULTS, nested as a configuration file writes them;
    {} for the defaults (and for None). `merged(overrides(tree)) == tree`: what a case filing keeps of the settings
    it was analysed under, small and readable, and still right when a later version adds a key with its default."""

    def diff(node: Mapping[str, Any], default: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.items():
            base = default.get(key)
            if isinstance(value, Mapping) and isinstance(base, Mapping):
                if inner := diff(value, base):
                    out[key] = inner
            elif key not in default or value != base:
                out[key] = copy.deepcopy(value)
        return out

    return diff(tree, _DOCUMENTED) if tree is not None else {}


def memoised(analysis: Any, name: str, compute: Callable[[Any], Any]) -> Any:
    """compute(analysis), once per analysis and per settings tree: several rules (and the summary and reply built
    after them) ask for the same table (the brute-force and scan sources), which depends on thresholds. Kept with
    the tree it was computed under, so that a second run with other settings on the same analysis recomputes it
    instead of reading the first run's. A stand-in analysis without a memo (tests) computes it every time.
    Outside a run it is computed under the analysis' own tree (`analysed_under`): the reply asking for the
    brute-force sources after `analyze(path, settings=...)` gets the ones the rules saw."""
    with analysed_under(analysis):
        memo = getattr(analysis, "_memo", None)
        if memo is None:
            return compute(analysis)
        current = _active.get()
        kept = memo.get(name)
        if kept is not None and kept[0] is current:
            return kept[1]
        value = compute(analysis)
        memo[name] = (current, value)
        return value


@contextmanager
def active(values: Mapping[str, Any] | None) -> Iterator[None]:
    """Make `values` (a full settings tree, e.g. from `merged`; None: the defaults) the active thresholds inside
    the block."""
    token = _active.set(values if values is not None else DEFAULTS)
    try:
        yield
    finally:
        _active.reset(token)


@contextmanager
def analysed_under(analysis: Any) -> Iterator[None]:
    """Make the thresholds `analysis` was analysed under (`Analysis.settings`; the defaults for one made without,
    or a stand-in without the field) active inside the block, unless a block is active already: inside a rule run
    the run's own values rule (`run_checks(analysis, settings=...)` may try other values on an analysis).

    For what is computed from an analysis after its rules (the case summary, the reply): outside a run the
    thresholds would otherwise be the defaults, and a `--config` that lowers the brute-force trigger would have
    the findings call a source an attacker while the reply counted its REGISTERs as the customer's sign-ins."""
    if _active.get() is not None:
        yield
        return
    with active(getattr(analysis, "settings", None)):
        yield
