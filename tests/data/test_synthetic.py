import numpy as np
import pytest
from scipy.ndimage import binary_dilation

from monai_rmisr.data import training_images, validation_images
from monai_rmisr.data.datasets import validation_synthetic_images
from monai_rmisr.data.synthetic import (
    aperture_image,
    ct_phantom_image,
    dead_leaves_image,
    display_graphics_image,
    synthetic_images,
)


def test_synthetic_images_are_reproducible_grey_images_in_range():
    first, again = synthetic_images(4, size=96, seed=1), synthetic_images(4, size=96, seed=1)
    assert len(first) == 4
    for a, b in zip(first, again):
        assert a.shape == (1, 96, 96) and a.dtype == np.float32
        assert a.min() == 0.0 and a.max() == 1.0
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], synthetic_images(1, size=96, seed=2)[0])
    assert synthetic_images(0) == []


def test_display_graphics_have_a_black_frame_and_sharp_glyph_edges():
    image = display_graphics_image(128, seed=0)[0]
    assert (image == 0).mean() > 0.2  # black background, as around a scan sector
    steps = np.abs(np.diff(image, axis=1))
    assert (steps > 0.4).sum() > 50  # text and graphics: many one-pixel jumps


def test_dead_leaves_are_piecewise_constant():
    image = dead_leaves_image(64, seed=0)[0]
    assert len(np.unique(image)) > 20
    assert (np.diff(image, axis=1) == 0).mean() > 0.5


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_training_images_refuses_a_bad_count(bad):
    with pytest.raises(ValueError, match="--synthetic_images must be a whole number >= 0"):
        training_images(synthetic=bad)


@pytest.mark.integration
def test_validation_images_show_ultrasound_frames_whole_and_a_procedural_frame_never_trained_on():
    images = validation_images(["CT_small", "OBXXXX1A"], synthetic=1)
    assert [img.shape for img in images] == [(1, 128, 128), (1, 600, 800), (1, 384, 384)]
    assert (images[1] == 0).mean() > 0.3  # the full frame: text and graphics on black, not the crop
    training = synthetic_images(64, seed=0)
    assert all(img.shape != images[2].shape for img in training)
    with pytest.raises(ValueError, match="--val_synthetic_images must be a whole number >= 0"):
        validation_images(["CT_small"], synthetic=-1)
    with pytest.raises(ValueError, match="no train image of the corpus matches"):
        validation_images(["nothing"])


def test_ultrasound_frames_are_added_except_the_validation_ones():
    plain = training_images(val_names=["OBXXXX1A"])
    framed = training_images(val_names=["OBXXXX1A"], ultrasound_frames=True)
    assert len(framed) == len(plain) + 6
    assert (1, 600, 800) not in {img.shape for img in framed[len(plain) :]}  # OBXXXX1A's frame is held out


def test_aperture_images_are_a_soft_field_of_view_on_black():
    image = aperture_image(128, seed=3)
    assert image.shape == (1, 128, 128) and image.dtype == np.float32
    np.testing.assert_array_equal(image, aperture_image(128, seed=3))
    assert not np.array_equal(image, aperture_image(128, seed=4))
    image = image[0]
    assert image.min() == 0.0 and image.max() == 1.0
    assert 0.05 < (image == 0).mean() < 0.9  # black outside the field of view, and a field inside
    for seed in range(40):  # the rim (a tab on it included) is blurred everywhere: no hard step off black
        other = aperture_image(96, seed=seed)[0]
        black = other == 0
        assert 0 < black.mean() < 1
        assert other[binary_dilation(black) & ~black].max() < 0.05
    with pytest.raises(ValueError, match="size >= 16"):
        aperture_image(8)


@pytest.mark.parametrize(
    "argument,setting,count,bad,make,size",
    [
        ("aperture", "aperture_images", 3, -2, aperture_image, 256),
        ("ct_phantoms", "ct_phantom_images", 2, -1, ct_phantom_image, 512),
    ],
)
def test_procedural_images_are_added_to_training(argument, setting, count, bad, make, size):
    plain = training_images(val_names=["OBXXXX1A"])
    added = training_images(val_names=["OBXXXX1A"], seed=1, **{argument: count})
    assert len(added) == len(plain) + count
    np.testing.assert_array_equal(added[-1], make(size, seed=100_003 + count - 1))  # image k of seed 1, the last
    with pytest.raises(ValueError, match=f"--{setting} must be a whole number >= 0"):
        training_images(**{argument: bad})


def test_procedural_images_are_added_to_validation():
    images = validation_synthetic_images(1, aperture=2, ct_phantoms=1)
    assert [img.shape for img in images] == [(1, 384, 384)] * 4
    np.testing.assert_array_equal(images[1], aperture_image(384, seed=0))
    np.testing.assert_array_equal(images[3], ct_phantom_image(384, seed=0))
    # none of them is a training image: training draws its slices at 512, its fields of view at 256
    assert not any(np.array_equal(images[3][0, :64, :64], ct_phantom_image(512, seed=k)[0, :64, :64]) for k in range(4))
    with pytest.raises(ValueError, match="--val_aperture_images must be a whole number >= 0"):
        validation_synthetic_images(1, aperture=1.5)
    with pytest.raises(ValueError, match="--val_ct_phantom_images must be a whole number >= 0"):
        validation_synthetic_images(1, ct_phantoms=-1)
    corpus = validation_images(["CT_small"], synthetic=0, ct_phantoms=1)
    assert len(corpus) == 2
    np.testing.assert_array_equal(corpus[1], images[3])


def test_ct_phantoms_are_slices_in_air_with_strong_bone_edges():
    image = ct_phantom_image(128, seed=3)
    assert image.shape == (1, 128, 128) and image.dtype == np.float32
    np.testing.assert_array_equal(image, ct_phantom_image(128, seed=3))
    assert not np.array_equal(image, ct_phantom_image(128, seed=4))
    cut = 0
    for seed in range(12):
        slice_ = ct_phantom_image(128, seed=seed)[0]
        assert slice_.min() == 0.0 and slice_.max() == 1.0
        corners = slice_[[0, 0, 2, -1, -1], [0, -1, 2, 0, -1]]
        cut += bool((corners == 0).all())  # cut by the reconstruction circle: black outside it
        inside = ~binary_dilation(slice_ == 0, iterations=2)  # not the circle's own edge
        steps = np.maximum(
            np.abs(np.diff(slice_, axis=0))[inside[1:]].max(), np.abs(np.diff(slice_, axis=1))[inside[:, 1:]].max()
        )
        assert steps > 0.15  # bone against soft tissue or air: the strong edges CT slices have
    assert 4 <= cut <= 11  # most slices are cut, some run to the border
    with pytest.raises(ValueError, match="size >= 64"):
        ct_phantom_image(32)
