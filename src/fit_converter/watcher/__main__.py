"""Run the inbox watcher: ``python -m fit_converter.watcher``."""

from __future__ import annotations

import sys

from fit_converter.watcher.cli import main

if __name__ == "__main__":
    sys.exit(main())
