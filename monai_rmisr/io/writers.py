"""Writing an image back in its source's format: NIfTI, PNG / JPEG / TIFF / BMP, DICOM.

:func:`write_image` is the one entry point: it takes the result array, the output metadata (the
source's metadata with the new grid from :func:`~monai_rmisr.io.geometry.resampled_geometry`)
and the source's metadata, and writes atomically (:func:`~monai_rmisr.io.output.atomic_output`).
"""

from __future__ import annotations

import errno
import io
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from .dicom_writer import derivation_tag, write_dicom, write_dicom_series
from .errors import ImageReadError
from .formats import FORMAT_SUFFIXES, format_from_name, image_format
from .geometry import resampling_of
from .output import OutputPathError, atomic_output, check_output_path
from .png_chunks import png_metadata_chunks, set_png_chunks
from .provenance import SOFTWARE
from .series_folders import SeriesInFolder

logger = logging.getLogger(__name__)

__all__ = ["check_output", "output_name", "sr_output_name", "write_image", "write_nifti", "write_raster"]

_FORMAT_NAMES = {
    "dicom": "DICOM",
    "dicom-series": "DICOM series",
    "nifti": "NIfTI",
    "nifti-pair": "Analyze / NIfTI pair (.hdr + .img)",
    "png": "PNG",
    "jpeg": "JPEG",
    "tiff": "TIFF",
    "bmp": "BMP",
}


def output_name(source: str | os.PathLike[str] | SeriesInFolder) -> str:
    """The file (or folder) name of the output for ``source``, in the same format.

    A series folder keeps its name; one series of a folder holding several is named after the series
    (:attr:`~monai_rmisr.io.series_folders.SeriesInFolder.name`). A file keeps its name when its suffix names its
    format or no known format (DICOM files named by UID); a missing NIfTI suffix or a suffix naming
    another format (a JPEG file called ``scan.png``) is replaced by the format's usual one
    (``.nii.gz``, ``.jpg``), and a raster image without a suffix gets one. A file that is no
    readable image is named as it is (it fails later, when it is read).
    """
    if isinstance(source, SeriesInFolder):
        return source.name
    source = Path(source)
    try:
        fmt = image_format(source)
    except (ImageReadError, FileNotFoundError):
        return source.name
    named = format_from_name(source)
    if fmt == "dicom-series" or named == fmt:
        return source.name
    if named is None and fmt != "nifti" and (source.suffix or fmt == "dicom"):
        return source.name
    suffix = FORMAT_SUFFIXES[fmt][0]
    if named is not None:
        stem = source.name[: -len(next(s for s in FORMAT_SUFFIXES[named] if source.name.lower().endswith(s)))]
        return f"{stem}{suffix}"
    return f"{source.stem if fmt == 'nifti' else source.name}{suffix}"


def check_output(
    output: str | os.PathLike[str], source: str | os.PathLike[str] | SeriesInFolder, overwrite: bool = False
) -> Path:
    """Refuse an output that would destroy data or whose name announces another format than is written.

    :func:`~monai_rmisr.io.output.check_output_path` (not the input, not inside it, not an
    existing file without ``overwrite``, not a device or FIFO), then the format rule: the output
    is written in the input's format, so its name must not announce another one. A DICOM file
    or series may have any other name (DICOM files are often named by UID); NIfTI needs
    ``.nii`` or ``.nii.gz`` (nibabel chooses the compression from the name); a raster image may
    have its own format's suffix or an unknown one. Analyze / NIfTI pairs (``.hdr`` + ``.img``)
    are never written.

    Returns:
        ``output`` as a ``Path``.

    Raises:
        OutputPathError: naming the output and what to do; FileNotFoundError, ImageReadError:
            the input is missing or no image.
    """
    source = source.folder if isinstance(source, SeriesInFolder) else Path(source)  # a series: where its files are
    fmt = image_format(source)
    output = check_output_path(output, [source], overwrite, folder=fmt == "dicom-series")
    named = format_from_name(output)
    written = "dicom" if fmt == "dicom-series" else fmt
    if named == written or (named is None and written != "nifti"):
        return output
    if named == "nifti-pair":
        reason = "Analyze / NIfTI pairs (.hdr + .img) are not written"
    elif named is None:
        reason = "NIfTI output needs the suffix .nii or .nii.gz"
    else:
        reason = f"the name says {_FORMAT_NAMES[named]}, but a {_FORMAT_NAMES[fmt]} input is written as "
        reason += "a folder of DICOM files" if fmt == "dicom-series" else _FORMAT_NAMES[written]
    advice = "a folder name without an image suffix" if fmt == "dicom-series" else f"*{FORMAT_SUFFIXES[written][0]}"
    raise OutputPathError(f"output '{output}': {reason}; name it {advice} (formats are not converted).")


