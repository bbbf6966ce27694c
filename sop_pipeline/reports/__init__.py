"""The SOP's documents in Bahasa Indonesia: Markdown, HTML and A4 PDF; merge-request comments.

- :mod:`.model`: the inputs (request facts, the step-6 ``AnalysisResult``, the step-8
  ``HostingResult``, one dataclass per document);
- :mod:`.documents`: each document as plain blocks; :mod:`.markdown` and :mod:`.html`
  render them, escaping every value; :mod:`.pdf` turns the HTML into PDF (WeasyPrint);
- :mod:`.writer`: :func:`write_reports`, the call the pipeline makes;
- :mod:`.comments`: short Markdown comments for the merge request;
- :mod:`.department`: letterhead, officials and numbering from ``inventories/department.yaml``.

See ``docs/reports.md``.
"""

from __future__ import annotations

from sop_pipeline.reports.department import Department, load_department
from sop_pipeline.reports.pdf import ReportError
from sop_pipeline.reports.writer import render, write_reports

__all__ = ["Department", "ReportError", "load_department", "render", "write_reports"]
