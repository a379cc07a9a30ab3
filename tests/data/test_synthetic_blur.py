"""--synthetic_blur: the procedural images seen through a Gaussian point-spread function."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from monai_rmisr.data.datasets import training_images
from monai_rmisr.data.synthetic import band_limited, dead_leaves_image, synthetic_images


def test_band_limited_is_the_gaussian_psf_with_the_range_kept():
    image = dead_leaves_image(64, seed=3)
    blurred = band_limited(image, 0.6)
    assert blurred.shape == image.shape and blurred.dtype == np.float32
    expected = gaussian_filter(image[0], 0.6, mode="nearest")
    np.testing.assert_allclose(blurred[0, 1:-1, 1:-1], expected[1:-1, 1:-1], atol=1e-6)
    assert blurred.min() == 0.0 and blurred.max() == 1.0 and (blurred[0, 0, 0], blurred[0, -1, -1]) == (0.0, 1.0)
    # an aliased edge (a step between two neighbours) becomes a ramp: smaller jumps between neighbours
    assert np.abs(np.diff(blurred[0], axis=1)).max() < np.abs(np.diff(image[0], axis=1)).max()


def test_synthetic_images_blur_only_when_asked_and_refuse_a_negative_psf():
    sharp = synthetic_images(2, size=64, seed=1)
    np.testing.assert_array_equal(synthetic_images(2, size=64, seed=1, blur_sigma=0.0)[1], sharp[1])
    blurred = synthetic_images(2, size=64, seed=1, blur_sigma=0.6)
    for a, b in zip(blurred, sharp):
        np.testing.assert_array_equal(a, band_limited(b, 0.6))
    with pytest.raises(ValueError, match="blur_sigma must be >= 0"):
        synthetic_images(1, size=64, blur_sigma=-1.0)


def test_training_images_pass_the_psf_to_the_procedural_images_only(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    from PIL import Image

    Image.fromarray((np.random.default_rng(0).random((40, 40)) * 255).astype(np.uint8)).save(folder / "a.png")
    plain = training_images(folder, synthetic=2)
    blurred = training_images(folder, synthetic=2, synthetic_blur=0.8)
    assert len(plain) == len(blurred) == 3
    np.testing.assert_array_equal(plain[0], blurred[0])  # the user's image as it is
    np.testing.assert_array_equal(blurred[2], band_limited(plain[2], 0.8))
