"""ViewerSession: the viewer's numbers are the benchmark's, its pictures are rmisr upscale's."""

from __future__ import annotations

import shlex

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from monai_rmisr.__main__ import main
from monai_rmisr.benchmark import network_scores
from monai_rmisr.data.corpus import CorpusImage
from monai_rmisr.inference import load_pretrained
from monai_rmisr.inference.upscale import Upscaler
from monai_rmisr.io import ImageData, read_image
from monai_rmisr.metrics import bicubic_baseline
from monai_rmisr.metrics.protocol import min_scored_size
from monai_rmisr.viewer import ViewerSession
from tests.helpers import dicom_testdata

CT = dicom_testdata("CT_small.dcm")  # 128 x 128, HU


@pytest.fixture(scope="module")
def session() -> ViewerSession:
    return ViewerSession(CT)


def test_check_mode_scores_the_region_as_the_benchmark_scores_an_image(session):
    roi = (20, 30, 92, 90)  # 72 x 60: x3 and x2 crops differ from the region
    x0, y0, x1, y1 = roi
    region = session.plane[:, y0:y1, x0:x1]
    unit = (region - region.min()) / (region.max() - region.min())
    image = CorpusImage("region", "CT", CT, unit.astype(np.float32))
    for scale, model in ((2, "rmisr_bl_x2"), (3, "rmisr_bl_x3")):
        result = session.compare(roi, scale, "auto", mode="check")
        assert result.model_name == model
        expected = network_scores(load_pretrained(model), scale, [image])["region"]
        got = result.scores[model]
        assert got.psnr == pytest.approx(expected.psnr, abs=1e-3)
        assert got.ssim == pytest.approx(expected.ssim, abs=1e-5)
        assert got.laplacian_psnr == pytest.approx(expected.laplacian_psnr, abs=1e-3)
        bicubic = bicubic_baseline(scale, [image])["region"]
        assert result.scores["bicubic"] == pytest.approx(bicubic, abs=1e-6)
        assert got.psnr > result.scores["bicubic"].psnr + 0.5  # a trained model on a real CT region
        # the panels: truth = the region cropped to fit the scale, in HU; errors are |panel - truth|
        rows, cols = (60 // scale) * scale, (72 // scale) * scale
        assert result.reference.shape == result.super_resolved.shape == (1, rows, cols)
        assert result.low_resolution.shape == (1, rows // scale, cols // scale)
        np.testing.assert_allclose(result.reference, region[:, :rows, :cols], atol=0.05)
        np.testing.assert_allclose(result.super_resolved_detail, np.abs(result.super_resolved - result.reference))


def test_check_mode_at_a_fractional_scale_uses_the_arbitrary_scale_model(session):
    result = session.compare((0, 0, 64, 64), 2.5, "auto", mode="check")
    assert result.model_name == "rmisr_meta"
    assert result.super_resolved.shape == result.reference.shape == (1, 63, 63)  # 25 LR pixels * 2.5 -> 63
    assert result.scores["rmisr_meta"].psnr > result.scores["bicubic"].psnr


def test_upscale_mode_is_rmisr_upscale_roi(session):
    roi = (40, 10, 88, 50)
    result = session.compare(roi, 2, "rmisr_bl_x2")
    expected = Upscaler(2, model="rmisr_bl_x2", roi=roi).image(read_image(CT)).array
    np.testing.assert_array_equal(result.super_resolved, expected)
    assert result.bicubic.shape == result.super_resolved.shape == (1, 80, 96)
    np.testing.assert_array_equal(result.low_resolution, session.plane[:, 10:50, 40:88])
    assert result.reference is None and result.scores is None
    # bicubic through the same path differs from the model, and stays in the region's value range
    assert np.abs(result.bicubic - result.super_resolved).max() > 1.0  # HU
    assert result.bicubic_detail.shape == result.super_resolved_detail.shape == (1, 80, 96)


def test_the_weights_are_hashed_once_not_per_preview(monkeypatch):
    # every preview made an Upscaler of the loaded network, which hashed its whole state dict again (and a CPU
    # form's tensors, not the file's): its digest is the file's, taken once when the network is loaded
    import importlib

    from monai_rmisr.inference import pretrained_path, weights_sha256

    pretrained = importlib.import_module("monai_rmisr.inference.pretrained")
    resolving = importlib.import_module("monai_rmisr.inference.super_resolve")
    hashed = []

    def counted(model):
        hashed.append(model)
        return weights_sha256(model)

    monkeypatch.setattr(pretrained, "weights_sha256", counted)
    monkeypatch.setattr(resolving, "weights_sha256", counted)
    session = ViewerSession(CT)
    for roi in ((40, 10, 88, 50), (0, 0, 32, 32), (60, 60, 100, 100)):
        session.compare(roi, 2, "rmisr_bl_x2")
    assert hashed == [pretrained_path("rmisr_bl_x2")] * 2  # before and after the one load
    assert session.network("rmisr_bl_x2", 2)[3] == weights_sha256("rmisr_bl_x2")


def test_upscale_command_writes_what_the_viewer_shows(tmp_path):
    source = tmp_path / "ct.nii.gz"
    hu = read_image(CT).array[0]
    nib.save(nib.Nifti1Image(hu.T[:, :, None].astype(np.float32), np.eye(4)), source)  # NIfTI is (x, y)
    session = ViewerSession(source)
    roi = (16, 24, 64, 56)
    shown = session.compare(roi, 3, "auto").super_resolved
    command = session.upscale_command(roi, 3)
    words = shlex.split(command)
    assert words[:2] == ["rmisr", "upscale"] and "--roi" in words
    assert main(words[1:] + ["--quiet"]) == 0
    written = read_image(tmp_path / "ct_sr.nii.gz").array
    assert written.shape == shown.shape == (1, 96, 144)
    np.testing.assert_allclose(written, shown, atol=1e-3)


def test_upscale_command_writes_what_the_viewer_shows_for_a_slice_of_a_volume(tmp_path):
    # the viewer scaled the slice on its own values, rmisr upscale the volume on all of its: slices of unlike
    # brightness differed by up to 475 (a 4-D NIfTI's volume by 26 on a range of 70)
    rng = np.random.default_rng(0)
    volume = np.stack([rng.random((40, 36), dtype=np.float32) * 100 + 300 * k for k in range(4)], axis=-1)
    source = tmp_path / "vol.nii.gz"
    nib.save(nib.Nifti1Image(volume.transpose(1, 0, 2), np.eye(4)), source)  # NIfTI is (x, y, z)
    session = ViewerSession(source, slice_index=1)
    roi = (4, 6, 28, 30)
    shown = session.compare(roi, 2, "bicubic").super_resolved
    assert main(shlex.split(session.upscale_command(roi, 2))[1:] + ["--quiet", "--model", "bicubic"]) == 0
    written = read_image(tmp_path / "vol_sr.nii.gz").array[..., 1]
    assert written.shape == shown.shape == (1, 48, 48)
    np.testing.assert_allclose(written, shown, atol=1e-3)


def test_upscale_command_writes_what_the_viewer_shows_for_a_volume_of_a_4d_nifti(tmp_path):
    # each volume of a 4-D file is super-resolved on its own range (rmisr upscale, and so the viewer)
    rng = np.random.default_rng(1)
    volumes = np.stack([rng.random((2, 40, 36), dtype=np.float32) * peak for peak in (600.0, 70.0)], axis=-1)
    source = tmp_path / "fmri.nii.gz"
    nib.save(nib.Nifti1Image(volumes.transpose(2, 1, 0, 3), np.eye(4)), source)  # (x, y, z, t)
    session = ViewerSession(source, slice_index=1, volume_index=1)
    roi = (4, 6, 28, 30)
    shown = session.compare(roi, 2, "rmisr_bl_x2").super_resolved
    command = shlex.split(session.upscale_command(roi, 2))[1:] + ["--quiet", "--model", "rmisr_bl_x2"]
    assert main(command) == 0
    written = read_image(tmp_path / "fmri_sr.nii.gz").array[1, ..., 1]
    assert written.shape == shown.shape[1:] == (48, 48)
    np.testing.assert_allclose(written, shown[0], atol=1e-3)
    assert shown.max() <= volumes[1].max()


def test_volume_slices(tmp_path):
    volume = np.stack([np.full((32, 40), k, np.float32) + np.arange(40, dtype=np.float32) for k in range(5)], -1)
    session = ViewerSession(ImageData(volume[None], {"source_path": str(tmp_path / "v.nii")}))
    assert session.depth == 5 and session.slice_index == 2
    np.testing.assert_array_equal(session.plane, volume[None, ..., 2])
    session.set_slice(4)
    np.testing.assert_array_equal(session.plane, volume[None, ..., 4])
    result = session.compare((0, 0, 40, 32), 2, "bicubic")
    assert result.super_resolved.shape == (1, 64, 80)
    # within the volume's value range, as rmisr upscale writes the slice (not the slice's own: 4 to 43)
    assert result.super_resolved.min() >= 0.0 and result.super_resolved.max() <= 4.0 + 39
    with pytest.raises(ValueError, match=r"slice must be an integer in \[0, 4\]"):
        session.set_slice(5)


def test_default_region_is_central_and_clipped(tmp_path):
    path = tmp_path / "small.png"
    Image.fromarray(np.tile(np.arange(90, dtype=np.uint8), (60, 1))).save(path)
    assert ViewerSession(path).default_roi() == (0, 0, 90, 60)
    assert ViewerSession(CT).default_roi(64) == (32, 32, 96, 96)


@pytest.mark.parametrize(
    "args, message",
    [
        (((0, 0, 200, 10), 2, "auto", "upscale"), r"lies outside the 128x128"),
        (((5, 5, 5, 20), 2, "auto", "upscale"), r"empty or negative"),
        (((0, 0, 1, 40), 2, "auto", "upscale"), r"smaller than 2x2"),
        (((0, 0, 9, 40), 4, "auto", "check"), r"too small to check at x4"),
        (((0, 0, 40, 40), 3, "rmisr_vp_x4", "upscale"), r"fixed x4 network, got scale=3"),
        (((0, 0, 40, 40), 2, "rmisr_bl_x9", "upscale"), r"unknown model 'rmisr_bl_x9'"),
        (((0, 0, 40, 40), 2, "auto", "preview"), r"mode must be one of"),
    ],
)
def test_bad_requests_name_the_problem(session, args, message):
    with pytest.raises(ValueError, match=message):
        session.compare(*args)


@pytest.mark.parametrize("scale", [2, 2.5, 3, 4])
def test_the_smallest_region_the_check_asks_for_is_checked(session, scale):
    # the message once promised a size (2 * border + 2) that then failed inside SSIM or the border crop
    need = min_scored_size(scale)
    with pytest.raises(ValueError, match=rf"needs at least {need} pixels per side"):
        session.compare((0, 0, need - 1, need - 1), scale, "bicubic", mode="check")
    result = session.compare((0, 0, need, need), scale, "bicubic", mode="check")
    assert all(np.isfinite(score.psnr) and 0 < score.ssim <= 1 for score in result.scores.values())


def test_the_image_is_not_modified(session):
    before = session.image.array.copy()
    session.compare((0, 0, 48, 48), 2, "auto", mode="check")
    session.compare((0, 0, 48, 48), 2, "auto")
    np.testing.assert_array_equal(session.image.array, before)


def test_summary_lists_the_scores(session):
    text = session.compare((0, 0, 48, 48), 2, "auto", mode="check").summary()
    assert text.startswith("rmisr_bl_x2, x2, ") and "\nregion 48x48 at (0, 0)\n" in text
    assert text.splitlines()[3].startswith("bicubic") and "PSNR dB" in text


def test_upscale_command_for_a_packaged_sample_writes_into_the_current_folder():
    # an image shipped inside an installed package (a pydicom test file): the command wrote into site-packages
    session = ViewerSession(dicom_testdata("CT_small.dcm"))
    words = shlex.split(session.upscale_command((0, 0, 32, 32), 2))
    assert words[words.index("-o") + 1] == "CT_small_sr.dcm"


def test_upscale_command_for_a_users_file_writes_beside_it(tmp_path):
    source = tmp_path / "scan.png"
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(source)
    words = shlex.split(ViewerSession(source).upscale_command((0, 0, 8, 8), 2))
    assert words[words.index("-o") + 1] == str(tmp_path / "scan_sr.png")


def test_the_short_command_finds_a_checkpoint_from_the_images_folder_and_keeps_the_scale(tmp_path, monkeypatch):
    # the status panel's command (run "in the image's folder") named a checkpoint by the path given, relative to
    # where the viewer started; and --scale 2.0000001 (rmisr_meta) was printed as 2 (rmisr_bl_x2)
    (tmp_path / "images").mkdir()
    source = tmp_path / "images" / "scan.png"
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(source)
    (tmp_path / "mine.pt").write_bytes(b"weights")
    monkeypatch.chdir(tmp_path)
    words = shlex.split(ViewerSession(source).upscale_command((0, 0, 8, 8), 2.0000001, "mine.pt", short=True))
    assert words[words.index("--model") + 1] == str(tmp_path / "mine.pt")
    assert words[words.index("--scale") + 1] == "2.0000001" and words[2] == "scan.png"
