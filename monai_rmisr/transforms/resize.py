"""MATLAB-compatible bicubic ``imresize`` for channel-first images and volumes.

The standard SR degradation (``LR = imresize(HR, 1/s, 'bicubic')`` in MATLAB) is not what
``torch.nn.functional.interpolate``, OpenCV or scikit-image compute: MATLAB widens the cubic
kernel when shrinking (antialiasing) and pads by mirroring. :func:`imresize` reproduces MATLAB's
``imresize(..., 'bicubic')`` (equivalently BasicSR's ``matlab_functions.imresize``) without the
final rounding of integer images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from monai.config import NdarrayOrTensor
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from monai.utils import MetaKeys

__all__ = ["imresize", "resized_affine", "with_meta_of"]

_KERNEL_WIDTH = 4.0  # support of MATLAB's cubic kernel, in input pixels at scale 1


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with ``a = -0.5`` (MATLAB's ``cubic``)."""
    absx = np.abs(x)
    absx2 = absx**2
    absx3 = absx**3
    inner = (1.5 * absx3 - 2.5 * absx2 + 1.0) * (absx <= 1)
    outer = (-0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0) * ((absx > 1) & (absx <= 2))
    return inner + outer


@lru_cache(maxsize=64)
def _contributions(in_length: int, out_length: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB's ``contributions``: per output pixel, the input indices and weights.

    Returns ``(indices, weights)``, both of shape ``(out_length, taps)``; indices are 0-based and
    already mirrored into ``[0, in_length)``; weights are float64 and sum to 1 per row.
    """
    kernel_width = _KERNEL_WIDTH
    if scale < 1:  # antialiasing: stretch the kernel by 1/scale, keep unit area

        def kernel(x: np.ndarray) -> np.ndarray:
            return scale * _cubic(scale * x)

        kernel_width = kernel_width / scale
    else:
        kernel = _cubic
    x = np.arange(1, out_length + 1, dtype=np.float64)  # 1-based output coordinates
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)  # their 1-based positions in the input
    left = np.floor(u - kernel_width / 2.0)
    taps = math.ceil(kernel_width) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    weights = kernel(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # MATLAB's "symmetric" boundary: aux = [1:n, n:-1:1], index = aux(mod(index - 1, 2n) + 1)
    aux = np.concatenate([np.arange(in_length), np.arange(in_length)[::-1]])
    indices = aux[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]
    keep = np.any(weights != 0, axis=0)  # drop tap columns that are zero for every output pixel
    indices, weights = np.ascontiguousarray(indices[:, keep]), np.ascontiguousarray(weights[:, keep])
    indices.setflags(write=False)
    weights.setflags(write=False)
    return indices, weights


_CHUNK_ELEMENTS = 1 << 24  # bound on the gathered (out_length, taps, columns) buffer of one step


def _resize_dim(x: torch.Tensor, dim: int, out_length: int, scale: float) -> torch.Tensor:
    """Resize tensor ``x`` along ``dim`` (absolute): one gather of the taps, one batched weighted sum.

    The axis is moved to the front and the rest flattened into columns; per column chunk the taps
    are gathered as ``(out_length, taps, columns)`` and contracted with the ``(out_length, taps)``
    weights by ``bmm``. A handful of large ops per axis (not one per tap) keeps this fast on a
    busy CPU; the chunking bounds the memory of large volumes.
    """
    indices_np, weights_np = _contributions(x.shape[dim], out_length, scale)
    taps = indices_np.shape[1]
    indices = torch.tensor(indices_np.ravel(), device=x.device)
    weights = torch.tensor(weights_np, device=x.device, dtype=x.dtype).unsqueeze(1)  # (out, 1, taps)
    moved = torch.movedim(x, dim, 0)
    rest = moved.shape[1:]
    flat = moved.reshape(moved.shape[0], -1)  # (in_length, columns)
    columns = flat.shape[1]
    chunk = max(1, _CHUNK_ELEMENTS // (out_length * taps))
    pieces = []
    for start in range(0, max(columns, 1), chunk):  # one step even with zero columns
        block = flat[:, start : start + chunk]
        gathered = block.index_select(0, indices).view(out_length, taps, block.shape[1])
        pieces.append(torch.bmm(weights, gathered).squeeze(1))
    out = pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=1)
    return torch.movedim(out.view(out_length, *rest), 0, dim)


def numpy_to_torch(arr: np.ndarray) -> torch.Tensor:
    """``torch.from_numpy`` that also accepts read-only, strided and non-native byte order arrays."""
    arr = np.ascontiguousarray(arr)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if not arr.flags.writeable:
        arr = arr.copy()
    return torch.from_numpy(arr)


def _check_scale(value: float, name: str) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}.")
    return value


def _per_axis(value, n: int, name: str) -> tuple:
    if isinstance(value, (Sequence, np.ndarray, torch.Tensor)) and not isinstance(value, str):
        values = tuple(value.tolist() if isinstance(value, (np.ndarray, torch.Tensor)) else value)
        if len(values) != n:
            raise ValueError(f"{name} must be a single value or have {n} entries (one per resized axis), got {value}.")
        return values
    return (value,) * n


def imresize(
    img: NdarrayOrTensor,
    scale: float | Sequence[float] | None = None,
    output_size: int | Sequence[int] | None = None,
    spatial_axes: int | Sequence[int] | None = None,
) -> NdarrayOrTensor:
    """Bicubic resize with MATLAB ``imresize(img, scale, 'bicubic')`` semantics.

    Per resized axis, output pixel ``x`` (1-based) reads input position
    ``u = x / s + 0.5 * (1 - 1 / s)`` through Keys' cubic kernel (``a = -0.5``, support 4). When
    shrinking (``s < 1``) the kernel is stretched to ``4 / s`` input pixels and scaled by ``s``
    (antialiasing). Weights are normalised to sum to 1 per output pixel and out-of-range indices
    are mirrored with the edge pixel repeated (MATLAB's ``symmetric``). The axes are resized one
    after another in order of increasing scale factor (MATLAB's order; ties keep axis order).
    There is no rounding and no clipping, so overshoot of the cubic kernel is kept.

    Args:
        img: channel-first image, ``(C, H)``, ``(C, H, W)`` or ``(C, H, W, D)``, numpy array or
            torch tensor (any device). float32 / float64 are kept; other dtypes are computed and
            returned as float32, except float16 / bfloat16, computed in float32 and cast back.
        scale: scale factor, one value or one per resized axis (``> 1`` enlarges). The output
            length of an axis of length ``n`` is ``ceil(n * scale)`` (MATLAB, in double precision).
        output_size: instead of ``scale``, the output length, one value or one per resized axis;
            the scale of each axis is then ``output / input`` as in MATLAB.
        spatial_axes: 0-based indices of the spatial axes to resize (negative values count from
            the end), e.g. ``(2,)`` for the slice axis of a ``(C, H, W, D)`` volume to simulate thick
            slices; the other axes are untouched. Default: all spatial axes.

    Returns:
        The resized image, of the input's type (numpy array, tensor or MetaTensor) and device. A
        MetaTensor keeps its metadata, with the affine updated to the new voxel grid.

    Raises:
        ValueError: when neither or both of ``scale`` and ``output_size`` are given, when a scale
            is not finite and > 0, an output size is not a positive integer, or an axis is invalid.
    """
    if (scale is None) == (output_size is None):
        raise ValueError("exactly one of scale and output_size must be given.")
    ndim = img.ndim
    spatial_dims = ndim - 1
    if spatial_dims < 1 or spatial_dims > 3:
        raise ValueError(f"expected a channel-first image with 1 to 3 spatial dims, got shape {tuple(img.shape)}.")
    if spatial_axes is None:
        axes = tuple(range(spatial_dims))
    else:
        raw_axes = (spatial_axes,) if isinstance(spatial_axes, int) else tuple(spatial_axes)
        if not raw_axes or any(not -spatial_dims <= int(a) < spatial_dims for a in raw_axes):
            raise ValueError(f"spatial_axes must index the {spatial_dims} spatial axes, got {spatial_axes}.")
        axes = tuple(int(a) % spatial_dims for a in raw_axes)
        if len(set(axes)) != len(axes):
            raise ValueError(f"spatial_axes must not repeat an axis, got {spatial_axes}.")
    in_sizes = [int(img.shape[1 + a]) for a in axes]
    if min(in_sizes) < 1:
        raise ValueError(f"cannot resize an empty axis, got shape {tuple(img.shape)}.")
    if scale is not None:
        scales = [_check_scale(s, "scale") for s in _per_axis(scale, len(axes), "scale")]
        out_sizes = [math.ceil(n * s) for n, s in zip(in_sizes, scales, strict=True)]
    else:
        sizes = _per_axis(output_size, len(axes), "output_size")
        if any(isinstance(o, bool) or int(o) != o or o < 1 for o in sizes):
            raise ValueError(f"output_size must be positive integers, got {output_size}.")
        out_sizes = [int(o) for o in sizes]
        scales = [o / n for o, n in zip(out_sizes, in_sizes, strict=True)]

    is_numpy = isinstance(img, np.ndarray)
    x = numpy_to_torch(img) if is_numpy else img
    if isinstance(x, MetaTensor):
        x = x.as_tensor()
    out_dtype = x.dtype if x.is_floating_point() else torch.float32
    work_dtype = out_dtype if out_dtype in (torch.float32, torch.float64) else torch.float32
    x = x.to(work_dtype)

    order = sorted(range(len(axes)), key=lambda i: scales[i])  # stable: ties keep axis order
    resized = False
    for i in order:
        if out_sizes[i] == in_sizes[i] and scales[i] == 1.0:
            continue  # MATLAB's weights are exactly the identity here
        x = _resize_dim(x, 1 + axes[i], out_sizes[i], scales[i])
        resized = True
    if not resized:
        x = x.clone()  # never hand back (a view of) the input
    x = x.to(out_dtype).contiguous()

    if is_numpy:
        return x.numpy()
    if isinstance(img, MetaTensor) and get_track_meta():
        return with_meta_of(x, img, resized_affine(img.affine, axes, scales))
    return x


def with_meta_of(data: torch.Tensor, source: MetaTensor, affine: torch.Tensor) -> MetaTensor:
    """``data``, an image of ``source`` on another grid (resized, super-resolved, a patch), as a MetaTensor with
    ``source``'s metadata and the affine of its own grid, without ``source``'s transform history.

    The metadata dict is copied (``source``'s is not changed); the affine is stored in it directly, keeping
    ``source``'s number of spatial dims: MONAI's ``affine`` setter would recount them from the 4 x 4 affine, and a
    2-D image loaded without a channel axis would then report three spacings. ``applied_operations`` is empty:
    those transforms were done on ``source``'s grid, and MONAI's ``Invertd`` would replay them on this image
    (a LR image that kept its HR image's history came back from ``Invertd`` with the HR spacing).
    """
    out = MetaTensor(data.as_subclass(torch.Tensor) if isinstance(data, MetaTensor) else data)
    out.copy_meta_from(source)
    out.meta = dict(out.meta)
    out.meta[MetaKeys.AFFINE] = torch.as_tensor(affine, dtype=torch.float64)
    out.applied_operations = []
    return out


def resized_affine(affine: torch.Tensor, axes: Sequence[int], scales: Sequence[float]) -> torch.Tensor:
    """Affine of the resized grid: output voxel ``j`` (0-based) sits at input ``(j + 0.5) / s - 0.5``."""
    affine = torch.as_tensor(affine, dtype=torch.float64).clone()
    if affine.ndim != 2:
        return affine
    rank = affine.shape[0] - 1
    grid = torch.eye(rank + 1, dtype=torch.float64)
    for axis, s in zip(axes, scales, strict=True):
        if axis < rank:
            grid[axis, axis] = 1.0 / s
            grid[axis, rank] = 0.5 / s - 0.5
    return affine @ grid
