import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import skimage
import tifffile
from PIL import Image, ImageOps, JpegImagePlugin

from monai_rmisr.io import ImageReadError, read_image, read_raster
from monai_rmisr.io.png_chunks import png_chunk

SKIMAGE_DATA = Path(skimage.__file__).parent / "data"


def test_rgb_jpeg_decoded_by_pillow():
    array, meta = read_raster(SKIMAGE_DATA / "retina.jpg")
    assert array.shape == (3, 1411, 1411) and array.dtype == np.float32
    assert meta["format"] == "jpeg" and meta["decoder"] == "pillow" and meta["bit_depth"] == 8
    np.testing.assert_array_equal(np.moveaxis(array, 0, -1), np.asarray(Image.open(SKIMAGE_DATA / "retina.jpg")))
    assert meta["spacing_source"] == "resolution"  # the file carries a JFIF density


def test_grey_and_rgb_png():
    grey, meta = read_raster(SKIMAGE_DATA / "microaneurysms.png")
    assert grey.shape == (1, 102, 102) and meta["color"] == "GRAY" and meta["format"] == "png"
    rgb, meta = read_raster(SKIMAGE_DATA / "ihc.png")
    assert rgb.shape == (3, 512, 512) and meta["color"] == "RGB" and rgb.min() >= 0 and rgb.max() <= 255


def test_16_bit_grey_png_keeps_16_bits(tmp_path):
    values = (np.arange(40 * 30).reshape(40, 30) * 54).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "x.png")
    array, meta = read_raster(tmp_path / "x.png")
    assert meta["bit_depth"] == 16 and meta["dtype"] == "uint16"
    np.testing.assert_array_equal(array[0], values)
    assert array.max() > 255


def _png_rgb16(path: Path, values: np.ndarray, colour_type: int = 2, chunks: bytes = b"") -> None:
    """A minimal 16-bit PNG writer (Pillow cannot write one): RGB (2), grey + alpha (4) or RGB + alpha (6); ``chunks``
    (whole chunks) go before the pixels."""
    h, w, _ = values.shape
    raw = b"".join(b"\x00" + values[i].astype(">u2").tobytes() for i in range(h))

    header = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + chunks
        + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b"")
    )


def test_16_bit_colour_png_is_not_truncated(tmp_path):
    pytest.importorskip("itk")
    values = np.random.default_rng(0).integers(0, 65536, size=(6, 9, 3)).astype(np.uint16)
    _png_rgb16(tmp_path / "rgb16.png", values)
    array, meta = read_raster(tmp_path / "rgb16.png")
    assert meta["bit_depth"] == 16 and meta["decoder"] == "itk"
    np.testing.assert_array_equal(np.moveaxis(array, 0, -1), values)


def test_palette_and_alpha_pngs(tmp_path):
    grey = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (8, 1))
    Image.fromarray(grey).convert("P").save(tmp_path / "p.png")
    array, meta = read_raster(tmp_path / "p.png")
    assert meta["palette_applied"] and array.shape == (3, 8, 25)
    np.testing.assert_array_equal(array[1], grey)
    rgba = np.dstack([grey, grey, grey, np.full_like(grey, 128)])
    Image.fromarray(rgba).save(tmp_path / "a.png")
    array, meta = read_raster(tmp_path / "a.png")
    assert meta["alpha_dropped"] and array.shape == (3, 8, 25)


def test_png_resolution_becomes_spacing(tmp_path):
    Image.fromarray(np.zeros((4, 6), np.uint8)).save(tmp_path / "d.png", dpi=(254, 127))
    _, meta = read_raster(tmp_path / "d.png")
    assert meta["spacing"] == pytest.approx((0.2, 0.1), rel=1e-3)  # (row, column) mm


def test_multipage_tiffs():
    grey, meta = read_raster(SKIMAGE_DATA / "multipage.tif")
    assert grey.shape == (1, 15, 10, 2) and meta["format"] == "tiff" and meta["number_of_frames"] == 2
    rgb, meta = read_raster(SKIMAGE_DATA / "multipage_rgb.tif")
    assert rgb.shape == (3, 10, 10, 2) and meta["color"] == "RGB"
    stack = tifffile.imread(SKIMAGE_DATA / "multipage_rgb.tif")  # (Q, S, Y, X), planar
    np.testing.assert_allclose(rgb[..., 1], stack[1], rtol=1e-6)


