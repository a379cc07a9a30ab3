"""``python -m monai_rmisr.monailabel start_server --app apps/monailabel --studies DIR``: MONAI Label's own CLI.

The same arguments as ``monailabel ...`` (``start_server``, ``--conf models rmisr_x2``, ``--port``,
...), run in this process after :func:`monai_rmisr.monailabel.compat.install`, so that MONAI Label
0.8.5 starts beside pydicom 3. Keep the default single worker (``--workers`` starts fresh
interpreters, which would not have the compatibility module).
"""

from __future__ import annotations

import sys

from .compat import install


def main() -> None:
    install()
    try:
        from monailabel.main import Main
    except ImportError as err:
        sys.exit(
            f"python -m monai_rmisr.monailabel: MONAI Label is not installed here ({err}); "
            "make monailabel-env sets up its environment (docs/monailabel.md)."
        )
    Main().run()


if __name__ == "__main__":
    main()
