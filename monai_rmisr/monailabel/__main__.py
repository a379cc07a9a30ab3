"""``python -m monai_rmisr.monailabel start_server --app apps/monailabel --studies DIR``: MONAI Label's own CLI.

The same arguments as ``monailabel ...`` (``start_server``, ``--conf models rmisr_x2``, ``--port``,
...), run in this process after :func:`monai_rmisr.monailabel.compat.install`, so that MONAI Label
0.8.5 starts beside pydicom 3. Keep the default single worker (``--workers`` starts fresh
interpreters, which would not have the compatibility module).

Two defaults differ: ``start_server`` listens on ``127.0.0.1`` (this machine only) unless
``--host`` says otherwise; MONAI Label's own default, ``0.0.0.0``, serves every network the
machine is on, with authentication off (docs/monailabel.md says how to turn it on). And no other
web origin may call the server from a browser unless ``MONAI_LABEL_CORS_ORIGINS`` names it
(:func:`with_default_cors`): MONAI Label's default answers every origin, with credentials, so any
page open in the user's browser could read the studies through it.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from .compat import install

#: Where ``start_server`` listens when the command line gives no ``--host``.
DEFAULT_HOST = "127.0.0.1"


def with_default_host(argv: list[str]) -> list[str]:
    """``argv`` (without the program name) with ``--host`` :data:`DEFAULT_HOST` added to a
    ``start_server`` command that has no ``--host`` (``-i``) of its own."""
    if not argv or argv[0] != "start_server":
        return argv
    if any(arg == "--host" or arg.startswith(("--host=", "-i")) for arg in argv):  # -i0.0.0.0 too
        return argv
    return [*argv, "--host", DEFAULT_HOST]


#: ``MONAI_LABEL_CORS_ORIGINS`` when the environment does not set it: an origin no browser sends (MONAI Label
#: reads an empty list as "every origin"), so only same-origin pages (MONAI Label's own OHIF) and non-browser
#: clients (3D Slicer, curl) reach the server.
DEFAULT_CORS_ORIGINS = '["http://127.0.0.1"]'


def with_default_cors(environ: MutableMapping[str, str]) -> None:
    """Set ``MONAI_LABEL_CORS_ORIGINS`` in ``environ`` to :data:`DEFAULT_CORS_ORIGINS` unless it is set
    (a viewer served from elsewhere: ``MONAI_LABEL_CORS_ORIGINS='["http://viewer-host:3000"]'``)."""
    environ.setdefault("MONAI_LABEL_CORS_ORIGINS", DEFAULT_CORS_ORIGINS)


def origins_as_browsers_send_them(app: Any) -> list[str]:
    """Make the CORS origins of MONAI Label's server ``app`` (its FastAPI application, before it serves) the
    text a browser sends in its ``Origin`` header; return them.

    MONAI Label reads ``MONAI_LABEL_CORS_ORIGINS`` as pydantic URLs, and pydantic 2 writes
    ``http://viewer-host:3000`` as ``http://viewer-host:3000/``: no browser's origin ends with ``/``, so the
    origin named was never let in. The trailing ``/`` is taken off (an origin has no path).
    """
    from starlette.middleware.cors import CORSMiddleware

    for middleware in app.user_middleware:
        if middleware.cls is CORSMiddleware:
            origins = middleware.kwargs.get("allow_origins", ())
            middleware.kwargs["allow_origins"] = [o if o == "*" else str(o).rstrip("/") for o in origins]
            return list(middleware.kwargs["allow_origins"])
    return []


def log_settings_as_text() -> None:
    """Let MONAI Label's ``start_server`` log its settings when ``MONAI_LABEL_CORS_ORIGINS`` names an origin.

    ``monailabel.main`` logs every setting, lists through ``json.dumps``, which cannot write the pydantic URLs of
    the origins: the server stopped at start with ``TypeError: Object of type AnyHttpUrl is not JSON
    serializable`` whenever an origin was named (with pydantic 2.14), the default of this launcher included.
    Its module's ``json`` becomes one whose ``dumps`` writes such values as their text.
    """
    import json
    import types

    import monailabel.main as cli

    cli.json = types.SimpleNamespace(dumps=functools.partial(json.dumps, default=str), loads=json.loads)


def log_config_in_the_app_folder() -> None:
    """Make MONAI Label's ``start_server`` keep its logging config in the app's ``logs`` folder (``logs/logging.json``
    beside the ``app.log`` it names, replaced at each start), not in a new file of the temporary folder at every
    start (``init_log_config``: a copy of its default with the log folder filled in), which it left behind: one
    ``tmpXXXXXXXX.json`` a start. A ``--log_config`` of the user's own is used as it is."""
    import shutil

    import monailabel.main as cli

    made_by_monai_label = cli.init_log_config

    @functools.wraps(made_by_monai_label)
    def init_log_config(log_config: Any, app_dir: str, *args: Any, **kwargs: Any) -> Any:
        path = made_by_monai_label(log_config, app_dir, *args, **kwargs)
        if path == log_config:  # the user's file
            return path
        kept = Path(app_dir) / "logs" / "logging.json"  # the folder MONAI Label has just made for app.log
        shutil.move(path, kept)
        return str(kept)

    cli.init_log_config = init_log_config


def main() -> None:
    sys.argv[1:] = with_default_host(sys.argv[1:])
    with_default_cors(os.environ)  # read when MONAI Label's app module is imported, below
    install()
    try:
        from monailabel.main import Main
    except ImportError as err:
        sys.exit(
            f"python -m monai_rmisr.monailabel: MONAI Label is not installed here ({err}); "
            "make monailabel-env sets up its environment (docs/monailabel.md)."
        )
    log_settings_as_text()
    log_config_in_the_app_folder()
    from monailabel.app import app  # what uvicorn serves (monailabel.app:app) in this process: --workers 1

    origins_as_browsers_send_them(app)
    Main().run()


if __name__ == "__main__":
    main()
