"""Intensity normalisation as medical users expect it, with inverses back to the original units.

The readers (:mod:`monai_rmisr.io`) already return modality units: the DICOM modality LUT
(rescale slope / intercept) is applied, ``MONOCHROME1`` is inverted and palette colour is
expanded to RGB; 16-bit PNG / TIFF keep their raw 0..65535 values. This module maps those units to
the ``[0, 1]`` range the networks are trained on, and back:

* :class:`CTWindow` -- a CT window (preset from :data:`CT_WINDOWS` or ``(centre, width)`` in HU);
* :class:`PercentileNormalize` -- per-image percentiles to ``[0, 1]`` (MR, whose units are
  arbitrary and whose maximum is often a single bright artefact);
* :class:`MinMaxNormalize` -- per-image minimum / maximum to ``[0, 1]`` (the corpus protocol);
* :class:`RGBToLuma` -- RGB to one luma channel (ITU-R BT.601 weights by default).

The three normalisers are the same affine map ``y = (x - a_min) / (a_max - a_min)`` with
different ``(a_min, a_max)``: they record those two values (the *mapping*, a plain dict
``{"transform", "a_min", "a_max"}``) and their ``inverse(img, mapping)`` computes
``x = y * (a_max - a_min) + a_min``, exact up to floating-point rounding for values that were
not clipped. The mapping travels with the image: in a :class:`~monai.data.MetaTensor`'s
``meta["intensity_mapping"]`` (array transforms) and under ``f"{key}_intensity"`` (dictionary
transforms), so e.g. a super-resolved prediction is mapped back to HU / scanner units with the
mapping of its input. MONAI's own ``ScaleIntensity`` / ``ScaleIntensityRange(Percentiles)`` compute
the same forward maps but record nothing and have no inverse, hence these classes. They are
deliberately not :class:`~monai.transforms.InvertibleTransform`: MONAI keeps intensity transforms
out of the ``applied_operations`` stack, so ``Invertd`` does not undo them on keys (labels, masks)
where that would be wrong; call ``inverse`` explicitly.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.config import DtypeLike, KeysCollection, NdarrayOrTensor
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends, convert_to_dst_type, convert_to_tensor, get_equivalent_dtype

__all__ = [
    "CT_WINDOWS",
    "LUMA_WEIGHTS",
    "MAPPING_META_KEY",
    "CTWindow",
    "CTWindowd",
    "MinMaxNormalize",
    "MinMaxNormalized",
    "PercentileNormalize",
    "PercentileNormalized",
    "RGBToLuma",
    "RGBToLumad",
]

#: Standard CT display windows as ``(centre, width)`` in Hounsfield units: lung W 1500 / L -600,
#: soft tissue (abdomen / mediastinum) W 400 / L 40, bone W 1800 / L 400, brain W 80 / L 40; the
#: values of the Radiopaedia article "Windowing (CT)" and of common PACS presets.
CT_WINDOWS: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0),
    "soft_tissue": (40.0, 400.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
}
#: Key of a :class:`~monai.data.MetaTensor`'s ``meta`` under which the normalisers record their mapping.
MAPPING_META_KEY = "intensity_mapping"
#: ITU-R BT.601 luma weights for R, G, B: the corpus protocol's grey, the validation metrics' "Y channel"
#: and :class:`RGBToLuma`'s default (the one place they are written).
LUMA_WEIGHTS: tuple[float, float, float] = (0.299, 0.587, 0.114)


def _float_tensor(img: NdarrayOrTensor) -> torch.Tensor:
    """A plain tensor view of ``img``; integer data (8/16-bit images) becomes float64."""
    x = convert_to_tensor(img, track_meta=False)
    return x if x.is_floating_point() else x.to(torch.float64)


def _out_dtype(img: NdarrayOrTensor, dtype: DtypeLike | torch.dtype | None) -> torch.dtype:
    """``dtype`` if given, else the input's float dtype (integers give float32)."""
    if dtype is not None:
        return get_equivalent_dtype(dtype, torch.Tensor)
    in_dtype = get_equivalent_dtype(img.dtype, torch.Tensor)
    return in_dtype if in_dtype.is_floating_point else torch.float32


def _restore(out: torch.Tensor, img: NdarrayOrTensor, dtype: torch.dtype) -> NdarrayOrTensor:
    """``out`` in the type (numpy / tensor / MetaTensor with a copy of the meta) and device of ``img``."""
    result = convert_to_dst_type(out, dst=img, dtype=dtype)[0]
    if isinstance(result, MetaTensor):
        result.meta = dict(result.meta)  # never share (and later edit) the input's meta dict
    return result


