"""Reports integration: real WeasyPrint, real pdftoppm/pdftotext (poppler-utils)."""

from __future__ import annotations

import sys
from pathlib import Path

# The realistic inputs shared with the unit tests (tests/unit/reports/report_samples.py),
# and the tool checks beside this file (report_tools.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "reports"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
