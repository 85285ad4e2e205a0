"""The lab tests import the project's top-level ``lab`` package: make the project root importable
whatever pytest's import mode. (This folder has no ``__init__.py`` on purpose: as a package it
would be named ``lab`` too and shadow the real one.)"""

from __future__ import annotations

import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))