def _check_mapping(mapping: Any) -> tuple[Any, Any]:
    """``(a_min, a_max)`` of a recorded mapping dict or pair; values may be batched (collated) tensors."""
    if isinstance(mapping, Mapping):
        if "a_min" not in mapping or "a_max" not in mapping:
            raise ValueError(f"an intensity mapping needs the keys 'a_min' and 'a_max', got {dict(mapping)!r}.")
        return mapping["a_min"], mapping["a_max"]
    if isinstance(mapping, Sequence) and not isinstance(mapping, str) and len(mapping) == 2:
        return mapping[0], mapping[1]
    raise ValueError(f"an intensity mapping is a dict with 'a_min' / 'a_max' or a pair (a_min, a_max), got {mapping}.")


def _broadcast(value: Any, x: torch.Tensor) -> torch.Tensor | float:
    """A scalar, or one value per batch item shaped to broadcast over ``x``'s leading axis."""
    t = torch.as_tensor(value, dtype=torch.float64)
    if t.numel() == 1:
        return float(t.reshape(()))
    return t.reshape(-1, *([1] * (x.ndim - 1))).to(device=x.device, dtype=x.dtype)


class _LinearIntensity(Transform):
    """Shared logic of the normalisers: ``y = (x - a_min) / (a_max - a_min)``, optional clip to [0, 1]."""

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, clip: bool, dtype: DtypeLike | torch.dtype | None) -> None:
        self.clip = bool(clip)
        self.dtype = dtype

    def _limits(self, x: torch.Tensor) -> tuple[float, float]:
        raise NotImplementedError

    def _default_mapping(self) -> dict[str, Any] | None:
        """The mapping to invert when none is given and the image carries none (fixed windows only)."""
        return None

    def mapping(self, img: NdarrayOrTensor) -> dict[str, Any]:
        """The mapping ``{"transform", "a_min", "a_max"}`` this transform applies to ``img``."""
        a_min, a_max = self._limits(_float_tensor(img))
        return {"transform": type(self).__name__, "a_min": float(a_min), "a_max": float(a_max)}

    def __call__(self, img: NdarrayOrTensor, mapping: Mapping | Sequence[float] | None = None) -> NdarrayOrTensor:
        """Normalise ``img`` (any shape, numpy or tensor) to ``[0, 1]``.

        Args:
            img: the image in its original units.
            mapping: apply this recorded mapping instead of computing one from ``img`` (e.g. to
                normalise a second image exactly like a first one).

        Returns:
            The normalised image, same type and device; ``dtype`` as configured. A MetaTensor
            output records the mapping in ``meta["intensity_mapping"]``.
        """
        x = _float_tensor(img)
        if mapping is None:
            mapping = self.mapping(img)
        a_min, a_max = (_broadcast(v, x) for v in _check_mapping(mapping))
        work = x if x.dtype == torch.float64 else x.to(torch.float32)
        out = (work - a_min) / (a_max - a_min)
        if self.clip:
            out = out.clamp(0.0, 1.0)
        result = _restore(out, img, _out_dtype(img, self.dtype))
        if isinstance(result, MetaTensor):
            result.meta[MAPPING_META_KEY] = dict(mapping) if isinstance(mapping, Mapping) else mapping
        return result

    def inverse(self, img: NdarrayOrTensor, mapping: Mapping | Sequence[float] | None = None) -> NdarrayOrTensor:
        """Map a normalised image (or a network output in the same range) back to the original units.

        ``x = y * (a_max - a_min) + a_min``: exact up to rounding for values that were not clipped;
        values clipped to 0 or 1 come back as ``a_min`` or ``a_max``.

        Args:
            img: a normalised image; float dtypes are kept, integers give float32.
            mapping: the mapping recorded by the forward call (dict or ``(a_min, a_max)``; a
                collated batch of mappings is applied per item along the first axis). Default: the
                one in a MetaTensor's ``meta["intensity_mapping"]``, else the transform's fixed one
                (:class:`CTWindow`).

        Raises:
            ValueError: when no mapping is given or recorded (percentile / min-max normalisation
                depends on the image, so its values must be kept from the forward call).
        """
        if mapping is None and isinstance(img, MetaTensor):
            mapping = img.meta.get(MAPPING_META_KEY)
        if mapping is None:
            mapping = self._default_mapping()
        if mapping is None:
            raise ValueError(
                f"{type(self).__name__}.inverse needs the mapping of the forward call: pass mapping= (the dict "
                f"recorded under meta['{MAPPING_META_KEY}'] or f'{{key}}_intensity'), got None."
            )
        x = _float_tensor(img)
        a_min, a_max = (_broadcast(v, x) for v in _check_mapping(mapping))
        out = x * (a_max - a_min) + a_min
        in_dtype = get_equivalent_dtype(img.dtype, torch.Tensor)
        result = _restore(out, img, in_dtype if in_dtype.is_floating_point else torch.float32)
        if isinstance(result, MetaTensor):
            result.meta.pop(MAPPING_META_KEY, None)
        return result


