"""NIfTI-1 / NIfTI-2 reader (nibabel), keeping the affine so outputs can be written back."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from .dicom import MIN_IMAGE_SIZE
from .errors import ImageReadError, ImageTooLargeError
from .image_data import ImageMeta

__all__ = ["read_nifti"]


def _scaling(img: Any) -> tuple[float | None, float | None]:
    """The file's ``scl_slope`` / ``scl_inter`` (nibabel moves them from the header to the proxy)."""
    slope, inter = getattr(img.dataobj, "slope", None), getattr(img.dataobj, "inter", None)
    if slope is None and inter is None:
        try:
            slope, inter = img.header.get_slope_inter()
        except Exception:
            return None, None
    if slope is not None and inter is not None and float(slope) == 1.0 and float(inter) == 0.0:
        return None, None  # unscaled
    return (None if slope is None else float(slope)), (None if inter is None else float(inter))


def read_nifti(path: str | os.PathLike[str], max_values: int | None = None) -> tuple[np.ndarray, ImageMeta]:
    """Read a ``.nii`` / ``.nii.gz`` file into a channel-first ``float32`` array plus metadata.

    The voxel values are scaled by the header's ``scl_slope`` / ``scl_inter`` (nibabel's
    ``get_fdata``). Axes stay in the file's voxel order ``(i, j, k)``, so ``meta["affine"]`` (RAS
    millimetres, nibabel's ``img.affine``) applies unchanged. A trailing singleton third axis is
    dropped (a 2-D image stored as ``X x Y x 1`` comes back as ``(1, X, Y)``); dimensions beyond
    the third (time, vector components) become channels; an RGB(A) NIfTI becomes 3 (4) channels.

    Args:
        path: a NIfTI file.
        max_values: refuse, from the header and before decoding, an image of more values (voxels
            times components) than this; ``None``: no limit.

    Returns:
        ``(array, meta)``: ``array`` is ``(C, X, Y)`` or ``(C, X, Y, Z)``, values in the file's
        units. ``meta`` holds ``filename_or_obj`` / ``source_path``, ``format`` ("nifti"),
        ``affine`` (4x4, RAS), ``space`` ("RAS"), ``spacing`` (one per spatial axis), ``origin``,
        ``direction`` (3x3, columns = unit axis directions), ``scl_slope`` / ``scl_inter``
        (None when unscaled), ``datatype`` (the stored dtype), ``qform_code``, ``sform_code``,
        ``xyzt_units`` and ``spatial_shape``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ImageReadError: the file is empty, truncated or not NIfTI, the image is smaller than 2x2,
            larger than ``max_values`` or holds NaN / infinite values; the message names the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such NIfTI file: '{path}'.")
    if path.is_dir() or path.stat().st_size == 0:
        raise ImageReadError(path, "is a folder." if path.is_dir() else "the file is empty (0 bytes).")
    try:
        img = nib.load(path)
        if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
            raise ImageReadError(path, f"is a {type(img).__name__}, not a NIfTI image.")
        stored = img.get_data_dtype()
        values = int(np.prod(img.shape, dtype=np.int64)) * max(len(stored.names or ()), 1)
        if max_values is not None and values > max_values:
            raise ImageTooLargeError(
                path,
                f"it holds {'x'.join(map(str, img.shape))} voxels = {values:,} values, more than the "
                f"{max_values:,} allowed; nothing was decoded.",
            )
        alpha_dropped = False
        if stored.fields:  # RGB24 / RGBA32: structured voxels; an alpha is dropped, as the raster readers drop it
            raw = np.asanyarray(img.dataobj)  # (an RGBA32 file's colours were scaled one by one, as volumes)
            data = np.stack([raw[name] for name in stored.names[:3]], axis=-1).astype(np.float32)
            alpha_dropped = len(stored.names) > 3
            channels_last = True
        else:
            data = img.get_fdata(dtype=np.float32)
            channels_last = False
    except ImageReadError:
        raise
    except Exception as err:
        msg = " ".join(str(err).split())
        raise ImageReadError(path, f"not a readable NIfTI file ({type(err).__name__}: {msg}).") from err

    spatial = data.shape[:-1] if channels_last else data.shape
    extra = data.shape[-1:] if channels_last else ()
    spatial, rest = spatial[:3], spatial[3:]
    if len(spatial) == 3 and spatial[2] == 1:
        spatial = spatial[:2]
    channels = int(np.prod(rest + extra, dtype=np.int64)) if rest + extra else 1
    if len(spatial) < 2 or min(spatial) < MIN_IMAGE_SIZE:
        raise ImageReadError(
            path, f"the image is {'x'.join(map(str, data.shape))} voxels; at least 2x2 in-plane is needed."
        )
    data = data.reshape(*spatial, channels)
    array = np.ascontiguousarray(np.moveaxis(data, -1, 0), dtype=np.float32)
    if not np.isfinite(array).all():
        bad = int(array.size - np.isfinite(array).sum())
        raise ImageReadError(path, f"{bad} of its {array.size} values are NaN or infinite.")

    header = img.header
    affine = np.asarray(img.affine, dtype=np.float64)
    norms = np.linalg.norm(affine[:3, :3], axis=0)
    direction = affine[:3, :3] / np.where(norms > 0, norms, 1.0)[None, :]
    zooms = tuple(float(z) for z in header.get_zooms()[: len(spatial)])
    slope, inter = _scaling(img)
    meta: dict[str, Any] = {
        "filename_or_obj": str(path),
        "source_path": str(path),
        "format": "nifti",
        "affine": affine,
        "original_affine": affine.copy(),
        "space": "RAS",
        "spacing": zooms,
        "origin": tuple(float(v) for v in affine[:3, 3]),
        "direction": direction,
        "scl_slope": slope,
        "scl_inter": inter,
        "datatype": str(stored),
        "qform_code": int(header["qform_code"]) if "qform_code" in header else None,
        "sform_code": int(header["sform_code"]) if "sform_code" in header else None,
        "xyzt_units": tuple(header.get_xyzt_units()),
        "nifti_intent": str(header.get_intent()[0]),
        "spatial_shape": tuple(array.shape[1:]),
        "color": "RGB" if channels_last and channels >= 3 else "GRAY" if channels == 1 else None,
        "alpha_dropped": alpha_dropped,
    }
    return array, ImageMeta(meta)
