"""The viewer shows a NIfTI slice as radiology viewers do; regions stay in the file's pixel coordinates."""

from __future__ import annotations

import itertools

import nibabel as nib
import numpy as np
import pytest
from matplotlib.testing.widgets import click_and_drag

from monai_rmisr.io import read_image
from monai_rmisr.viewer import SRViewer, ViewerSession
from monai_rmisr.viewer.orientation import DisplayOrientation, display_orientation
from tests.helpers import dicom_testdata

CT = dicom_testdata("CT_small.dcm")


def _affine(*columns) -> np.ndarray:
    """A RAS+ affine whose voxel axes point along ``columns`` (world vectors)."""
    affine = np.eye(4)
    affine[:3, :3] = np.array(columns, dtype=float).T
    return affine


@pytest.mark.parametrize(
    "columns,expected",
    [
        # nibabel's canonical RAS: i to the patient's right, j anterior -> transposed, both flipped
        (([1, 0, 0], [0, 1, 0], [0, 0, 1]), DisplayOrientation(True, True, True, ("A", "P", "R", "L"))),
        # a DICOM axial series stored LPS (i = its columns to the left, j = its rows to the back): as a PACS shows it
        (([-0.7, 0, 0], [0, -0.7, 0], [0, 0, 3]), DisplayOrientation(True, False, False, ("A", "P", "R", "L"))),
        # a tilted axial slice: the main directions decide
        (([0, -0.9, 0.2], [-0.9, 0.1, 0], [0, 0.3, 2]), DisplayOrientation(False, False, False, ("A", "P", "R", "L"))),
        # coronal: i to the right, j superior, slices anterior
        (([1, 0, 0], [0, 0, 1], [0, 1, 0]), DisplayOrientation(True, True, True, ("S", "I", "R", "L"))),
        # sagittal: i anterior, j superior, slices to the right
        (([0, 1, 0], [0, 0, 1], [1, 0, 0]), DisplayOrientation(True, True, True, ("S", "I", "A", "P"))),
    ],
)
def test_display_orientation_of_a_nifti(columns, expected):
    assert display_orientation({"format": "nifti", "affine": _affine(*columns)}) == expected


def test_other_images_are_shown_as_stored():
    oblique = _affine([1, 0.9, 0], [1, 0.95, 0], [0, 0, 1])  # two voxel axes mainly along x
    for meta in ({"format": "dicom", "affine": np.eye(4)}, {"format": "nifti", "affine": oblique}, {}):
        orientation = display_orientation(meta)
        assert orientation.as_stored and orientation.edges is None


@pytest.mark.parametrize("flags", list(itertools.product([False, True], repeat=3)))
def test_regions_map_to_the_pixels_the_screen_shows(flags):
    orientation = DisplayOrientation(*flags)
    array = np.arange(3 * 7 * 11, dtype=np.float32).reshape(3, 7, 11)
    screen = orientation.plane(array)
    assert screen.shape[1:] == orientation.screen_size(7, 11)
    roi = (2, 1, 9, 5)  # x0, y0, x1, y1 in the array
    x0, y0, x1, y1 = orientation.roi_to_screen(roi, 7, 11)
    region = array[:, roi[1] : roi[3], roi[0] : roi[2]]
    np.testing.assert_array_equal(screen[:, y0:y1, x0:x1], orientation.plane(region))
    assert orientation.roi_from_screen((x0, y0, x1, y1), 7, 11) == roi


@pytest.fixture(scope="module")
def turned_nifti(tmp_path_factory):
    """CT_small in a NIfTI of nibabel's canonical orientation (i to the right, j anterior), as
    ``nibabel.as_closest_canonical`` leaves a scan: the viewer must show it as the DICOM is shown."""
    hu = read_image(CT).array[0]  # (rows, columns): rows run posterior, columns to the patient's left
    path = tmp_path_factory.mktemp("nifti") / "ct.nii.gz"
    nib.save(nib.Nifti1Image(np.ascontiguousarray(hu.T[::-1, ::-1, None]).astype(np.float32), np.eye(4)), path)
    return path, hu


def test_the_window_shows_the_nifti_as_the_dicom_and_maps_a_drag_back(turned_nifti):
    path, hu = turned_nifti
    session = ViewerSession(path)
    viewer = SRViewer(session, scale=2, model="bicubic", roi=(0, 0, 48, 40))
    shown = np.asarray(viewer.image_axes.images[0].get_array())
    np.testing.assert_array_equal(shown, hu)  # as the DICOM: anterior up, the patient's right on the left
    assert [label.get_text() for label in viewer.edge_labels] == ["A", "P", "R", "L"]
    # a drag over screen columns 10-58, rows 20-51 selects the file's pixels shown there
    click_and_drag(viewer.selector, start=(10.2, 20.4), end=(57.6, 51.0))
    width, height = session.width, session.height
    assert viewer.roi == (height - 51, width - 58, height - 20, width - 10)
    x0, y0, x1, y1 = viewer.roi
    np.testing.assert_array_equal(session.orientation.plane(session.plane[:, y0:y1, x0:x1])[0], hu[20:51, 10:58])
    # the panels are turned the same way: bicubic of the selected region, as shown
    np.testing.assert_array_equal(
        np.asarray(viewer.panel_axes["bicubic"].images[-1].get_array()),
        session.orientation.plane(viewer.comparison.bicubic)[0],
    )
    assert viewer.comparison.bicubic.shape[1:] == (2 * (y1 - y0), 2 * (x1 - x0))


def test_a_dicom_has_no_edge_letters():
    viewer = SRViewer(ViewerSession(CT), scale=2, model="bicubic", roi=(0, 0, 48, 40))
    assert viewer.edge_labels == [] and viewer.session.orientation.as_stored


def test_the_edge_letters_are_drawn_once_whatever_the_slice(tmp_path):
    path = tmp_path / "volume.nii.gz"
    nib.save(nib.Nifti1Image(np.random.default_rng(0).random((40, 48, 5)).astype(np.float32), np.eye(4)), path)
    viewer = SRViewer(ViewerSession(path), scale=2, model="bicubic", roi=(0, 0, 32, 32))
    for index in (0, 4, 2):
        viewer.set_slice(index)
    assert [text.get_text() for text in viewer.image_axes.texts] == ["A", "P", "R", "L"]
    shown = np.asarray(viewer.image_axes.images[0].get_array())
    np.testing.assert_array_equal(shown, viewer.session.orientation.plane(viewer.session.plane)[0])