def _check_window(window: str | Sequence[float]) -> tuple[float, float]:
    if isinstance(window, str):
        name = window.strip().lower().replace(" ", "_").replace("-", "_")
        if name not in CT_WINDOWS:
            raise ValueError(f"unknown CT window preset {window!r}; the presets are {sorted(CT_WINDOWS)}.")
        return CT_WINDOWS[name]
    if isinstance(window, (Sequence, np.ndarray)) and len(window) == 2:
        centre, width = (float(v) for v in window)
        if not math.isfinite(centre) or not math.isfinite(width) or width <= 0:
            raise ValueError(f"a CT window is (centre, width) in HU with a finite centre and width > 0, got {window}.")
        return centre, width
    raise ValueError(f"window must be a preset name {sorted(CT_WINDOWS)} or (centre, width) in HU, got {window!r}.")


class CTWindow(_LinearIntensity):
    """Map Hounsfield units to ``[0, 1]`` through a CT display window.

    ``y = (x - (c - w / 2)) / w``: the window's lower edge ``c - w/2`` maps to 0, its upper edge
    ``c + w/2`` to 1 and the centre to 0.5 (for the lung window -1350 HU -> 0, -600 -> 0.5,
    150 -> 1), i.e. ``ScaleIntensityRange(c - w/2, c + w/2, 0, 1)``. This is the symmetric,
    continuous form used in deep-learning pipelines, chosen over DICOM's display function (PS3.3
    C.11.2.1.2.1, "LINEAR": ``(x - (c - 0.5)) / (w - 1) + 0.5``), which is defined for integer
    stored values and a display of discrete grey levels; the two differ by less than ``1 / w``.

    A DICOM file's own window (``meta["window_center"][0]``, ``meta["window_width"][0]`` from
    :func:`monai_rmisr.io.read_dicom`) can be passed as ``(centre, width)``.

    Args:
        window: a preset name of :data:`CT_WINDOWS` (``"lung"``, ``"soft_tissue"``, ``"bone"``,
            ``"brain"``; spaces / hyphens are accepted) or ``(centre, width)`` in HU, ``width > 0``.
        clip: clip the output to ``[0, 1]`` (default), as a display does. Clipped values are lost:
            :meth:`inverse` returns them as the window edges.
        dtype: output dtype; ``None`` keeps the input's float dtype. Default float32.

    Raises:
        ValueError: for an unknown preset or a window that is not ``(finite centre, width > 0)``.
    """

    def __init__(
        self, window: str | Sequence[float] = "lung", clip: bool = True, dtype: DtypeLike | torch.dtype = np.float32
    ) -> None:
        super().__init__(clip, dtype)
        self.centre, self.width = _check_window(window)

    def _limits(self, x: torch.Tensor) -> tuple[float, float]:
        return self.centre - self.width / 2.0, self.centre + self.width / 2.0

    def _default_mapping(self) -> dict[str, Any]:
        a_min, a_max = self._limits(torch.empty(0))
        return {"transform": type(self).__name__, "a_min": a_min, "a_max": a_max}


def _check_percentiles(lower: float, upper: float) -> tuple[float, float]:
    lower, upper = float(lower), float(upper)
    if not (0.0 <= lower < upper <= 100.0):
        raise ValueError(f"percentiles must satisfy 0 <= lower < upper <= 100, got lower={lower}, upper={upper}.")
    return lower, upper


