import gzip
import logging
from pathlib import Path

import numpy as np
import pydicom
import pytest
import skimage
from PIL import Image
from pydicom.data import get_testdata_file

import monai_rmisr.data.corpus as corpus_module
from monai_rmisr.data import (
    CACHE_ENV,
    EXTRA_SOURCES,
    FRAME_SOURCES,
    NATURAL_SOURCES,
    SAME_IMAGE_FILES,
    TEST_SOURCES,
    TRAIN_SOURCES,
    CorpusSource,
    corpus_cache_dir,
    corpus_datalist,
    load_corpus,
    load_sources,
)
from monai_rmisr.io import ImageReadError

TEST_NAMES = ["693_UNCR", "MR2_UNCR", "RG1_UNCR", "gdcm-US-ALOKA-16", "retina", "ihc"]
SKIMAGE_DATA = Path(skimage.__file__).parent / "data"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("corpus_cache")


@pytest.fixture(scope="module")
def train(cache):
    return load_corpus("train", cache_dir=cache)


@pytest.fixture(scope="module")
def test(cache):
    return load_corpus("test", cache_dir=cache)


def test_split_sizes_and_names(train, test):
    assert [img.name for img in test] == TEST_NAMES
    assert [img.modality for img in test] == ["CT", "MR", "CR", "US", "fundus", "histology"]
    assert len(train) == 35
    names = [img.name for img in train]
    assert len(set(names)) == len(names)
    assert [n for n in names if n.startswith("emri_small#")] == [f"emri_small#{k}" for k in range(10)]
    assert [n for n in names if n.startswith("color3d")] == [f"color3d_jpeg_baseline#{k}" for k in range(0, 120, 10)]
    assert {img.modality for img in train} == {"CT", "MR", "CR", "US", "NM", "fundus"}


def test_no_image_on_both_sides(train, test):
    train_files = {Path(img.source).name for img in train}
    test_files = {Path(img.source).name for img in test}
    assert not train_files & test_files
    test_groups = {f for s in TEST_SOURCES for f in SAME_IMAGE_FILES[s.name]}
    train_groups = {f for s in TRAIN_SOURCES for f in SAME_IMAGE_FILES[s.name]}
    assert not test_groups & train_groups  # no encoding of a test image is trained on
    assert all(s.filename in SAME_IMAGE_FILES[s.name] for s in (*TRAIN_SOURCES, *TEST_SOURCES))


def test_natural_images_are_extra_training_data_only(cache, train, test):
    natural = load_corpus("natural", cache_dir=cache)
    assert [img.name for img in natural] == [s.name for s in NATURAL_SOURCES] and len(natural) == 13
    assert {img.modality for img in natural} == {"natural"}
    assert sum(img.array.size for img in natural) == pytest.approx(3.94e6, rel=0.01)
    for img in natural:
        assert img.array.dtype == np.float32 and img.array.shape[0] == 1
        assert img.array.min() == 0.0 and img.array.max() == 1.0, img.name
    medical = {Path(img.source).name for img in (*train, *test)}
    assert not medical & {Path(img.source).name for img in natural}
    assert all(SAME_IMAGE_FILES[s.name] == (s.filename,) for s in NATURAL_SOURCES)
    camera = np.asarray(Image.open(SKIMAGE_DATA / "camera.png"), dtype=np.float64)
    np.testing.assert_allclose(natural[1].array[0], _minmax(camera), atol=1e-6)


def test_extra_images_come_from_other_packages_and_are_training_data_only(cache, train, test):
    pywt = pytest.importorskip("pywt")
    pytest.importorskip("sklearn")
    import matplotlib.cbook

    extra = load_corpus("extra", cache_dir=cache)
    assert [img.name for img in extra] == ["aero", "ascent", "china", "flower", "grace_hopper", "s1045"]
    assert [img.modality for img in extra] == ["natural"] * 5 + ["MR"]
    assert sum(img.array.size for img in extra) == pytest.approx(1.44e6, rel=0.01)
    for img in extra:
        assert img.array.dtype == np.float32 and img.array.shape[0] == 1
        assert img.array.min() == 0.0 and img.array.max() == 1.0, img.name
    others = {Path(img.source).name for img in (*train, *test, *load_corpus("natural", cache_dir=cache))}
    assert not others & {Path(img.source).name for img in extra}
    assert all(SAME_IMAGE_FILES[s.name] == (s.filename,) for s in EXTRA_SOURCES)
    # independent decodes: PyWavelets' own loader, Pillow + luma, the raw words of matplotlib's MR
    by_name = {img.name: img.array[0] for img in extra}
    np.testing.assert_allclose(by_name["aero"], _minmax(pywt.data.aero()), atol=1e-6)
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        rgb = np.asarray(Image.open(f), dtype=np.float64)
    np.testing.assert_allclose(by_name["grace_hopper"], _minmax(rgb @ [0.299, 0.587, 0.114]), atol=1e-6)
    with matplotlib.cbook.get_sample_data("s1045.ima.gz") as f:
        words = np.frombuffer(f.read(), np.uint16).reshape(256, 256)  # matplotlib's MRI demo reads it so
    np.testing.assert_allclose(by_name["s1045"], _minmax(words), atol=1e-6)


