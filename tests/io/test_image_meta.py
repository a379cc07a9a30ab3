"""Image metadata is an ImageMeta: a misspelt key fails where it is written or read, every reader's keys are known."""

import nibabel as nib
import numpy as np
import pydicom.data
import pytest
import tifffile
from PIL import Image

from monai_rmisr.io import META_KEYS, ImageData, ImageMeta, read_image


def test_a_misspelt_key_raises_wherever_it_is_used():
    meta = ImageMeta(format="png", spacing=(1.0, 1.0))
    with pytest.raises(KeyError, match=r"'spacnig' is not an image metadata key.*similar: .*'spacing'"):
        meta.get("spacnig")
    for use in (
        lambda: meta["windw_center"],
        lambda: "windw_center" in meta,
        lambda: meta.__setitem__("windw_center", 40.0),
        lambda: meta.update({"origin": (1.0, 2.0, 3.0), "windw_center": 40.0}),
        lambda: meta.__ior__({"windw_center": 40.0}),
        lambda: meta.setdefault("windw_center", 40.0),
        lambda: meta.pop("windw_center", None),
        lambda: ImageMeta({"windw_center": 40.0}),
        lambda: ImageData(np.zeros((1, 8, 8), np.float32), {"windw_center": 40.0}),
    ):
        with pytest.raises(KeyError, match="windw_center"):
            use()
    assert dict(meta) == {"format": "png", "spacing": (1.0, 1.0)}  # nothing was written by the failed calls
    meta |= {"origin": (0.0, 0.0, 0.0)}
    assert isinstance(meta, ImageMeta) and meta["origin"] == (0.0, 0.0, 0.0)
    assert meta.get("window_center") is None and "window_center" not in meta  # known, absent: reads as absent
    assert isinstance(meta.copy(), ImageMeta) and type({**meta}) is dict


def test_image_data_converts_a_mapping_and_keeps_its_values():
    image = ImageData(np.zeros((1, 8, 8), np.float32), {"source_path": "a.png", "spacing": (0.5, 0.5)})
    assert isinstance(image.meta, ImageMeta) and image.path == "a.png" and image.meta["spacing"] == (0.5, 0.5)
    assert isinstance(ImageData(np.zeros((1, 8, 8), np.float32)).meta, ImageMeta)


def test_every_reader_writes_known_keys_only(tmp_path):
    rng = np.random.default_rng(0)
    gray8 = rng.integers(0, 256, (40, 48), dtype=np.uint8)
    Image.fromarray(gray8).save(tmp_path / "a.png")
    Image.fromarray(np.stack([gray8] * 3, -1)).save(tmp_path / "a.jpg", quality=95)
    tifffile.imwrite(tmp_path / "a.tif", gray8.astype(np.uint16) * 200)
    nib.save(nib.Nifti1Image(rng.random((40, 48, 5)).astype(np.float32), np.eye(4)), tmp_path / "a.nii.gz")
    paths = [tmp_path / name for name in ("a.png", "a.jpg", "a.tif", "a.nii.gz")]
    paths += [pydicom.data.get_testdata_file(name) for name in ("CT_small.dcm", "MR_small.dcm", "emri_small.dcm")]
    formats = set()
    for path in paths:
        meta = read_image(path).meta
        assert isinstance(meta, ImageMeta) and set(meta) <= set(META_KEYS), path
        formats.add(meta["format"])
    assert formats == {"png", "jpeg", "tiff", "nifti", "dicom"}
