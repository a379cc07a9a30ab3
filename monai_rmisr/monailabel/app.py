"""``RMISRApp``: a MONAI Label app whose infer tasks are the shipped RMISR models (needs ``monailabel``)."""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

from . import compat

compat.install()  # before MONAI Label is imported: see compat

from monailabel.interfaces.app import MONAILabelApp  # noqa: E402

from .._version import __version__  # noqa: E402
from .infer import MAX_OUTPUT_PIXELS, NetworkCache, not_in_datastore, upload_params  # noqa: E402
from .task import SuperResolutionTask  # noqa: E402

__all__ = ["TASKS", "RMISRApp", "refuse_image_beside_upload"]

logger = logging.getLogger(__name__)

#: Task name -> (default scale, model). The arbitrary-scale task takes any ``scale`` in its params.
TASKS: dict[str, tuple[float, str]] = {
    "rmisr_x2": (2.0, "rmisr_bl_x2"),
    "rmisr_x3": (3.0, "rmisr_bl_x3"),
    "rmisr_x4": (4.0, "rmisr_bl_x4"),
    "rmisr_vp_x4": (4.0, "rmisr_vp_x4"),
    "rmisr_any_scale": (2.5, "rmisr_meta"),
    "bicubic": (2.0, "bicubic"),
}


def refuse_image_beside_upload() -> None:
    """Make MONAI Label's ``POST /infer/{model}`` answer 400 when ``params`` names an ``image`` beside
    an uploaded ``file``, and mark a request with an upload as such
    (:func:`~monai_rmisr.monailabel.infer.upload_params`): only then may its ``image`` be a file in the
    temporary folder.

    MONAI Label 0.8.5's endpoint saves the upload, sets the request's ``image`` to it, and only then
    merges ``params`` into the request, so a ``params`` ``image`` would replace the upload, and the
    task cannot tell the two apart. The endpoint calls its module's ``run_inference``; this wraps that
    function, once per process (MONAI Label has no hook for it).
    """
    from fastapi import HTTPException
    from monailabel.endpoints import infer as endpoint

    run_inference = endpoint.run_inference
    if getattr(run_inference, "rmisr_guard", False):
        return

    @functools.wraps(run_inference)
    def guarded(background_tasks, model, image="", session_id="", params="{}", file=None, label=None, output=None):
        if file:
            try:
                params = upload_params(params)
            except ValueError as err:
                raise HTTPException(status_code=400, detail=str(err)) from err
        return run_inference(background_tasks, model, image, session_id, params, file, label, output)

    guarded.rmisr_guard = True  # type: ignore[attr-defined]
    endpoint.run_inference = guarded


class RMISRApp(MONAILabelApp):
    """The app: ``python -m monai_rmisr.monailabel start_server --app apps/monailabel --studies DIR``.

    ``--conf models rmisr_x2,rmisr_x4`` offers only those tasks (default: every task whose
    weights are shipped); ``--conf max_output_pixels N`` sets the largest result (default
    :data:`~monai_rmisr.monailabel.infer.MAX_OUTPUT_PIXELS`). No training tasks (train with the
    bundle, docs/training.md).

    The tasks serve only the datastore's images and uploads, share one
    :class:`~monai_rmisr.monailabel.infer.NetworkCache`, and a ``params`` ``image`` beside an
    upload is refused (:func:`refuse_image_beside_upload`).
    """

    def __init__(self, app_dir: str, studies: str, conf: dict[str, str]):
        conf = conf or {}
        wanted = [name.strip() for name in str(conf.get("models", "")).split(",") if name.strip()]
        unknown = sorted(set(wanted) - set(TASKS))
        if unknown:
            raise ValueError(f"--conf models: unknown task(s) {', '.join(unknown)}; the tasks are {', '.join(TASKS)}.")
        self.task_names = wanted or list(TASKS)
        self.max_output_pixels = conf.get("max_output_pixels", MAX_OUTPUT_PIXELS)  # checked by the tasks
        self.networks = NetworkCache()
        refuse_image_beside_upload()
        super().__init__(
            app_dir=app_dir,
            studies=studies,
            conf=conf,
            name="monai-rmisr",
            description="RMISR medical image super-resolution (x2, x3, x4, RMISR-VP x4, any scale)",
            version=__version__,
        )

    def init_infers(self) -> dict[str, Any]:
        # the datastore's folder: the studies folder, or a DICOMweb datastore's local cache of series
        folder = getattr(self.datastore(), "_datastore_path", self.studies)
        tasks = {}
        for name in self.task_names:
            scale, model = TASKS[name]
            task = SuperResolutionTask(
                scale, model, datastore=folder, max_output_pixels=self.max_output_pixels, networks=self.networks
            )
            if task.is_valid():
                tasks[name] = task
            else:
                logger.warning("rmisr: task %s left out: the weights of %s are not there", name, model)
        return tasks

    def init_trainers(self) -> dict[str, Any]:
        return {}

    def infer(self, request: dict[str, Any], datastore: Any = None) -> dict[str, Any]:
        """MONAI Label's ``infer``, with an unknown image id refused as a path outside the datastore is.

        MONAI Label takes an ``image`` that is not an existing path for a datastore id and hands
        the task ``""`` for an unknown one; a path outside the datastore that does not exist would
        then get another answer than one that does (a 403 from the task). Both are this 403.
        """
        from fastapi import HTTPException

        image = request.get("image")
        by_id = isinstance(image, str) and image and not os.path.exists(image)  # as MONAI Label decides
        if by_id and not (datastore or self.datastore()).get_image_uri(image):
            raise HTTPException(status_code=403, detail=str(not_in_datastore(image)))
        return super().infer(request, datastore)
