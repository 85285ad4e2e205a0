"""Maintenance commands run with `python -m sipdiag.tools.NAME` (documentation generators)."""