def sr_output_name(source: str | os.PathLike[str]) -> str:
    """:func:`output_name` with ``_sr`` added to the name: ``ct.nii.gz`` -> ``ct_sr.nii.gz``, a series
    folder ``1.2.840.5`` -> ``1.2.840.5_sr`` (folder names are not split at dots)."""
    name = output_name(source)
    if Path(source).is_dir():
        return f"{name}_sr"
    stem = name.split(".")[0]
    return f"{stem}_sr{name[len(stem) :]}"


def _made_by(meta: Mapping[str, Any], digest_characters: int = 64, limit: int | None = None) -> str:
    """What made an output, for the files that have a place for a line of text (NIfTI ``descrip``, PNG / TIFF
    text, JPEG comment), as a DICOM output's DerivationDescription records: ``SR x2 monai-rmisr 0.2.0 MODEL
    weights SHA-256 HEX``, the weights' digest cut to ``digest_characters`` (none for ``--model bicubic``). Within
    ``limit`` characters, a long model name (a checkpoint's file name) is shortened (``...``), not the digest."""
    derivation = dict(meta.get("derivation") or {})
    digest = str(derivation.get("weights_sha256") or "")[:digest_characters]
    weights = f" weights SHA-256 {digest}" if digest else ""
    start = f"{derivation_tag(meta)} {SOFTWARE}"
    model = str(derivation.get("model", "") or "")
    if limit is not None and len(start) + 1 + len(model) + len(weights) > limit:
        room = max(limit - len(start) - 1 - len(weights), 3)
        model = model[: room - 3] + "..."
    return f"{start} {model}".rstrip() + weights


def _nifti_description(meta: Mapping[str, Any], theirs: str) -> bytes:
    """The header's ``descrip`` (80 bytes): :func:`_made_by` with the first 12 characters of the weights' digest,
    then the source's own text as far as it fits."""
    ours = _made_by(meta, digest_characters=12, limit=80)
    text = f"{ours}; {theirs.strip()}" if theirs.strip() else ours
    return text.encode("latin-1", "replace")[:80]


def _say_if_alpha_dropped(source_meta: Mapping[str, Any], how: str = "") -> None:
    """Warn that the source's alpha (transparency) channel, dropped on reading, is not in the output."""
    if source_meta.get("alpha_dropped"):
        logger.warning(
            "'%s': its alpha (transparency) channel is not in the output%s.",
            source_meta.get("source_path"),
            f" ({how})" if how else "",
        )


def _integer_scaling(source_meta: Mapping[str, Any]) -> tuple[float, float]:
    """The source's ``scl_slope`` and ``scl_inter`` (1 and 0 where it had none, or a slope of 0: unscaled)."""
    slope, inter = source_meta.get("scl_slope"), source_meta.get("scl_inter")
    slope = float(slope) if slope is not None and np.isfinite(slope) and slope != 0 else 1.0
    inter = float(inter) if inter is not None and np.isfinite(inter) else 0.0
    return slope, inter


