"""Constants shared by the analysis tests and their fixtures."""

from __future__ import annotations

#: A name in the zone that belongs to someone else (no ownership record of ours).
TAKEN_LABEL = "terpakai"
