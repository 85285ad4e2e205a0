"""The Russian "How to fix" of the rules (sipdiag.reports.replyactions.FIX_RU), which the Russian engineer note
shows: a rule without one fell back to its English docstring paragraph in the middle of the Russian note."""

from __future__ import annotations

from sipdiag.checks import all_rules
from sipdiag.reports.replyactions import FIX_RU, RULE_STEPS
from tests.russiantext import english_runs


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