def write_nifti(
    array: np.ndarray, meta: Mapping[str, Any], source_meta: Mapping[str, Any], path: str | os.PathLike
) -> None:
    """Write ``(C, X, Y[, Z])`` as NIfTI with the source's header and the new grid's affine.

    ``descrip`` says what made it (scale, package version, model; the source's text after it as far as
    80 characters allow); the slice timing is dropped where the header's slice axis was resampled. The
    affine and ``pixdim`` are those of ``meta``; the source's sform and qform (codes kept, also 0: no
    orientation is claimed that the source had not) each move with the new grid; the stored data
    type is the source's: integer data is rounded to the source's step and clipped to the type, scaled integer data
    keeping the source's ``scl_slope`` / ``scl_inter`` (values in the source's units and steps; a tool that ignores
    the scaling shows it as it shows the source), float data is written as float32. Multi-channel images get their
    extra dimensions back; RGB24 / RGBA32 NIfTI keeps its type, an RGBA32 file's alpha written opaque (with a warning:
    the reader dropped it).
    """
    source = nib.load(str(source_meta["source_path"]))
    header = source.header.copy()
    zoom, _ = resampling_of(meta)
    slice_axis = header.get_dim_info()[2]
    if slice_axis is not None and slice_axis < len(zoom) and float(zoom[slice_axis]) != 1.0:
        # the acquisition's slice axis was resampled: its slice timing no longer holds
        for key in ("slice_code", "slice_start", "slice_end", "slice_duration"):
            header[key] = 0
    header["descrip"] = _nifti_description(meta, str(np.asarray(header["descrip"]).item().decode("latin-1")))
    stored = source.get_data_dtype()
    slope, inter = _integer_scaling(source_meta)  # integers are written in the source's steps
    spatial = tuple(meta["spatial_shape"])
    source_shape = tuple(source.shape)
    data = np.moveaxis(np.asarray(array), 0, -1)  # (*spatial, C)
    if len(spatial) == 2 and len(source_shape) >= 3 and source_shape[2] == 1:
        data = data[:, :, None]
        spatial = (*spatial, 1)
    if stored.fields:
        _say_if_alpha_dropped(source_meta, "written opaque")
        rgb = np.clip(np.rint(data), 0, 255).astype(np.uint8)
        out = np.zeros(spatial, dtype=stored)
        for k, name in enumerate(stored.names):
            out[name] = rgb[..., k] if k < rgb.shape[-1] else 255
        data = out
    else:
        rest = source_shape[3:] if len(source_shape) > 3 else ()
        data = data.reshape(*spatial, *rest) if rest else (data[..., 0] if data.shape[-1] == 1 else data)
        if stored.kind in "iu":
            info = np.iinfo(stored)
            data = np.clip(np.rint((data - inter) / slope), info.min, info.max).astype(stored)
        elif stored.kind == "f":
            data = data.astype(np.float32)
    affine = np.asarray(meta["affine"], dtype=np.float64)
    image_class = nib.Nifti2Image if isinstance(source, nib.Nifti2Image) else nib.Nifti1Image
    image = image_class(data, affine, header=header)
    if not stored.fields and stored.kind in "iu":
        image.set_data_dtype(stored)
        image.header.set_slope_inter(slope, inter)
    # the new grid in the source's voxel indices: each of the source's own sform and qform follows it, so a
    # qform that differs from the sform (another space: scanner and aligned) is moved, not replaced by it
    index_map = np.linalg.solve(np.asarray(source_meta["affine"], dtype=np.float64), affine)
    forms = {kind: getattr(source, f"get_{kind}")(coded=True) for kind in ("sform", "qform")}  # (affine, code)
    if not any(code for _, code in forms.values()) and np.abs(index_map[:3, 3]).max() > 0.5:  # a region (--roi)
        logger.warning(  # ``path`` is the temporary file the output is written to first: not named
            "'%s' has neither a qform nor an sform (both codes 0): its output cannot record where its region lies "
            "in it; viewers place it as they would the whole image",
            source_meta.get("source_path"),
        )
    for kind, (own, code) in forms.items():
        getattr(image, f"set_{kind}")(
            affine if own is None or not code else own @ index_map, code=int(code or 0) if own is not None else 0
        )
    zooms = list(image.header.get_zooms())  # spatial spacing first; time / vector steps kept
    spacing = [float(s) for s in meta["spacing"][:3]]
    zooms[: len(spacing)] = spacing
    image.header.set_zooms(zooms)
    nib.save(image, str(path))


def _dpi(meta: Mapping[str, Any]) -> tuple[float, float] | None:
    if meta.get("spacing_source") != "resolution":
        return None
    row, col = (float(s) for s in meta["spacing"][:2])
    return 25.4 / col, 25.4 / row


