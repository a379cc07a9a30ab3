"""Whether a DICOM object's pixel data went through lossy compression, read from the coding itself.

A derived image is written uncompressed, so the only record that its pixels once went through lossy coding is
Lossy Image Compression (0028,2110) "01" (PS3.3 C.7.6.1.1.5: once lossy, always "01"). Sources do not always say:
the JPEG-LS near-lossless files of pydicom's test data carry no Lossy Image Compression at all. What the coding
shows for sure:

- JPEG Baseline and Extended (ISO 10918-1; transfer syntaxes 1.2.840.10008.1.2.4.50 and .51): always lossy.
- JPEG-LS (ISO 14495-1; .4.81, "near-lossless"): lossy when a scan allows an error (its NEAR parameter > 0); with
  NEAR 0 it is lossless.
- JPEG 2000 (ISO 15444-1; .4.91, and High-Throughput JPEG 2000, ISO 15444-15, .4.203): lossy when the codestream
  uses the irreversible 9-7 wavelet. The reversible 5-3 wavelet is lossless only if no quality layer was
  dropped, which the codestream does not say: there only the source's own Lossy Image Compression can tell, and
  a writer keeps it.

The lossless-only transfer syntaxes (JPEG Lossless, JPEG-LS Lossless, JPEG 2000 Lossless Only, RLE, the
uncompressed ones) are never lossy here.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames

__all__ = ["lossy_compression_method"]

#: transfer syntax UID: the Lossy Image Compression Method (0028,2114) term (CID 7050) its lossy coding has
_ALWAYS_LOSSY = {
    "1.2.840.10008.1.2.4.50": "ISO_10918_1",  # JPEG Baseline (Process 1)
    "1.2.840.10008.1.2.4.51": "ISO_10918_1",  # JPEG Extended (Process 2 & 4)
}
_JPEG_LS_NEAR_LOSSLESS = {"1.2.840.10008.1.2.4.81": "ISO_14495_1"}
_JPEG_2000_EITHER = {
    "1.2.840.10008.1.2.4.91": "ISO_15444_1",  # JPEG 2000 Image Compression
    "1.2.840.10008.1.2.4.203": "ISO_15444_15",  # High-Throughput JPEG 2000 Image Compression
}
_START_OF_SCAN = 0xDA  # JPEG-LS: SOS
_CODING_STYLE_DEFAULT = 0x52  # JPEG 2000: COD
_START_OF_TILE = 0x90  # JPEG 2000: SOT, the end of the main header
_IRREVERSIBLE_9_7 = 0


def _segments(code: bytes, start: int) -> Iterator[tuple[int, bytes]]:
    """The marker segments of a JPEG-family header from ``start``: (marker's second byte, the segment's body)."""
    at = start
    while at + 4 <= len(code) and code[at] == 0xFF:
        marker, length = code[at + 1], int.from_bytes(code[at + 2 : at + 4], "big")
        if length < 2:
            return
        yield marker, code[at + 4 : at + 2 + length]
        at += 2 + length


def _jpeg_ls_near(code: bytes) -> int | None:
    """The NEAR parameter of a JPEG-LS stream's first scan (its allowed error per sample), or None if unreadable."""
    if code[:2] != b"\xff\xd8":
        return None
    for marker, body in _segments(code, 2):
        if marker == _START_OF_SCAN:  # Ns, then Ns (component, table) pairs, then NEAR
            near_at = 1 + 2 * body[0] if body else len(body)
            return body[near_at] if near_at < len(body) else None
    return None


def _jpeg_2000_irreversible(code: bytes) -> bool:
    """Whether a JPEG 2000 codestream (raw, or inside JP2 boxes) uses the irreversible 9-7 wavelet."""
    start = code.find(b"\xff\x4f\xff\x51")  # SOC, then SIZ: the codestream's first two markers
    if start < 0:
        return False
    for marker, body in _segments(code, start + 2):
        if marker == _CODING_STYLE_DEFAULT:  # Scod, SGcod (4 bytes), then levels, block sizes, style, transform
            return len(body) > 9 and body[9] == _IRREVERSIBLE_9_7
        if marker == _START_OF_TILE:
            return False
    return False


def _first_frame(ds: Dataset) -> bytes | None:
    """The encoded bytes of the first frame of encapsulated pixel data, or None when there are none to read."""
    data = ds.get("PixelData")
    if not isinstance(data, bytes | bytearray) or not data:
        return None
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        return next(generate_frames(data, number_of_frames=frames))
    except Exception:  # not encapsulated as the transfer syntax says (struct.error, ValueError ...): nothing to read
        return None


def lossy_compression_method(ds: Dataset) -> str | None:
    """The Lossy Image Compression Method term of ``ds``'s pixel data coding when that coding is lossy, else None.

    Args:
        ds: a data set read with its (still encoded) pixel data and its file meta (the transfer syntax).

    Returns:
        ``"ISO_10918_1"`` (JPEG), ``"ISO_14495_1"`` (JPEG-LS near-lossless with NEAR > 0), ``"ISO_15444_1"`` or
        ``"ISO_15444_15"`` (JPEG 2000 / HTJ2K with the irreversible wavelet); None for a lossless coding, for one
        this cannot tell (JPEG 2000's reversible wavelet), and for pixel data that is not there or not readable.
        The first frame stands for all.
    """
    syntax = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or "")
    if syntax in _ALWAYS_LOSSY:
        return _ALWAYS_LOSSY[syntax]
    if syntax not in _JPEG_LS_NEAR_LOSSLESS and syntax not in _JPEG_2000_EITHER:
        return None
    code = _first_frame(ds)
    if code is None:
        return None
    if syntax in _JPEG_LS_NEAR_LOSSLESS:
        near = _jpeg_ls_near(code)
        return _JPEG_LS_NEAR_LOSSLESS[syntax] if near else None
    return _JPEG_2000_EITHER[syntax] if _jpeg_2000_irreversible(code) else None
