import nibabel as nib
import numpy as np
import pytest

from monai_rmisr.io import read_image, read_nifti


def _affine() -> np.ndarray:
    affine = np.diag([0.8, 0.9, 2.5, 1.0])
    affine[:3, 3] = [-10.0, 20.0, 5.0]
    return affine


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_volume_affine_and_spacing_kept(tmp_path, suffix):
    data = np.random.default_rng(0).random((12, 10, 6)).astype(np.float32)
    nib.save(nib.Nifti1Image(data, _affine()), tmp_path / f"v{suffix}")
    array, meta = read_nifti(tmp_path / f"v{suffix}")
    assert array.shape == (1, 12, 10, 6) and array.dtype == np.float32
    np.testing.assert_array_equal(array[0], data)
    np.testing.assert_allclose(meta["affine"], _affine())
    assert meta["spacing"] == pytest.approx((0.8, 0.9, 2.5)) and meta["space"] == "RAS"
    assert meta["origin"] == pytest.approx((-10.0, 20.0, 5.0)) and meta["format"] == "nifti"
    assert read_image(tmp_path / f"v{suffix}").array.shape == (1, 12, 10, 6)


def test_scaled_integers_come_back_in_physical_units(tmp_path):
    stored = np.arange(5 * 4 * 3, dtype=np.int16).reshape(5, 4, 3)
    img = nib.Nifti1Image(stored, np.eye(4))
    img.header.set_slope_inter(2.0, -100.0)
    nib.save(img, tmp_path / "s.nii")
    array, meta = read_nifti(tmp_path / "s.nii")
    np.testing.assert_allclose(array[0], stored * 2.0 - 100.0)
    assert meta["scl_slope"] == 2.0 and meta["scl_inter"] == -100.0 and meta["datatype"] == "int16"


def test_2d_slice_and_4d_channels(tmp_path):
    nib.save(nib.Nifti1Image(np.ones((7, 5, 1), np.float32), np.eye(4)), tmp_path / "slice.nii")
    assert read_nifti(tmp_path / "slice.nii")[0].shape == (1, 7, 5)
    four = np.random.default_rng(1).random((6, 5, 4, 3)).astype(np.float32)
    nib.save(nib.Nifti1Image(four, np.eye(4)), tmp_path / "four.nii")
    array, _ = read_nifti(tmp_path / "four.nii")
    assert array.shape == (3, 6, 5, 4)
    np.testing.assert_array_equal(array[2], four[..., 2])


def test_an_rgba32_nifti_is_read_as_its_colour_like_rgb24(tmp_path):
    # four channels called RGB: Upscaler took them for volumes and stretched each colour on its own (up to 150 of
    # 255 from the same picture stored as RGB24); the alpha is dropped, as the raster readers drop it
    rgb = (np.random.default_rng(0).random((12, 10, 3)) * 255).astype(np.uint8)
    kinds = {
        "rgb": np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")]),
        "rgba": np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1"), ("A", "u1")]),
    }
    read = {}
    for name, dtype in kinds.items():
        voxels = np.zeros((12, 10, 1), dtype)
        for k, channel in enumerate("RGB"):
            voxels[channel] = rgb[..., k : k + 1]
        if "A" in dtype.names:
            voxels["A"] = 255
        nib.save(nib.Nifti1Image(voxels, np.eye(4)), tmp_path / f"{name}.nii.gz")
        read[name] = read_image(tmp_path / f"{name}.nii.gz")
    np.testing.assert_array_equal(read["rgba"].array, read["rgb"].array)
    assert read["rgba"].is_colour and read["rgba"].meta["alpha_dropped"] and not read["rgb"].meta["alpha_dropped"]


def test_an_rgba32_nifti_output_says_its_alpha_is_written_opaque(tmp_path, caplog):
    from monai_rmisr.inference.upscale import Upscaler

    voxels = np.zeros((12, 10, 1), np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1"), ("A", "u1")]))
    voxels["R"], voxels["A"] = 90, 128
    nib.save(nib.Nifti1Image(voxels, np.eye(4)), tmp_path / "rgba.nii.gz")
    with caplog.at_level("WARNING", logger="monai_rmisr"):
        out = Upscaler(2, model="bicubic").file(tmp_path / "rgba.nii.gz", tmp_path / "rgba_x2.nii.gz")
    assert "its alpha (transparency) channel is not in the output (written opaque)" in caplog.text
    assert np.all(np.asarray(nib.load(out).dataobj)["A"] == 255)