def _tiff_carried(
    meta: Mapping[str, Any], source_meta: Mapping[str, Any], dtype: np.dtype, grey: bool
) -> dict[str, Any]:
    """``tifffile.imwrite`` keywords for what a TIFF output keeps of its source: the resolution in the source's
    own unit (inch, centimetre, or none, as ImageJ writes a micron size) times the zoom, the ICC colour
    profile, and an ImageJ file's unit (written as ImageJ metadata for ``grey`` data of a type ImageJ takes; a
    colour or multi-channel output keeps the resolution without it)."""
    import tifffile

    zoom, _ = resampling_of(meta)
    carried: dict[str, Any] = {}
    with tifffile.TiffFile(str(source_meta["source_path"])) as source:
        tags = source.pages[0].tags
        if "XResolution" in tags and "YResolution" in tags:
            (xn, xd), (yn, yd) = tags["XResolution"].value, tags["YResolution"].value
            if (source_meta.get("exif_orientation_applied") or 1) >= 5:  # read turned a quarter: the axes swapped
                (xn, xd), (yn, yd) = (yn, yd), (xn, xd)
            if xn and xd and yn and yd:
                carried["resolution"] = (xn / xd * zoom[1], yn / yd * zoom[0])  # pixels per unit: more of them
                carried["resolutionunit"] = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
        if "InterColorProfile" in tags and not source_meta.get("color_converted"):  # not a CMYK source's profile
            carried["iccprofile"] = bytes(tags["InterColorProfile"].value)
        unit = (source.imagej_metadata or {}).get("unit") if source.is_imagej else None
    if unit and grey and np.dtype(dtype) in (np.uint8, np.uint16, np.float32) and "iccprofile" not in carried:
        carried.update(imagej=True, metadata={"unit": unit})
        carried.pop("resolutionunit", None)  # ImageJ writes its own (none)
    return carried


def _write_all(path: str | os.PathLike, encoded: io.BytesIO) -> None:
    """Write an encoded image through Python's file object, which raises a short write (a full disk) as an ``OSError``
    with its errno: Pillow's JPEG and BMP encoders wrote to the descriptor unchecked (a truncated file, no error) and
    numpy's ``tofile`` under tifffile raised one without an errno."""
    with open(path, "wb") as stream:
        stream.write(encoded.getbuffer())


def _png_text(meta: Mapping[str, Any]) -> dict[str, str]:
    """A PNG output's text of what made it: ``Software`` and ``Description``."""
    return {"Software": SOFTWARE, "Description": _made_by(meta)}