def test_pages_written_one_by_one_are_one_stack_and_other_images_are_left_out_saying_so(tmp_path, caplog):
    # tifffile's TiffWriter in a loop makes each page a series of its own: pages 2 and up were lost without a word
    pages = np.random.default_rng(0).integers(0, 65535, (3, 12, 10), dtype=np.uint16)
    with tifffile.TiffWriter(tmp_path / "pages.tif") as tif:
        for page in pages:
            tif.write(page)
    data, meta = read_raster(tmp_path / "pages.tif")
    assert data.shape == (1, 12, 10, 3) and meta["number_of_frames"] == 3
    np.testing.assert_array_equal(data[0].transpose(2, 0, 1), pages)
    with tifffile.TiffWriter(tmp_path / "thumb.tif") as tif:  # an image and a smaller one (a thumbnail)
        tif.write(pages[0])
        tif.write(pages[1][:6, :5])
    with caplog.at_level("WARNING"):
        data, _ = read_raster(tmp_path / "thumb.tif")
    assert data.shape == (1, 12, 10)
    assert any("read its first image (12x10); 1 other image(s)" in r.getMessage() for r in caplog.records)
    with tifffile.TiffWriter(tmp_path / "pages_thumb.tif") as tif:  # pages, then a thumbnail: the pages are a stack
        for page in pages:
            tif.write(page)
        tif.write(pages[1][:6, :5])
    caplog.clear()
    with caplog.at_level("WARNING"):
        data, _ = read_raster(tmp_path / "pages_thumb.tif")
    assert data.shape == (1, 12, 10, 3)
    assert any("(12x10 and 2 more of its size as pages); 1 other image(s)" in r.getMessage() for r in caplog.records)
    with tifffile.TiffWriter(tmp_path / "scenes.ome.tif", ome=True) as tif:  # OME series: positions, not slices
        tif.write(pages[0])
        tif.write(pages[1])
    data, _ = read_raster(tmp_path / "scenes.ome.tif")
    np.testing.assert_array_equal(data[0], pages[0])


