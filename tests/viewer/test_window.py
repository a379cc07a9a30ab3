"""SRViewer and rmisr view: mouse, controls, status, saving, the command line (Agg, no screen)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.testing.widgets import click_and_drag
from PIL import Image

from monai_rmisr.__main__ import main
from monai_rmisr.io import ImageData
from monai_rmisr.viewer import SRViewer, ViewerSession, display_range
from tests.helpers import dicom_testdata

CT = dicom_testdata("CT_small.dcm")  # 128 x 128, HU; its file stores no window


@pytest.fixture(scope="module")
def ct_session() -> ViewerSession:
    return ViewerSession(CT)


@pytest.fixture
def viewer(ct_session) -> SRViewer:
    return SRViewer(ct_session, scale=2, roi=(0, 0, 48, 40))


def _panel(viewer: SRViewer, key: str) -> np.ndarray:
    return np.asarray(viewer.panel_axes[key].images[-1].get_array())


def test_opens_with_a_comparison_drawn(viewer):
    assert viewer.error is None and viewer.comparison is not None
    assert viewer.comparison.model_name == "rmisr_bl_x2"
    np.testing.assert_array_equal(_panel(viewer, "model"), viewer.comparison.super_resolved[0])
    np.testing.assert_array_equal(_panel(viewer, "bicubic"), viewer.comparison.bicubic[0])
    assert _panel(viewer, "model_detail").shape == (80, 96)
    status = viewer.status.get_text()
    assert "rmisr upscale CT_small.dcm -o" in status and "CT_small_sr.dcm" in status and "0,0,48,40" in status
    assert viewer.status.get_color() == "black"


def test_dragging_a_rectangle_selects_and_computes_that_region(viewer):
    click_and_drag(viewer.selector, start=(10.2, 20.4), end=(57.6, 51.0))
    assert viewer.roi == (10, 20, 58, 51)
    assert viewer.comparison.roi == (10, 20, 58, 51)
    assert viewer.comparison.super_resolved.shape == (1, 62, 96)


def test_the_radio_buttons_and_the_scale_box_drive_the_comparison(viewer):
    viewer.mode_buttons.set_active(1)  # as a click does
    assert viewer.mode == "check" and viewer.comparison.scores is not None
    assert "PSNR dB" in viewer.status.get_text()
    assert "dB, SSIM" in viewer.panel_axes["model"].get_title()
    viewer.scale_box.set_val("4")
    assert viewer.comparison.model_name == "rmisr_bl_x4"
    labels = [t.get_text() for t in viewer.model_buttons.labels]
    viewer.model_buttons.set_active(labels.index("rmisr_vp_x4"))
    assert viewer.comparison.model_name == "rmisr_vp_x4"


def test_a_failure_is_shown_in_red_and_keeps_the_last_result(viewer):
    before = viewer.comparison
    viewer.set_model("rmisr_vp_x4")  # a fixed x4 model at x2
    assert viewer.comparison is before
    assert "fixed x4 network" in viewer.error
    assert viewer.status.get_color() == "red" and viewer.status.get_text().startswith("error: ")
    assert viewer.set_scale("two") is None and "scale must be a number" in viewer.error
    assert viewer.set_scale(4) is not None and viewer.error is None  # the x4 model fits now
    assert viewer.status.get_color() == "black"


def test_method_calls_update_the_widgets_without_recomputing_twice(viewer, monkeypatch):
    calls = []
    original = viewer.session.compare
    monkeypatch.setattr(viewer.session, "compare", lambda *a, **k: calls.append(a) or original(*a, **k))
    viewer.set_mode("check")
    viewer.set_scale(3)
    viewer.set_model("rmisr_bl_x3")
    assert len(calls) == 3
    assert viewer.mode_buttons.value_selected == "check against region"
    assert viewer.scale_box.text == "3"
    assert viewer.model_buttons.value_selected == "rmisr_bl_x3"


def test_volume_slider(tmp_path):
    volume = np.stack([np.random.default_rng(k).random((24, 32), dtype=np.float32) * (k + 1) for k in range(3)], -1)
    viewer = SRViewer(ViewerSession(ImageData(volume[None], {"source_path": "v.nii"})), model="bicubic")
    assert viewer.slice_slider is not None and viewer.roi == (0, 0, 32, 24)
    assert viewer.slice_slider.val == 2 and "slice 2/3" in viewer.image_axes.get_title()  # both count from 1
    viewer.slice_slider.set_val(1)
    assert viewer.session.slice_index == 0 and "slice 1/3" in viewer.image_axes.get_title()
    np.testing.assert_array_equal(viewer.comparison.low_resolution, volume[None, ..., 0])
    viewer.set_slice(2)
    assert viewer.slice_slider.val == 3 and viewer.session.slice_index == 2


def test_display_range(ct_session, tmp_path):
    plane = ct_session.plane
    assert display_range(ct_session, "full") == (plane.min(), plane.max())
    np.testing.assert_allclose(display_range(ct_session, "auto"), np.percentile(plane, (0.5, 99.5)))
    assert display_range(ct_session, "lung") == (-1350.0, 150.0)
    assert display_range(ct_session, "40,400") == (-160.0, 240.0)
    stored = ViewerSession(ImageData(plane, {"window_center": [40.0], "window_width": [80.0]}))
    assert display_range(stored, "auto") == (0.0, 80.0)
    with pytest.raises(ValueError, match="--window must be auto, full"):
        display_range(ct_session, "liver")
    with pytest.raises(ValueError, match="width must be > 0"):
        display_range(ct_session, "40,0")
    for bad in ("nan,100", "40,inf", "lung,abc"):  # a blank figure, or Python's "could not convert" only
        with pytest.raises(ValueError, match=r"finite numbers|CENTRE,WIDTH \(two numbers\)"):
            display_range(ct_session, bad)


def test_a_monochrome1_window_is_moved_with_the_inverted_pixels():
    # a MONOCHROME1 radiograph is read inverted (inversion_sum - x); its window, in the file's units, was applied
    # to the inverted values unchanged (RG1_UNCR: 0..30000 shown where the file means 2767..32767)
    from pydicom.data import get_testdata_file

    session = ViewerSession(get_testdata_file("RG3_UNCR.dcm"))
    meta = session.image.meta
    assert meta["inverted"]
    centre, width = float(meta["window_center"][0]), float(meta["window_width"][0])
    expected = (meta["inversion_sum"] - centre - width / 2, meta["inversion_sum"] - centre + width / 2)
    assert display_range(session, "auto") == pytest.approx(expected)
    assert display_range(session, f"{centre},{width}") == pytest.approx(expected)  # as the file or a PACS says it


def test_save_writes_once_and_never_over_the_input(viewer, tmp_path):
    out = viewer.save(tmp_path / "view.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="already exists"):
        viewer.save(out)
    viewer.save(out, overwrite=True)
    with pytest.raises(ValueError, match="would overwrite the input"):
        viewer.save(CT, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["view.png"]


def test_cli_saves_a_check_figure(tmp_path, capsys):
    out = tmp_path / "check.png"
    code = main(["view", CT, "--mode", "check", "--scale", "4", "--roi", "0,0,64,64", "--save", str(out)])
    assert code == 0 and out.is_file()
    printed = capsys.readouterr().out
    assert "rmisr_bl_x4, x4, " in printed and "region 64x64 at (0, 0)" in printed and f"wrote {out}" in printed


def test_cli_prints_the_upscale_command(tmp_path, capsys):
    assert main(["view", CT, "--roi", "0,0,32,32", "--save", str(tmp_path / "v.svg")]) == 0
    assert "as a file: rmisr upscale " in capsys.readouterr().out
    assert (tmp_path / "v.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize(
    "args, message, code",
    [
        (["missing.dcm"], "no such image file", 2),
        ([CT, "--scale", "x2"], "--scale must be a number", 2),
        ([CT, "--roi", "0,0,500,20"], "lies outside the 128x128", 2),
        ([CT, "--window", "liver"], "--window must be", 2),
        ([CT, "--model", "rmisr_vp_x4"], "fixed x4 network", 2),
        ([CT, "--model", "missing.pt"], "missing.pt", 2),
        ([CT, "--device", "foo"], "device 'foo' is not a device", 2),
        ([CT, "--mode", "check", "--roi", "0,0,4,4"], "is too small to check at x2", 1),
    ],
)
def test_cli_errors(tmp_path, capsys, args, message, code):
    out = tmp_path / "fig.png"
    assert main(["view", *args, "--save", str(out)]) == code
    assert message in capsys.readouterr().err
    assert out.exists() == (code == 1)  # a failed comparison still shows the image and the error


@pytest.mark.parametrize(
    "name, message",
    [
        ("fig.xyz", "give the figure's file type by its extension"),  # was matplotlib's error after the model ran
        ("fig", "give the figure's file type by its extension"),  # was a PNG named 'fig'
        (".", "is a folder; give a file name"),  # was "would overwrite the input"
    ],
)
def test_cli_save_names_a_figure_file(tmp_path, monkeypatch, capsys, name, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    assert main(["view", CT, "--save", name]) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]
    assert main(["view", CT, "--save", "folder", "--overwrite"]) == 2
    assert "'folder' is a folder; give a file name" in capsys.readouterr().err


def test_cli_without_a_screen_says_so(capsys):
    assert main(["view", CT]) == 2
    assert "no screen for a window" in capsys.readouterr().err


def test_cli_slice_counts_from_one(tmp_path, capsys):
    import nibabel as nib

    volume = np.stack([np.full((20, 24), 10.0 * k, np.float32) + np.arange(24) for k in range(3)], -1)
    source = tmp_path / "v.nii.gz"
    nib.save(nib.Nifti1Image(volume, np.eye(4)), source)
    assert main(["view", str(source), "--slice", "3", "--model", "bicubic", "--save", str(tmp_path / "a.png")]) == 0
    for bad in ("0", "4"):
        assert main(["view", str(source), "--slice", bad, "--save", str(tmp_path / "b.png")]) == 2
        assert "is not a slice of" in capsys.readouterr().err
    assert not (tmp_path / "b.png").exists()


def _four_d_nifti(path, volumes: int) -> np.ndarray:
    """A 4-D NIfTI of ``volumes`` volumes of 20 x 24 x 2 voxels, volume k holding 100 * k + column."""
    import nibabel as nib

    data = np.stack(
        [np.broadcast_to(100.0 * k + np.arange(24, dtype=np.float32)[:, None], (20, 24, 2)) for k in range(volumes)], -1
    )
    nib.save(nib.Nifti1Image(np.ascontiguousarray(data), np.diag([0.5, 2.0, 3.0, 1.0])), path)
    return data


@pytest.mark.parametrize("volumes", [3, 5])
def test_the_volumes_of_a_4d_nifti_are_shown_one_at_a_time(tmp_path, volumes):
    """The volumes of a 4-D NIfTI are channels of its ImageData, not colour: three of them are no RGB image,
    five are no error of the model; the slider shows each one, the model super-resolves that one."""
    source = tmp_path / "fmri.nii.gz"
    _four_d_nifti(source, volumes)
    session = ViewerSession(source)
    assert not session.colour and session.volumes == volumes and session.plane.shape[0] == 1
    viewer = SRViewer(session, scale=2, model="bicubic", roi=(0, 0, 20, 20))
    assert viewer.error is None and viewer.volume_slider is not None
    assert "volume 1/" + str(volumes) in viewer.image_axes.get_title()
    first = viewer.comparison.low_resolution
    viewer.volume_slider.set_val(volumes)  # as a drag does
    assert session.volume_index == volumes - 1
    np.testing.assert_allclose(viewer.comparison.low_resolution, first + 100.0 * (volumes - 1))
    assert viewer.comparison.super_resolved.shape == (1, 40, 40)
    # the display window follows the volume shown
    assert viewer.image_axes.images[0].get_clim()[0] >= 100.0 * (volumes - 1)


def test_a_colour_image_stays_colour():
    rgb = ImageData(np.random.default_rng(0).random((3, 24, 24)).astype(np.float32), {"color": "RGB"})
    session = ViewerSession(rgb)
    assert session.colour and session.volumes == 1 and session.plane.shape[0] == 3


def test_pixels_are_drawn_to_the_pixel_spacing(tmp_path):
    """A NIfTI of 0.5 mm x 2 mm voxels (shown turned, the 2 mm axis down the screen) and a DICOM of 0.8 x 0.4 mm
    rows x columns: each pixel drawn as tall as its spacing says, in the image and in the panels."""
    source = tmp_path / "aniso.nii.gz"
    _four_d_nifti(source, 1)
    session = ViewerSession(source)
    assert session.orientation.transpose and session.pixel_aspect == pytest.approx(4.0)
    viewer = SRViewer(session, scale=2, model="bicubic", roi=(0, 0, 20, 20))
    for axes in (viewer.image_axes, viewer.panel_axes["model"], viewer.panel_axes["model_detail"]):
        assert axes.get_aspect() == pytest.approx(4.0)
    image = ImageData(np.zeros((1, 24, 24), np.float32), {"spacing": (0.8, 0.4)})
    assert ViewerSession(image).pixel_aspect == pytest.approx(2.0)
    for spacing in (None, (0.0, 1.0), (float("nan"), 1.0), "x"):
        assert ViewerSession(ImageData(np.zeros((1, 24, 24), np.float32), {"spacing": spacing})).pixel_aspect == 1.0


def test_cli_volume_counts_from_one(tmp_path, capsys):
    source = tmp_path / "v.nii.gz"
    _four_d_nifti(source, 5)
    figure = tmp_path / "a.png"
    assert main(["view", str(source), "--volume", "5", "--model", "bicubic", "--save", str(figure), "-q"]) == 0
    assert figure.exists()
    for bad in ("0", "6"):
        assert main(["view", str(source), "--volume", bad, "--save", str(tmp_path / "b.png")]) == 2
        assert f"--volume {bad} is not a volume of" in capsys.readouterr().err
    assert main(["view", CT, "--volume", "2", "--save", str(tmp_path / "b.png")]) == 2
    assert "it holds one volume" in capsys.readouterr().err
    assert not (tmp_path / "b.png").exists()


def test_a_saved_figure_shows_every_pixel_of_the_panels(ct_session, tmp_path):
    # saved at 100 dpi, a 128-pixel region at x4 (512 output pixels) was drawn in about 280: every other pixel,
    # a model's one-pixel detail seen as broad stripes; the figure is rendered at the resolution its panels need
    small = SRViewer(ct_session, scale=2, model="bicubic", roi=(0, 0, 24, 20))
    assert small.save_dpi() == 100  # small panels: as before
    large = SRViewer(ct_session, scale=4, model="bicubic", roi=(0, 0, 128, 128))
    dpi = large.save_dpi()
    assert 100 < dpi <= 400
    axes = large.panel_axes["model"]
    box, (width, height) = axes.get_position(), large.figure.get_size_inches()
    assert box.width * width * dpi >= 512 and box.height * height * dpi >= 512  # a screen pixel per image pixel
    out = large.save(tmp_path / "large.png")
    with Image.open(out) as saved:
        assert abs(saved.size[0] - width * dpi) <= 1 and abs(saved.size[1] - height * dpi) <= 1
