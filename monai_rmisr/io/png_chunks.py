"""The metadata chunks of a PNG file, written into one that another library encoded.

Pillow cannot write a 16-bit colour PNG, and ITK's writer, which can, writes none of the chunks a raster output
keeps of its source (the resolution, the ICC colour profile, what made it) and adds an ``sCAL`` chunk of its own
default spacing (1 m a pixel). :func:`set_png_chunks` rewrites such a file's chunk list around its pixels, which
stay as libpng encoded them; no PNG library we depend on can do this for 16-bit colour.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["png_chunk", "png_metadata_chunks", "set_png_chunks"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: chunks that describe the image's pixels' place, colours or meaning: those of the encoder go where ours come
_REPLACED = frozenset({b"pHYs", b"sCAL", b"iCCP", b"sRGB", b"gAMA", b"cHRM", b"tEXt", b"zTXt", b"iTXt"})


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_metadata_chunks(
    dpi: tuple[float, float] | None, icc_profile: bytes | None, text: Mapping[str, str]
) -> list[bytes]:
    """``pHYs`` (``dpi`` (x, y) as pixels a metre), ``iCCP`` (the profile, deflated) and one ``tEXt`` per entry of
    ``text`` (Latin-1 keys; a value Latin-1 cannot hold in an uncompressed UTF-8 ``iTXt``)."""
    chunks = []
    if dpi:
        per_metre = [round(d / 0.0254) for d in dpi]
        chunks.append(png_chunk(b"pHYs", struct.pack(">IIB", *per_metre, 1)))
    if icc_profile:
        chunks.append(png_chunk(b"iCCP", b"ICC profile\0\0" + zlib.compress(icc_profile)))
    for key, value in text.items():
        try:  # as Pillow's PngInfo.add_text: tEXt where Latin-1 holds it, else UTF-8 iTXt
            chunks.append(png_chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1")))
        except UnicodeEncodeError:
            chunks.append(png_chunk(b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + value.encode("utf-8")))
    return chunks


def set_png_chunks(path: str | os.PathLike[str], chunks: Iterable[bytes]) -> None:
    """Rewrite the PNG file ``path`` with ``chunks`` right after its header, in place of its own chunks of those kinds
    (resolution, colour, text: ``_REPLACED``); its pixel data and other chunks unchanged.

    Raises:
        ValueError: ``path`` is not a PNG file.
    """
    path = Path(path)
    data = path.read_bytes()
    if not data.startswith(_SIGNATURE):
        raise ValueError(f"'{path}' is not a PNG file.")
    kept, offset = [], len(_SIGNATURE)
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        end = offset + 12 + length
        if kind not in _REPLACED:
            kept.append(data[offset:end])
        offset = end
    if not kept or kept[0][4:8] != b"IHDR":
        raise ValueError(f"'{path}' is not a PNG file (no IHDR chunk first).")
    path.write_bytes(_SIGNATURE + kept[0] + b"".join(chunks) + b"".join(kept[1:]))
