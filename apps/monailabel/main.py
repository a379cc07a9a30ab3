"""The MONAI Label app folder of monai-rmisr.

    python -m monai_rmisr.monailabel start_server --app apps/monailabel --studies /path/to/images

That is MONAI Label's own CLI, run after ``monai_rmisr.monailabel.compat.install()``: the plain
``monailabel`` script stops at an import that pydicom 3 broke. MONAI Label loads this file and
takes the ``MONAILabelApp`` subclass it finds here; the app itself lives in the package
(:class:`monai_rmisr.monailabel.app.RMISRApp`). See docs/monailabel.md.
"""

from monai_rmisr.monailabel.app import RMISRApp

__all__ = ["RMISRApp"]
