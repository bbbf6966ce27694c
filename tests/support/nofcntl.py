"""A Python without ``fcntl``, as on Windows: a ``sitecustomize`` that refuses the import.

:func:`blocker` writes the hook into a folder; put that folder first on ``PYTHONPATH`` and
every Python started with it fails ``import fcntl`` with ModuleNotFoundError, as Windows'
Python does. Nothing else changes, so what breaks is what needs ``fcntl``.
"""

from __future__ import annotations

from pathlib import Path

BLOCKED = ("fcntl",)

SITECUSTOMIZE = '''\
import sys


class _NoSuchModule:
    """A meta-path finder that finds nothing for the blocked names: the import fails."""

    blocked = {blocked!r}

    def find_spec(self, name, path=None, target=None):
        if name in self.blocked:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
        return None


for _name in _NoSuchModule.blocked:
    sys.modules.pop(_name, None)
sys.meta_path.insert(0, _NoSuchModule())
'''


def blocker(folder: Path) -> Path:
    """``folder`` holding the ``sitecustomize.py`` that blocks ``fcntl``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE.format(blocked=set(BLOCKED)))
    return folder
