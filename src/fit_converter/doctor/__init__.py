"""doctor: checks that tell the owner what is wrong with the appliance and how to fix it.

Each check returns ok, warning, error or skipped (it could not run here), a one-line
message and, when not ok, a hint with the fix. ``python -m fit_converter.doctor`` runs
them all; see cli.py for the options and schema.json for the ``--json`` output.
"""

from __future__ import annotations

from fit_converter.doctor.framework import Check, Outcome, Result, Status, exit_code, run_checks

__all__ = ["Check", "Outcome", "Result", "Status", "exit_code", "run_checks"]
