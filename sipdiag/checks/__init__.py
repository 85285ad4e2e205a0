"""The rule set (issue 6)."""