def write_raster(
    array: np.ndarray, meta: Mapping[str, Any], source_meta: Mapping[str, Any], path: str | os.PathLike
) -> None:
    """Write ``(C, H, W)`` (or ``(C, H, W, F)`` TIFF pages) as PNG / JPEG / TIFF / BMP.

    The format and bit depth are the source's: 8-bit stays 8-bit, 16-bit PNG/TIFF stays 16-bit,
    float TIFF stays float; inverted (MINISWHITE) TIFF is written back inverted; palette images
    are written as RGB and a dropped alpha channel is not restored (a warning says so). JPEG is written at
    quality 95 (it is lossy by nature) with the source's chroma subsampling. The resolution (dpi; a TIFF's in its
    own unit, an ImageJ TIFF's unit kept) is updated for the new pixel size; the source's ICC colour profile is kept
    (PNG, JPEG, TIFF; not that of colours read as RGB, a CMYK source's).
    What made it is recorded where the format has a place for it: PNG ``Software`` / ``Description`` text, TIFF
    ``Software`` / ``ImageDescription`` (not in an ImageJ file, whose description is ImageJ's), JPEG comment.
    """
    from PIL import Image

    fmt = source_meta["format"]
    bits = int(source_meta.get("bit_depth") or 8)
    values = np.asarray(array, dtype=np.float64)
    if source_meta.get("inverted"):
        values = (2**bits - 1) - values
    dtype = np.dtype(source_meta.get("dtype") or "uint8")
    if source_meta.get("palette_applied") and fmt != "tiff":
        dtype = np.dtype(np.uint8)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        values = np.clip(np.rint(values), info.min, min(info.max, 2**bits - 1) if bits < 32 else info.max)
    data = np.moveaxis(values.astype(dtype), 0, -1)  # (H, W[, F], C)
    _say_if_alpha_dropped(source_meta)
    dpi = _dpi(meta)
    if fmt == "tiff":
        import tifffile

        if data.ndim == 4:
            data = np.moveaxis(data, 2, 0)  # pages first
        data = data[..., 0] if data.shape[-1] == 1 else data
        photometric = "minisblack" if data.shape[-1] != 3 or np.asarray(array).shape[0] != 3 else "rgb"
        if source_meta.get("inverted"):
            photometric = "miniswhite"
        carried = _tiff_carried(meta, source_meta, data.dtype, grey=photometric == "minisblack" and data.ndim <= 3)
        if not carried.get("imagej"):  # ImageJ keeps its own metadata in the description
            carried["description"] = _made_by(meta)
        encoded = io.BytesIO()
        tifffile.imwrite(encoded, data, photometric=photometric, software=SOFTWARE, **carried)
        _write_all(path, encoded)
        return
    data = data[..., 0] if data.shape[-1] == 1 else data
    with Image.open(str(source_meta["source_path"])) as source:  # the colour profile holds for the output too,
        icc_profile = source.info.get("icc_profile")  # unless the reader converted the colours (a CMYK profile)
    if source_meta.get("color_converted") or fmt not in ("png", "jpeg"):
        icc_profile = None
    if data.ndim == 3 and data.dtype == np.uint16:  # 16-bit colour PNG: Pillow cannot write it, ITK writes no metadata
        import itk

        image = itk.image_from_array(np.ascontiguousarray(data), is_vector=True)
        try:
            itk.imwrite(image, str(path))
        except RuntimeError as err:  # ITK's exception text is all it says of a full disk
            if "No space left on device" in str(err):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)) from err
            raise
        set_png_chunks(path, png_metadata_chunks(dpi, icc_profile, _png_text(meta)))
        return
    image = Image.fromarray(np.ascontiguousarray(data))
    options: dict[str, Any] = {"format": {"png": "PNG", "jpeg": "JPEG", "bmp": "BMP"}.get(fmt, "PNG")}
    if dpi:
        options["dpi"] = dpi
    if icc_profile:
        options["icc_profile"] = icc_profile
    if fmt == "jpeg":
        options["quality"] = 95
        options["comment"] = _made_by(meta)
        if source_meta.get("jpeg_subsampling") in (0, 1, 2):  # Pillow's default, 4:2:0, halves a 4:4:4 colour
            options["subsampling"] = int(source_meta["jpeg_subsampling"])
    elif fmt == "png":
        from PIL.PngImagePlugin import PngInfo

        text = PngInfo()
        for key, value in _png_text(meta).items():
            text.add_text(key, value)
        options["pnginfo"] = text
    encoded = io.BytesIO()
    image.save(encoded, **options)
    _write_all(path, encoded)


def write_image(
    array: np.ndarray, meta: Mapping[str, Any], source_meta: Mapping[str, Any], path: str | os.PathLike
) -> Path:
    """Write ``array`` (reader units, channel-first) to ``path`` in the format of its source, atomically.

    DICOM files and NIfTI / raster images become one file; a DICOM series becomes a folder of a
    new derived series. Nothing is left at ``path`` (or its previous content stays) if writing
    fails. The caller checks ``path`` with :func:`~monai_rmisr.io.output.check_output_path` first.

    Returns:
        ``path``.
    """
    path = Path(path)
    fmt = source_meta["format"]
    with atomic_output(path, folder=fmt == "dicom-series") as temporary:
        if fmt == "dicom-series":
            write_dicom_series(array, meta, source_meta, temporary)
        elif fmt == "dicom":
            write_dicom(array, meta, source_meta, temporary)
        elif fmt == "nifti":
            write_nifti(array, meta, source_meta, temporary)
        else:
            write_raster(array, meta, source_meta, temporary)
    return path
