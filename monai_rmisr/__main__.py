"""Command line: ``rmisr`` or ``python -m monai_rmisr`` (the commands live in :mod:`monai_rmisr.cli`)."""

from __future__ import annotations

import sys

from .cli import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