def test_ultrasound_frames_are_the_uncropped_training_frames(cache, train, test):
    frames = load_corpus("frames", cache_dir=cache)
    assert [img.name for img in frames] == [
        "US1_UNCR_frame",
        "JPGLosslessP14SV1_1s_1f_8b_frame",
        "color3d_jpeg_baseline_frame#0",
        "color3d_jpeg_baseline_frame#40",
        "color3d_jpeg_baseline_frame#80",
        "OBXXXX1A_frame",
        "color-pl_frame",
    ]
    assert {img.modality for img in frames} == {"US"} and all(img.crop is None for img in frames)
    test_files = {f for s in TEST_SOURCES for f in SAME_IMAGE_FILES[s.name]}
    assert not test_files & {f for s in FRAME_SOURCES for f in SAME_IMAGE_FILES[s.name]}
    by_name = {img.name: img for img in train}
    for frame in frames:
        crop_name = frame.name.replace("_frame", "")
        assert SAME_IMAGE_FILES[frame.name.split("#")[0]] == SAME_IMAGE_FILES[crop_name.split("#")[0]]
        cropped = by_name[crop_name]
        r0, r1, c0, c1 = cropped.crop
        window = frame.array[0, r0:r1, c0:c1].astype(np.float64)
        # the same pixels, normalised by the frame's range instead of the crop's: an exact affine map
        fit = np.polyfit(window.ravel(), cropped.array[0].astype(np.float64).ravel(), 1)
        np.testing.assert_allclose(np.polyval(fit, window), cropped.array[0], atol=1e-5)
        # what the crop left out: black surroundings with the vendor's text and graphics
        assert frame.array.size > cropped.array.size and (frame.array == 0).mean() > 0.15


def test_a_missing_package_is_named_with_its_install_command(monkeypatch, tmp_path):
    real_find_spec = corpus_module.importlib.util.find_spec
    monkeypatch.setattr(
        corpus_module.importlib.util, "find_spec", lambda name: None if name == "pywt" else real_find_spec(name)
    )
    with pytest.raises(
        FileNotFoundError, match=r"^corpus image 'aero' needs the 'PyWavelets' package: pip install PyWavelets\.$"
    ):
        load_sources(EXTRA_SOURCES, cache_dir=tmp_path)


@pytest.mark.parametrize(
    "content,message",
    [
        (b"not an archive", "is not a NumPy archive with a 'data' array"),
        ("npz-3d", "holds a 3-D array; a 2-D image was expected."),
    ],
)
def test_bad_array_files_are_named(tmp_path, content, message):
    path = tmp_path / "bad.npz"
    if content == "npz-3d":
        np.savez(path, data=np.zeros((2, 3, 4)))
    else:
        path.write_bytes(content)
    with pytest.raises(ImageReadError, match=message):
        load_sources(
            [CorpusSource("bad", "bad.npz", "PyWavelets", "natural", path=str(path), decoder="npz")], cache_dir=tmp_path
        )
    raw = tmp_path / "short.ima.gz"
    raw.write_bytes(gzip.compress(b"\0" * 100))
    with pytest.raises(ImageReadError, match=r"holds 100 bytes; a 256x256 16-bit image has 131072\.$"):
        load_sources(
            [CorpusSource("short", raw.name, "matplotlib", "MR", path=str(raw), decoder="raw_uint16_256")],
            cache_dir=tmp_path,
        )
    with pytest.raises(ValueError, match="decoder must be one of"):
        CorpusSource("x", "x.npz", "PyWavelets", "natural", decoder="npy")


def test_lossy_unci_copies_are_never_used(train, test):
    for img in (*train, *test):
        assert "UNCI" not in img.source and "J2KI" not in img.source
    assert Path(next(img.source for img in test if img.name == "RG1_UNCR")).name == "RG1_UNCR.dcm"


def test_values_shapes_and_dtype(train, test):
    for img in (*train, *test):
        assert img.array.dtype == np.float32 and img.array.ndim == 3 and img.array.shape[0] == 1
        assert img.array.min() == 0.0 and img.array.max() == 1.0, img.name
    shapes = {img.name: img.array.shape for img in (*train, *test)}
    assert shapes["693_UNCR"] == (1, 512, 512) and shapes["RG1_UNCR"] == (1, 1955, 1841)
    assert shapes["gdcm-US-ALOKA-16"] == (1, 480, 640)  # the test split is never cropped
    assert shapes["retina"] == (1, 1411, 1411) and shapes["emri_small#3"] == (1, 64, 64)
    assert shapes["US1_UNCR"] == (1, 229, 548) and shapes["color3d_jpeg_baseline#50"] == (1, 364, 492)
    assert shapes["JPGLosslessP14SV1_1s_1f_8b"] == (1, 492, 620) and shapes["OBXXXX1A"] == (1, 200, 256)
    assert sum(img.array.size for img in test) == pytest.approx(7.47e6, rel=0.01)