class PercentileNormalize(_LinearIntensity):
    """Map an image's ``lower`` / ``upper`` intensity percentiles to 0 / 1 (MR normalisation).

    MR intensities have no absolute unit and a few very bright voxels (vessels, fat, artefacts)
    would compress a min-max range, so the robust percentiles of the whole image (all channels
    together, NumPy's linear interpolation) define the range. The two values are recorded (see the
    module docstring) so that :meth:`inverse` restores the scanner units. When they coincide (an
    image that is almost entirely one value, e.g. an empty slice), the minimum and maximum are used
    instead; a constant image maps to 0 with ``a_max = a_min + 1``, so the inverse stays exact.

    Args:
        lower: lower percentile in ``[0, 100)``, mapped to 0. Default 0.5.
        upper: upper percentile in ``(lower, 100]``, mapped to 1. Default 99.5.
        clip: clip the output to ``[0, 1]`` (default); clipped values are lost to :meth:`inverse`.
        dtype: output dtype; ``None`` keeps the input's float dtype. Default float32.

    Raises:
        ValueError: for percentiles outside ``0 <= lower < upper <= 100``; when called on an image
            with NaN or infinite values.
    """

    def __init__(
        self,
        lower: float = 0.5,
        upper: float = 99.5,
        clip: bool = True,
        dtype: DtypeLike | torch.dtype = np.float32,
    ) -> None:
        super().__init__(clip, dtype)
        self.lower, self.upper = _check_percentiles(lower, upper)

    def _limits(self, x: torch.Tensor) -> tuple[float, float]:
        values = x.detach().cpu().numpy().astype(np.float64, copy=False).ravel()
        if values.size == 0 or not np.all(np.isfinite(values)):
            raise ValueError(f"{type(self).__name__} needs a non-empty image with finite values.")
        a_min, a_max = (float(v) for v in np.percentile(values, (self.lower, self.upper)))
        if not a_max > a_min:
            a_min, a_max = float(values.min()), float(values.max())
        if not a_max > a_min:
            a_max = a_min + 1.0
        return a_min, a_max


class MinMaxNormalize(PercentileNormalize):
    """Map an image's minimum / maximum to 0 / 1 and record them (the corpus protocol), with inverse.

    ``PercentileNormalize(lower=0, upper=100)``; the same numbers as MONAI's ``ScaleIntensity()``
    and as :func:`monai_rmisr.data.load_corpus`'s normalisation, plus the recorded range and
    :meth:`inverse`. A constant image maps to 0 (the corpus rejects such images instead).

    Args:
        dtype: output dtype; ``None`` keeps the input's float dtype. Default float32.
    """

    def __init__(self, dtype: DtypeLike | torch.dtype = np.float32) -> None:
        super().__init__(lower=0.0, upper=100.0, clip=False, dtype=dtype)


class RGBToLuma(Transform):
    """Convert a channel-first RGB image ``(3, ...)`` to one luma channel ``(1, ...)``.

    ``Y = w_R R + w_G G + w_B B`` in the input's units (e.g. 0..65535 for a 16-bit PNG), unrounded,
    computed in float64 for integer and float64 input; by default the ITU-R BT.601 weights
    ``(0.299, 0.587, 0.114)`` of the corpus protocol and of the usual "Y channel" SR evaluation
    (on full-range data, without the 16..235 offset of studio-range YCbCr). A grey ``(1, ...)``
    image is returned unchanged (a copy), so mixed grey / colour data sets need no branching. There
    is no inverse: colour cannot be recovered from luma.

    Args:
        weights: the three weights for R, G, B (finite numbers).

    Raises:
        ValueError: for weights that are not three finite numbers; when called on an image whose
            channel count is not 1 or 3.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, weights: Sequence[float] = LUMA_WEIGHTS) -> None:
        values = tuple(float(w) for w in weights)
        if len(values) != 3 or not all(math.isfinite(w) for w in values):
            raise ValueError(f"weights must be three finite numbers (for R, G, B), got {weights!r}.")
        self.weights = values

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Args: img: ``(3, *spatial)`` RGB or ``(1, *spatial)`` grey. Returns ``(1, *spatial)``, same type."""
        channels = int(img.shape[0]) if img.ndim > 0 else 0
        if channels not in (1, 3):
            raise ValueError(f"RGBToLuma needs a channel-first (3, ...) RGB or (1, ...) grey image, got {img.shape}.")
        x = _float_tensor(img)
        if channels == 1:
            out = x.clone()
        else:
            w_r, w_g, w_b = self.weights
            out = (x[0] * w_r + x[1] * w_g + x[2] * w_b)[None]  # this order: equal to numpy's sum over axis 0
        return _restore(out, img, _out_dtype(img, None))


