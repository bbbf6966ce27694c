"""HTML to A4 PDF with WeasyPrint: the one adapter of the reports package.

WeasyPrint needs Pango from Debian (``libpango-1.0-0``, ``libpangoft2-1.0-0``) and fonts
(``fonts-dejavu-core``, ``fonts-liberation2`` for Arial metrics); ``.ci/setup/reports.sh``
installs them. The documents carry their style sheet inline and load nothing else, so the
fetcher here refuses every URL: a value that slipped past escaping still can't make the
renderer read a local file or reach the network.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from sop_pipeline.errors import AdapterError

SETUP_HINT = (
    "pasang dengan `bash .ci/setup/reports.sh` (pip: weasyprint; apt: libpango-1.0-0 "
    "libpangoft2-1.0-0 fonts-dejavu-core fonts-liberation2)"
)


class ReportError(AdapterError):
    """A report could not be rendered or written."""


#: The only URLs a document may hold: an image embedded as base64 (the kop's emblem).
_EMBEDDED = re.compile(r"data:(image/(?:png|jpeg|svg\+xml));base64,([A-Za-z0-9+/=]*)\Z")


def _fetcher_class() -> Any:
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class RefuseAll(URLFetcher):  # type: ignore[misc]  # WeasyPrint ships no type hints
        """Loads nothing: the documents are self-contained. An embedded image (a ``data:``
        URL of PNG, JPEG or SVG) is decoded here, with no I/O; anything else is refused."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            found = _EMBEDDED.match(url)
            if found:
                body = base64.b64decode(found.group(2), validate=True)
                return URLFetcherResponse(url, body, {"Content-Type": found.group(1)}, 200)
            raise ValueError(f"sop-pipeline reports load no external resource ({url[:80]})")

    return RefuseAll


def html_to_pdf(html: str) -> bytes:
    """The PDF bytes of a self-contained HTML document; ReportError if WeasyPrint fails."""
    try:
        import weasyprint
    except (ImportError, OSError) as err:  # OSError: Pango missing under the Python package
        raise ReportError(f"WeasyPrint tidak dapat dimuat ({err}); {SETUP_HINT}") from err
    try:
        document = weasyprint.HTML(string=html, url_fetcher=_fetcher_class()())
        pdf = document.write_pdf()
    except Exception as err:  # WeasyPrint raises many types; all become one error of ours
        raise ReportError(f"PDF tidak dapat dibuat: {type(err).__name__}: {err}") from err
    if not isinstance(pdf, bytes):
        raise ReportError("PDF tidak dapat dibuat: WeasyPrint tidak mengembalikan bita")
    return pdf
