"""MONAI Label integration: super-resolution as an infer task of a MONAI Label server.

:mod:`monai_rmisr.monailabel.infer` (the request -> result-file logic) needs nothing beyond this
package. :mod:`monai_rmisr.monailabel.task` (``SuperResolutionTask``) and
:mod:`monai_rmisr.monailabel.app` (``RMISRApp``) need MONAI Label (``monailabel``), which lives in
its own environment (``make monailabel-env``; see docs/monailabel.md).
"""

from .infer import DEFAULTS, parse_request, run_infer_request

__all__ = ["DEFAULTS", "parse_request", "run_infer_request"]