def test_16_bit_and_min_is_white_tiff(tmp_path):
    values = (np.arange(12 * 10).reshape(12, 10) * 500).astype(np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", values)
    image = read_image(tmp_path / "a.tif")
    assert image.meta["bit_depth"] == 16 and image.array.shape == (1, 12, 10)
    np.testing.assert_array_equal(image.array[0], values)
    tifffile.imwrite(tmp_path / "w.tif", values, photometric="miniswhite")
    array, meta = read_raster(tmp_path / "w.tif")
    assert meta["inverted"]
    np.testing.assert_array_equal(array[0], 65535 - values.astype(np.int64))


def test_format_is_detected_from_content(tmp_path):
    target = tmp_path / "no_suffix"
    target.write_bytes((SKIMAGE_DATA / "microaneurysms.png").read_bytes())
    image = read_image(target)
    assert image.meta["format"] == "png" and image.array.shape == (1, 102, 102)


def test_16_bit_grey_and_alpha_png_stays_16_bit_grey(tmp_path):
    # Pillow read it as 8-bit RGBA: the output was 8-bit RGB
    pytest.importorskip("itk")
    values = np.random.default_rng(0).integers(0, 65536, size=(6, 9, 2)).astype(np.uint16)
    _png_rgb16(tmp_path / "la16.png", values, colour_type=4)
    array, meta = read_raster(tmp_path / "la16.png")
    assert array.shape == (1, 6, 9) and meta["bit_depth"] == 16 and meta["color"] == "GRAY" and meta["alpha_dropped"]
    np.testing.assert_array_equal(array[0], values[..., 0])


@pytest.mark.parametrize("step", [257, 256, 1])
def test_a_palette_tiff_gives_its_colours_in_their_own_bit_depth(tmp_path, step):
    # the colormap is in 16-bit units: its colours were written into the index's 8 bits, clipped (90 % white)
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256 if step > 1 else 65536, size=(3, 256)) * step
    index = rng.integers(0, 256, size=(10, 12)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "p.tif", index, photometric="palette", colormap=colours.astype(np.uint16))
    array, meta = read_raster(tmp_path / "p.tif")
    assert meta["palette_applied"] and array.shape == (3, 10, 12)
    eight_bit = step > 1
    assert (meta["bit_depth"], meta["dtype"]) == ((8, "uint8") if eight_bit else (16, "uint16"))
    np.testing.assert_array_equal(array, colours[:, index] // step)
    from monai_rmisr.inference.upscale import Upscaler

    Upscaler(2, model="bicubic").file(tmp_path / "p.tif", tmp_path / "out.tif")
    out = tifffile.imread(tmp_path / "out.tif")
    assert out.shape == (20, 24, 3) and out.dtype == (np.uint8 if eight_bit else np.uint16)
    assert abs(float(out.mean()) - float(array.mean())) < 0.02 * float(array.max())  # not clipped to white


def test_a_cmyk_tiff_is_read_as_pillow_reads_a_cmyk_image(tmp_path):
    # its K sample was dropped as if it were alpha, and C, M, Y taken for R, G, B (colours inverted)
    cmyk = np.random.default_rng(0).integers(0, 256, size=(10, 12, 4)).astype(np.uint8)
    Image.fromarray(cmyk, mode="CMYK").save(tmp_path / "cmyk.tif")
    array, meta = read_raster(tmp_path / "cmyk.tif")
    expected = np.asarray(Image.open(tmp_path / "cmyk.tif").convert("RGB"))
    assert array.shape == (3, 10, 12) and meta["color_converted"] and not meta["alpha_dropped"]
    assert np.abs(np.moveaxis(array, 0, -1) - expected).max() <= 1  # Pillow rounds in integers


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_tiff_orientation_tag_turns_the_pixels_as_a_jpeg_exif_flag_does(tmp_path, orientation):
    # the tag was ignored (and not written back): the output looked turned against its input
    grey = (np.random.default_rng(orientation).random((5, 7)) * 255).astype(np.uint8)
    tifffile.imwrite(
        tmp_path / "o.tif", grey, extratags=[(274, "H", 1, orientation, True)], resolution=(100, 50), resolutionunit=2
    )
    array, meta = read_raster(tmp_path / "o.tif")
    image = Image.fromarray(grey)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(tmp_path / "o.png", exif=exif.tobytes())
    np.testing.assert_array_equal(array[0], np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.png"))))
    assert meta.get("exif_orientation_applied") == (orientation if orientation > 1 else None)
    assert meta["spacing"] == ((25.4 / 50, 25.4 / 100) if orientation < 5 else (25.4 / 100, 25.4 / 50))
    # the output's resolution is the turned pixels' (the source's X and Y resolution were written unswapped)
    from monai_rmisr.inference.upscale import Upscaler

    Upscaler(2, model="bicubic").file(tmp_path / "o.tif", tmp_path / "out.tif")
    written, written_meta = read_raster(tmp_path / "out.tif")
    assert written.shape[1:] == (2 * array.shape[1], 2 * array.shape[2])
    assert written_meta["spacing"] == pytest.approx(tuple(v / 2 for v in meta["spacing"]))


def test_what_is_no_grey_or_colour_image_is_refused_by_name(tmp_path):
    tifffile.imwrite(tmp_path / "s5.tif", np.zeros((5, 8, 8), np.uint16), planarconfig="separate")
    with pytest.raises(ImageReadError, match=r"'.*s5\.tif': has 5 samples per pixel .* as the pages of a TIFF"):
        read_raster(tmp_path / "s5.tif")
    tifffile.imwrite(tmp_path / "c.tif", np.ones((8, 8), np.complex64))
    with pytest.raises(ImageReadError, match=r"'.*c\.tif': holds complex values \(complex64\)"):
        read_raster(tmp_path / "c.tif")
    frames = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (0, 100, 200)]
    frames[0].save(tmp_path / "a.png", save_all=True, append_images=frames[1:])
    with pytest.raises(ImageReadError, match=r"'.*a\.png': holds 3 frames \(an animated PNG"):
        read_raster(tmp_path / "a.png")


def test_a_jpeg_keeps_its_chroma_subsampling(tmp_path):
    # written 4:2:0 whatever the source: a 4:4:4 source's colour resolution halved
    from monai_rmisr.inference.upscale import Upscaler

    rgb = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    for sampling in (0, 2):
        Image.fromarray(rgb).save(tmp_path / f"s{sampling}.jpg", quality=95, subsampling=sampling)
        Upscaler(2, model="bicubic").file(tmp_path / f"s{sampling}.jpg", tmp_path / f"out{sampling}.jpg")
        assert JpegImagePlugin.get_sampling(Image.open(tmp_path / f"out{sampling}.jpg")) == sampling


def test_a_16_bit_colour_png_keeps_its_metadata_and_orientation(tmp_path):
    # read and written through ITK, it lost its resolution, colour profile, provenance text and EXIF orientation (the
    # output looked turned against its input) and gained an sCAL chunk of ITK's default spacing (1 m a pixel)
    pytest.importorskip("itk")
    from PIL import ImageCms

    from monai_rmisr.inference.upscale import Upscaler
    from monai_rmisr.io.png_chunks import png_metadata_chunks

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6  # a quarter turn clockwise
    chunks = b"".join(png_metadata_chunks((300.0, 300.0), profile, {})) + png_chunk(b"eXIf", exif.tobytes()[6:])
    values = np.random.default_rng(0).integers(0, 65536, size=(6, 9, 3)).astype(np.uint16)
    _png_rgb16(tmp_path / "in.png", values, chunks=chunks)
    array, meta = read_raster(tmp_path / "in.png")
    assert array.shape == (3, 9, 6) and meta["exif_orientation_applied"] == 6 and meta["bit_depth"] == 16
    np.testing.assert_array_equal(array, np.rot90(np.moveaxis(values, -1, 0), k=-1, axes=(1, 2)))
    assert meta["spacing"] == pytest.approx((25.4 / 300, 25.4 / 300), rel=1e-3)
    Upscaler(2, model="bicubic").file(tmp_path / "in.png", tmp_path / "out.png")
    out = Image.open(tmp_path / "out.png")
    assert out.size == (12, 18) and out.info["icc_profile"] == profile
    assert out.info["dpi"] == pytest.approx((600, 600), rel=1e-3) and "monai-rmisr" in out.info["Software"]
    assert out.info["Description"].startswith("interpolated x2 monai-rmisr")
    assert (
        b"sCAL" not in (tmp_path / "out.png").read_bytes() and read_raster(tmp_path / "out.png")[1]["bit_depth"] == 16
    )


def test_png_metadata_chunks_read_back_as_pillow_writes_them(tmp_path):
    from monai_rmisr.io.png_chunks import png_metadata_chunks, set_png_chunks

    Image.fromarray(np.zeros((4, 5), np.uint8)).save(tmp_path / "x.png", dpi=(72, 72))
    text = {"Software": "monai-rmisr", "Description": "SR x2 monai-rmisr modèle_Ω.pt"}  # Latin-1 cannot hold Ω
    set_png_chunks(tmp_path / "x.png", png_metadata_chunks((300.0, 150.0), b"profile", text))
    with Image.open(tmp_path / "x.png") as image:
        assert image.info["dpi"] == pytest.approx((300, 150), rel=1e-3) and image.info["icc_profile"] == b"profile"
        assert image.text == text and np.asarray(image).shape == (4, 5)
    with pytest.raises(ValueError, match="is not a PNG file"):
        set_png_chunks(SKIMAGE_DATA / "retina.jpg", [])


def test_a_16_bit_animated_png_and_a_ycbcr_tiff_are_refused_by_name(tmp_path):
    # the 16-bit reader (ITK) read the first frame of an animated PNG without a word; an uncompressed YCbCr TIFF's
    # samples were taken for R, G and B
    pytest.importorskip("itk")
    values = np.random.default_rng(0).integers(0, 65536, size=(6, 9, 3)).astype(np.uint16)
    frame = struct.pack(">IIIIIHHBB", 0, 9, 6, 0, 0, 1, 10, 0, 0)
    chunks = png_chunk(b"acTL", struct.pack(">II", 2, 0)) + png_chunk(b"fcTL", frame)
    _png_rgb16(tmp_path / "anim16.png", values, chunks=chunks)
    assert Image.open(tmp_path / "anim16.png").n_frames == 2
    with pytest.raises(ImageReadError, match=r"'.*anim16\.png': holds 2 frames"):
        read_raster(tmp_path / "anim16.png")
    tifffile.imwrite(tmp_path / "ycc.tif", np.zeros((8, 8, 3), np.uint8), photometric="ycbcr", subsampling=(1, 1))
    with pytest.raises(ImageReadError, match=r"'.*ycc\.tif': its colours are YCBCR .* save it as RGB"):
        read_raster(tmp_path / "ycc.tif")
