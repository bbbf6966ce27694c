#!/usr/bin/env bash
# What the reports need: WeasyPrint (PyPI) with Debian's Pango and fonts, to render the
# Indonesian documents to A4 PDF, and poppler-utils (pdftoppm, pdftotext) for the tests that
# turn the PDFs into PNG and text. Idempotent; safe on a fresh Debian 12 machine (as root).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
log() { printf 'setup/reports: %s\n' "$*" >&2; }

# libpango*: WeasyPrint's text layout (loaded with ctypes/cffi at import time).
# fonts-liberation2: Arial-metric sans (the documents' face); fonts-dejavu-core: fallback.
# libharfbuzz-subset0: fast font subsetting (without it WeasyPrint falls back to fontTools,
# several times slower, and warns).
APT_PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fonts-liberation2
  poppler-utils)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! python3 -c 'import weasyprint, sys; sys.exit(0 if weasyprint.__version__.startswith("70.") else 1)' 2>/dev/null; then
  log "pip install weasyprint 70"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore 'weasyprint>=70,<71'
fi

# Smoke test: one A4 page through the project's own renderer (fails loudly if Pango is off).
cd "$ROOT"
python3 - <<'PY'
from sop_pipeline.reports.pdf import html_to_pdf
pdf = html_to_pdf('<html lang="id"><body><p>Senin, 30 November 2026</p></body></html>')
assert pdf.startswith(b"%PDF"), "WeasyPrint did not return a PDF"
print(f"setup/reports: WeasyPrint ok ({len(pdf)} bytes for a test page)")
PY