class _LinearIntensityd(MapTransform):
    """Dictionary wrapper of a normaliser: records each key's mapping under ``f"{key}_{postfix}"``."""

    def __init__(
        self, keys: KeysCollection, transform: _LinearIntensity, mapping_postfix: str | None, allow_missing_keys: bool
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = transform
        self.mapping_postfix = mapping_postfix

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            mapping = self.transform.mapping(d[key])
            d[key] = self.transform(d[key], mapping=mapping)
            if self.mapping_postfix:
                d[f"{key}_{self.mapping_postfix}"] = mapping
        return d

    def inverse(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        """Map each key back to its original units with its recorded mapping (or the MetaTensor's / fixed one).

        To map another entry (e.g. a prediction ``"pred"`` of input ``"image"``) call the array
        transform: ``d["pred"] = t.transform.inverse(d["pred"], d["image_intensity"])``.
        """
        d = dict(data)
        for key in self.key_iterator(d):
            mapping = d.get(f"{key}_{self.mapping_postfix}") if self.mapping_postfix else None
            d[key] = self.transform.inverse(d[key], mapping)
        return d


class CTWindowd(_LinearIntensityd):
    """Dictionary-based wrapper of :py:class:`CTWindow`.

    Args:
        keys: keys of the images (in HU) to window. See also: :py:class:`monai.transforms.MapTransform`.
        window, clip, dtype: see :py:class:`CTWindow`.
        mapping_postfix: the mapping is written to ``f"{key}_{mapping_postfix}"`` (default
            ``"intensity"``); ``None`` writes nothing. :meth:`inverse` reads it back.
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = CTWindow.backend

    def __init__(
        self,
        keys: KeysCollection,
        window: str | Sequence[float] = "lung",
        clip: bool = True,
        dtype: DtypeLike | torch.dtype = np.float32,
        mapping_postfix: str | None = "intensity",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, CTWindow(window, clip, dtype), mapping_postfix, allow_missing_keys)


class PercentileNormalized(_LinearIntensityd):
    """Dictionary-based wrapper of :py:class:`PercentileNormalize`.

    Each key is normalised by its own percentiles, recorded under ``f"{key}_intensity"`` (a dict
    ``{"transform", "a_min", "a_max"}``) so that :meth:`inverse` restores the original units.

    Args:
        keys: keys of the images to normalise. See also: :py:class:`monai.transforms.MapTransform`.
        lower, upper, clip, dtype: see :py:class:`PercentileNormalize`.
        mapping_postfix: where the mapping goes, ``f"{key}_{mapping_postfix}"``; ``None`` writes
            nothing (then only a MetaTensor's ``meta`` keeps it).
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = PercentileNormalize.backend

    def __init__(
        self,
        keys: KeysCollection,
        lower: float = 0.5,
        upper: float = 99.5,
        clip: bool = True,
        dtype: DtypeLike | torch.dtype = np.float32,
        mapping_postfix: str | None = "intensity",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, PercentileNormalize(lower, upper, clip, dtype), mapping_postfix, allow_missing_keys)


class MinMaxNormalized(_LinearIntensityd):
    """Dictionary-based wrapper of :py:class:`MinMaxNormalize`; records ``f"{key}_intensity"``.

    Args:
        keys: keys of the images to normalise. See also: :py:class:`monai.transforms.MapTransform`.
        dtype: see :py:class:`MinMaxNormalize`.
        mapping_postfix: where the mapping goes, see :py:class:`PercentileNormalized`.
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = MinMaxNormalize.backend

    def __init__(
        self,
        keys: KeysCollection,
        dtype: DtypeLike | torch.dtype = np.float32,
        mapping_postfix: str | None = "intensity",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, MinMaxNormalize(dtype), mapping_postfix, allow_missing_keys)


class RGBToLumad(MapTransform):
    """Dictionary-based wrapper of :py:class:`RGBToLuma` (replaces each key's image by its luma).

    Args:
        keys: keys of the images to convert. See also: :py:class:`monai.transforms.MapTransform`.
        weights: see :py:class:`RGBToLuma`.
        allow_missing_keys: don't raise an exception if a key is missing.
    """

    backend = RGBToLuma.backend

    def __init__(
        self, keys: KeysCollection, weights: Sequence[float] = LUMA_WEIGHTS, allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.converter = RGBToLuma(weights)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.converter(d[key])
        return d
