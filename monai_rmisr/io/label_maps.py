"""Label maps and masks: NIfTI files whose values are classes, not intensities.

Super-resolution would blend classes into classes that do not exist, and a model trained on masks learns nothing of
images: ``rmisr upscale`` refuses them (:meth:`~monai_rmisr.inference.upscale.Upscaler.read`) and training on a user
folder leaves them out (:func:`~monai_rmisr.data.dataset_images`; an nnU-Net folder holds ``labelsTr`` beside
``imagesTr``).
"""

from __future__ import annotations

import numpy as np

from .image_data import ImageData

__all__ = ["LABEL_INTENTS", "LABEL_MAP_MAX_VALUES", "label_map_evidence"]

#: NIfTI intents whose values are classes, not intensities
LABEL_INTENTS = ("label", "neuroname")
#: A NIfTI whose voxels are whole numbers >= 0 of two to this many distinct values is taken for a label map or
#: mask (most carry no label intent): no scan worth super-resolving has so few grey levels.
LABEL_MAP_MAX_VALUES = 16


def label_map_evidence(image: ImageData) -> str | None:
    """Why a NIfTI ``image`` is a label map (its intent, or few distinct whole-number values), or None.

    The distinct values are counted on a sample of voxels first (a scan has many at once), then on all.
    """
    if image.meta.get("format") != "nifti":
        return None
    intent = image.meta.get("nifti_intent")
    if intent in LABEL_INTENTS:
        return f"NIfTI intent '{intent}'"
    array = np.asarray(image.array)
    if array.size < 1024:
        return None
    for values in (array.ravel()[:: max(1, array.size // 65536)], array):
        distinct = np.unique(values)
        if len(distinct) > LABEL_MAP_MAX_VALUES or distinct[0] < 0 or not np.all(distinct == np.round(distinct)):
            return None
    if len(distinct) < 2:  # a blank volume is no evidence of classes
        return None
    return f"only {len(distinct)} distinct values, whole numbers {distinct[0]:g} to {distinct[-1]:g}"
