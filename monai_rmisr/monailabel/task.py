"""``SuperResolutionTask``: a MONAI Label infer task that returns a super-resolved image (needs ``monailabel``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import compat

compat.install()  # before MONAI Label is imported: see compat

from monailabel.interfaces.tasks.infer_v2 import InferTask, InferType  # noqa: E402

from ..io import ImageReadError  # noqa: E402
from .infer import (  # noqa: E402
    DEFAULTS,
    IMAGE_NAME_KEY,
    MAX_OUTPUT_PIXELS,
    NetworkCache,
    client_message,
    not_in_datastore,
    parse_request,
    run_infer_request,
    warm_up,
)

__all__ = ["SuperResolutionTask"]


class SuperResolutionTask(InferTask):
    """Super-resolve the request's image with an RMISR model; the result file is the SR image.

    MONAI Label's infer tasks usually return label maps; this one returns an image of the
    input's kind and format (NIfTI, DICOM, PNG; a DICOM series as a ``.zip`` of a derived
    series), with type ``"others"``. Clients can override the config per request through
    ``params``: ``scale``, ``network`` (a registry name, ``"auto"`` or ``"bicubic"``), ``roi``
    (``"x0,y0,x1,y1"``), ``tile`` (``"auto"``, the default: tiles only for large images; 0: the whole
    image), ``self_ensemble`` and ``device``.

    The request's image must be in ``datastore`` or be an upload
    (:func:`~monai_rmisr.monailabel.infer.check_image`); anything else is an HTTP 403.

    Args:
        scale: the default factor.
        model: the default model (``"auto"``, a registry name, ``"bicubic"`` or a checkpoint path).
        description: what clients list; default names the model and the scale.
        datastore: the datastore's folder (the app's studies folder).
        max_output_pixels: the largest result, in pixels (an integer, or its text; set on the server,
            not by requests).
        networks: the loaded networks, shared with other tasks (default: this task's own).
        **config: more defaults (``roi``, ``tile``, ``self_ensemble``).

    Raises:
        ValueError: a bad default, at server start rather than at the first request.
    """

    def __init__(
        self,
        scale: float = 2.0,
        model: str = "auto",
        description: str | None = None,
        *,
        datastore: str | Path,
        max_output_pixels: int | str = MAX_OUTPUT_PIXELS,
        networks: NetworkCache | None = None,
        **config: Any,
    ):
        defaults = {**DEFAULTS, "scale": scale, "network": model, **config}
        parse_request({}, defaults)
        try:
            limit = int(max_output_pixels)  # the text of ``--conf max_output_pixels`` too
        except (TypeError, ValueError):
            limit = 0
        if isinstance(max_output_pixels, bool) or limit < 1:
            raise ValueError(f"max_output_pixels must be a positive integer, got {max_output_pixels!r}.")
        super().__init__(
            type=InferType.OTHERS,
            labels=None,
            dimension=2,
            description=description or f"RMISR super-resolution, x{float(scale):g} ({model}); the result is an image",
            config=defaults,
        )
        self.datastore = Path(datastore)
        self.max_output_pixels = limit
        self._networks = networks if networks is not None else NetworkCache()

    @property
    def network(self) -> str:
        """The task's own network: its default ``network`` (a registry name, ``"auto"`` resolved at its default
        scale, ``"bicubic"`` or a checkpoint path)."""
        return parse_request({}, self._config)["network"]

    def is_valid(self) -> bool:
        """Whether the default model loads (a task without its weights is not offered).

        The loaded network is kept for the requests that use the defaults, so it is read once.
        """
        try:
            self._networks.upscaler(parse_request({}, self._config))
        except (ValueError, FileNotFoundError):
            return False
        return True

    def warm_up(self) -> float:
        """Run the default network once on a tiny image (:func:`~monai_rmisr.monailabel.infer.warm_up`), so
        that the first request with the defaults is as fast as the next ones; return the seconds it took."""
        return warm_up(self._networks.upscaler(parse_request({}, self._config)))

    def __call__(self, request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """``(result file, result JSON)``; a bad request is an HTTP 400 (403: an image outside the datastore,
        404: no such image) whose detail says why, naming the image as the client did, never by a server path
        (:func:`~monai_rmisr.monailabel.infer.client_message`)."""
        from fastapi import HTTPException

        try:
            return run_infer_request(
                request,
                self.datastore,
                self._config,
                networks=self._networks,
                max_output_pixels=self.max_output_pixels,
            )
        except PermissionError as err:  # where the image is, or what a link points to, is not said
            shown = request.get(IMAGE_NAME_KEY) or "the image"
            raise HTTPException(status_code=403, detail=str(not_in_datastore(shown))) from err
        except FileNotFoundError as err:
            raise HTTPException(status_code=404, detail=client_message(str(err), request, self.datastore)) from err
        except (ValueError, ImageReadError) as err:
            raise HTTPException(status_code=400, detail=client_message(str(err), request, self.datastore)) from err
