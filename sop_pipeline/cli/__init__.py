"""The ``sop`` command: every click command, one exit-code table and one error path.

Kept light: :mod:`sop_pipeline.cli.main` loads each command's module only when asked for."""