def _minmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    return (x - x.min()) / (x.max() - x.min())


def test_protocol_conversion_matches_an_independent_computation(test):
    by_name = {img.name: img.array[0] for img in test}
    raw_ct = pydicom.dcmread(get_testdata_file("693_UNCR.dcm", download=False)).pixel_array
    np.testing.assert_allclose(by_name["693_UNCR"], _minmax(raw_ct), atol=1e-6)
    raw_cr = pydicom.dcmread(get_testdata_file("RG1_UNCR.dcm", download=False)).pixel_array
    np.testing.assert_allclose(by_name["RG1_UNCR"], 1.0 - _minmax(raw_cr), atol=1e-6)  # MONOCHROME1
    rgb = np.asarray(Image.open(SKIMAGE_DATA / "ihc.png"), dtype=np.float64)[..., :3]
    np.testing.assert_allclose(by_name["ihc"], _minmax(rgb @ [0.299, 0.587, 0.114]), atol=1e-6)


def test_datalist(cache):
    items = corpus_datalist("test", cache_dir=cache)
    assert [set(d) for d in items] == [{"image", "name", "modality"}] * 6
    assert items[0]["name"] == "693_UNCR" and items[0]["image"].shape == (1, 512, 512)
    with pytest.raises(ValueError, match="split must be"):
        load_corpus("validation", cache_dir=cache)


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "env"))
    assert corpus_cache_dir() == tmp_path / "env"
    assert corpus_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv(CACHE_ENV)
    assert corpus_cache_dir() == Path.home() / ".cache" / "monai_rmisr" / "corpus"


def test_second_load_reads_the_cache(tmp_path, monkeypatch):
    sources = [s for s in TRAIN_SOURCES if s.name in ("RG3_UNCR", "color3d_jpeg_baseline", "JPEG-LL")]
    cold = load_sources(sources, cache_dir=tmp_path)
    files = sorted(p.name for p in tmp_path.glob("*.npz"))
    assert len(files) == 3 and all(".v1." in f for f in files)

    # decoders that fail prove the cache was read; a wall-clock comparison was flaky on a busy CPU
    def no_decoding(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(corpus_module, "read_image", no_decoding)
    monkeypatch.setattr(corpus_module, "read_dicom", no_decoding)
    warm = load_sources(sources, cache_dir=tmp_path)
    assert [w.name for w in warm] == [c.name for c in cold]
    assert all(np.array_equal(w.array, c.array) for w, c in zip(warm, cold, strict=True))


def test_damaged_cache_file_is_rebuilt(tmp_path, caplog):
    source = next(s for s in TRAIN_SOURCES if s.name == "CT_small")
    first = load_sources([source], cache_dir=tmp_path)[0].array
    (cache_file,) = tmp_path.glob("*.npz")
    cache_file.write_bytes(b"not an npz")
    with caplog.at_level(logging.WARNING):
        again = load_sources([source], cache_dir=tmp_path)[0].array
    np.testing.assert_array_equal(first, again)
    assert "unreadable" in caplog.text


def test_bad_file_fails_before_training_or_is_skipped(tmp_path, caplog):
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(Path(get_testdata_file("CT_small.dcm", download=False)).read_bytes()[:5000])
    sources = [
        CorpusSource("micro", "microaneurysms.png", "scikit-image", "fundus"),
        CorpusSource("broken", "broken.dcm", "custom", "CT", path=str(broken)),
        CorpusSource("gone", "gone.dcm", "custom", "CT", path=str(tmp_path / "gone.dcm")),
    ]
    with pytest.raises(ImageReadError, match=r"broken\.dcm"):
        load_sources(sources, cache_dir=tmp_path / "cache")
    with caplog.at_level(logging.WARNING):
        images = load_sources(sources, cache_dir=tmp_path / "cache", skip_bad=True)
    assert [img.name for img in images] == ["micro"]
    assert "broken.dcm" in caplog.text and "gone.dcm" in caplog.text


def test_constant_image_cannot_be_normalised(tmp_path):
    Image.fromarray(np.full((20, 20), 7, np.uint8)).save(tmp_path / "flat.png")
    source = CorpusSource("flat", "flat.png", "custom", "fundus", path=str(tmp_path / "flat.png"))
    with pytest.raises(ImageReadError, match="constant"):
        load_sources([source], cache_dir=tmp_path)
