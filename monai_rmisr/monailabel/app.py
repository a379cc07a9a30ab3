"""``RMISRApp``: a MONAI Label app whose infer tasks are the shipped RMISR models (needs ``monailabel``)."""

from __future__ import annotations

import logging
from typing import Any

from . import compat

compat.install()  # before MONAI Label is imported: see compat

from monailabel.interfaces.app import MONAILabelApp  # noqa: E402

from .._version import __version__  # noqa: E402
from .task import SuperResolutionTask  # noqa: E402

__all__ = ["TASKS", "RMISRApp"]

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


class RMISRApp(MONAILabelApp):
    """The app: ``python -m monai_rmisr.monailabel start_server --app apps/monailabel --studies DIR``.

    ``--conf models rmisr_x2,rmisr_x4`` offers only those tasks (default: every task whose
    weights are shipped); no training tasks (train with the bundle, docs/training.md).
    """

    def __init__(self, app_dir: str, studies: str, conf: dict[str, str]):
        wanted = [name.strip() for name in str((conf or {}).get("models", "")).split(",") if name.strip()]
        unknown = sorted(set(wanted) - set(TASKS))
        if unknown:
            raise ValueError(f"--conf models: unknown task(s) {', '.join(unknown)}; the tasks are {', '.join(TASKS)}.")
        self.task_names = wanted or list(TASKS)
        super().__init__(
            app_dir=app_dir,
            studies=studies,
            conf=conf,
            name="monai-rmisr",
            description="RMISR medical image super-resolution (x2, x3, x4, RMISR-VP x4, any scale)",
            version=__version__,
        )

    def init_infers(self) -> dict[str, Any]:
        tasks = {}
        for name in self.task_names:
            scale, model = TASKS[name]
            task = SuperResolutionTask(scale, model)
            if task.is_valid():
                tasks[name] = task
            else:
                logger.warning("rmisr: task %s left out: the weights of %s are not there", name, model)
        return tasks

    def init_trainers(self) -> dict[str, Any]:
        return {}
