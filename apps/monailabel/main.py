"""The MONAI Label app folder of monai-rmisr.

    monailabel start_server --app apps/monailabel --studies /path/to/images

MONAI Label loads this file and takes the ``MONAILabelApp`` subclass it finds here; the app itself
lives in the package (:class:`monai_rmisr.monailabel.app.RMISRApp`). See docs/monailabel.md.
"""

from monai_rmisr.monailabel.app import RMISRApp

__all__ = ["RMISRApp"]
