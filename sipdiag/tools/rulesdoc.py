"""Generate the rules reference and the defaults file from the code (STYLE.md G14: docs generated and tested).

    python -m sipdiag.tools.rulesdoc            # rewrite docs/RULES-REFERENCE.md and docs/config-defaults.toml
    python -m sipdiag.tools.rulesdoc --check    # exit 1 naming the files that are out of step

Everything comes from the registry (id, category, severity, owner, title, docstring sections), the thresholds each
rule reads (`setting()` calls in its source), the cause table (sipdiag.checks.causes) and the device topics
(sipdiag.devices). The output is deterministic: rules sorted by category then id, no dates, no paths, so two
branches that add rules regenerate to the same file once merged.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..checks import CATEGORIES, REQUIRED_SECTIONS, Rule, all_rules
from ..checks.causes import CAUSES, FOLDED, TIERS, candidate_position
from ..config import DESCRIPTIONS, NOT_READ, defaults_toml, leaf_paths, lookup, settings_read_by
from ..devices import topics_for

REFERENCE = "RULES-REFERENCE.md"
DEFAULTS_FILE = "config-defaults.toml"
COMMAND = "python -m sipdiag.tools.rulesdoc"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _value(v: object) -> str:
    return str(v).replace("'", "")


def explained_by(rule_id: str) -> tuple[str, ...]:
    return CAUSES.get(rule_id, ())


def explains(rule_id: str) -> list[str]:
    """The symptoms a rule may explain (RULES.md §2), in table order."""
    return [symptom for symptom, causes in CAUSES.items() if candidate_position(rule_id, causes) is not None]


def reference(rules: list[Rule] | None = None) -> str:
    """The Markdown of docs/RULES-REFERENCE.md."""
    rules = sorted(rules if rules is not None else all_rules(),
                   key=lambda r: (CATEGORIES.index(r.category) if r.category in CATEGORIES else 99, r.id))
    reads = {r.id: settings_read_by(r.func) for r in rules}
    out = [
        "# sipdiag rules reference",
        "",
        f"Generated from the rule metadata by `{COMMAND}`; do not edit it by hand: change the rule (its `@check`",
        "metadata and docstring) and regenerate. `sipdiag rules explain ID` prints the same sections.",
        "",
        f"{len(rules)} rules. Severities are the defaults; a rule may raise or lower one finding's severity from its",
        "evidence. Owners: `customer` (their router, phone, LAN), `first-line` (account, provisioning, instructions),",
        "`engineering` (operator network, SBC, PBX), `security`. Thresholds are read from the run's configuration",
        f"(`sipdiag analyze --config FILE`; every key and default in [{DEFAULTS_FILE}]({DEFAULTS_FILE})).",
        "",
        "## Index",
        "",
        "| Rule | Category | Severity | Owner | Title |",
        "|---|---|---|---|---|",
    ]
    out += [f"| `{r.id}` | {r.category} | {r.severity.label} | {r.owner} | {_cell(r.title)} |" for r in rules]
    category = None
    for r in rules:
        if r.category != category:
            category = r.category
            out += ["", f"## Category: {category}"]
        out += ["", f"### `{r.id}`", "", f"**{_cell(r.title)}**", "", "| | |", "|---|---|",
                f"| Category | {r.category} |", f"| Default severity | {r.severity.label} |",
                f"| Default owner | {r.owner} |"]
        thresholds = ", ".join(f"`{p}` = {_value(lookup(p))}" for p in reads[r.id]) or "none"
        out.append(f"| Thresholds | {thresholds} |")
        if explained_by(r.id):
            out.append(f"| Likely causes (in order) | {', '.join(f'`{c}`' for c in explained_by(r.id))} |")
        if explains(r.id):
            out.append(f"| Can explain | {', '.join(f'`{s}`' for s in explains(r.id))} |")
        if topics_for(r.id):
            out.append(f"| Device advice topics | {', '.join(topics_for(r.id))} |")
        sections = r.sections()
        for heading in list(REQUIRED_SECTIONS) + sorted(set(sections) - set(REQUIRED_SECTIONS)):
            if sections.get(heading):
                out += ["", f"#### {heading}", "", sections[heading]]
    out += _causes() + _thresholds(reads)
    return "\n".join(out) + "\n"


def _causes() -> list[str]:
    out = ["", "## Causes and symptoms", "",
           "After the rules run, each symptom is linked to its most likely cause among the findings of the same call,",
           "the same registration (AOR) or the whole capture (RULES.md §2; `sipdiag.checks.causes`). Candidates are",
           "ranked by precedence tier first, then by their order below. Ids that no rule has yet never match;",
           "`id@reg` admits only a finding about the registration of the call's caller or callee.", "",
           "| Symptom | Candidate causes, in order |", "|---|---|"]
    out += [f"| `{s}` | {', '.join(f'`{c}`' for c in causes)} |" for s, causes in CAUSES.items()]
    out += ["", "Precedence tiers (strongest first; candidates in no tier come after them):", ""]
    out += [f"{n}. {', '.join(f'`{g}`' for g in group)}" for n, group in enumerate(TIERS, 1)]
    out += ["", f"Folded into the cause of the same call when it explains something there (below major): "
                f"{', '.join(f'`{f}`' for f in FOLDED)}."]
    return out


def _thresholds(reads: dict[str, tuple[str, ...]]) -> list[str]:
    readers: dict[str, list[str]] = {}
    for rule_id, paths in reads.items():
        for p in paths:
            readers.setdefault(p, []).append(rule_id)
    out = ["", "## Thresholds", "",
           f"Every key of the configuration file with its default ([{DEFAULTS_FILE}]({DEFAULTS_FILE}) in TOML).", "",
           "| Key | Default | Read by | Meaning |", "|---|---|---|---|"]
    for path in leaf_paths():
        table = path.rsplit(".", 1)[0]
        meaning = DESCRIPTIONS.get(path) or DESCRIPTIONS.get(table, "")
        by = ", ".join(f"`{r}`" for r in sorted(readers.get(path, []))) or "-"
        if path in NOT_READ:  # documented in RULES.md §5, accepted in a file, but no rule reads it yet
            by, meaning = "none yet", f"{meaning}. **No effect yet**: {NOT_READ[path]}"
        out.append(f"| `{path}` | {_value(lookup(path))} | {by} | {_cell(meaning)} |")
    return out


def outputs() -> dict[str, str]:
    """File name in docs/ -> its generated text."""
    return {REFERENCE: reference(), DEFAULTS_FILE: defaults_toml()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sipdiag.tools.rulesdoc", description=__doc__.splitlines()[0])
    parser.add_argument("--docs", default="docs", help="the docs directory (default: docs, from the repository root)")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if a file is out of step")
    args = parser.parse_args(argv)
    docs = Path(args.docs)
    stale = [name for name, text in outputs().items()
             if not (docs / name).is_file() or (docs / name).read_text(encoding="utf-8") != text]
    if args.check:
        for name in stale:
            print(f"{docs / name} is out of step with the code: run '{COMMAND}' and commit it", file=sys.stderr)
        return 1 if stale else 0
    docs.mkdir(parents=True, exist_ok=True)
    for name, text in outputs().items():
        if name in stale:
            (docs / name).write_text(text, encoding="utf-8")
            print(f"wrote {docs / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
