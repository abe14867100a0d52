"""``python -m fit_converter.doctor``: check the appliance and print how to fix it."""

from __future__ import annotations

import sys

from fit_converter.doctor.cli import main

sys.exit(main())
