"""CTWindow / PercentileNormalize / MinMaxNormalize / RGBToLuma and their dictionary versions and inverses."""

from __future__ import annotations

import monai.transforms
import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from monai_rmisr.data.corpus import _normalise, protocol_gray
from monai_rmisr.transforms import (
    CT_WINDOWS,
    CTWindow,
    CTWindowd,
    MinMaxNormalize,
    MinMaxNormalized,
    PercentileNormalize,
    PercentileNormalized,
    RGBToLuma,
    RGBToLumad,
)
from monai_rmisr.transforms import intensity as intensity_module


def test_names_do_not_shadow_monai():
    assert not set(intensity_module.__all__) & set(dir(monai.transforms))


def test_ct_window_presets():
    assert CT_WINDOWS == {"lung": (-600, 1500), "soft_tissue": (40, 400), "bone": (400, 1800), "brain": (40, 80)}


def test_lung_window_exact_values():
    hu = np.array([[[-1350.0, -600.0, 150.0, -975.0, -2000.0, 3000.0]]])
    out = CTWindow("lung")(hu)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == hu.shape
    np.testing.assert_array_equal(out, [[[0.0, 0.5, 1.0, 0.25, 0.0, 1.0]]])  # clipped outside the window
    unclipped = CTWindow("lung", clip=False, dtype=None)(hu)
    assert unclipped.dtype == np.float64
    np.testing.assert_allclose(unclipped[0, 0, 4:], [(-2000 + 1350) / 1500, (3000 + 1350) / 1500], rtol=1e-15)


@pytest.mark.parametrize("window", ["soft_tissue", "Soft tissue", "bone", "brain", (-500.0, 1000.0)])
def test_window_edges_and_centre(window):
    t = CTWindow(window, dtype=None)
    centre, width = (t.centre, t.width)
    out = t(torch.tensor([[centre - width / 2, centre, centre + width / 2]], dtype=torch.float64))
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.5, 1.0]], dtype=torch.float64), rtol=0, atol=1e-15)


def test_ct_window_inverse_round_trip():
    rng = np.random.default_rng(0)
    hu = rng.uniform(-1350, 150, size=(1, 16, 16))  # inside the lung window: nothing clipped
    t = CTWindow("lung", dtype=None)
    np.testing.assert_allclose(t.inverse(t(hu)), hu, rtol=0, atol=1e-10)
    # float32 output: round trip to 1e-5 of the window width
    t32 = CTWindow("lung")
    back = t32.inverse(t32(hu.astype(np.float32)))
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, hu, rtol=0, atol=1e-5 * 1500)
    # clipped values come back as the window edges
    np.testing.assert_array_equal(t.inverse(t(np.array([[-3000.0, 3000.0]]))), [[-1350.0, 150.0]])


def test_ct_window_metatensor_records_mapping_and_keeps_input_meta():
    hu = MetaTensor(torch.tensor([[[-1350.0, -600.0], [0.0, 150.0]]]), meta={"modality": "CT"})
    out = CTWindow((40, 400))(hu)
    assert isinstance(out, MetaTensor) and out.meta["modality"] == "CT"
    assert out.meta["intensity_mapping"] == {"transform": "CTWindow", "a_min": -160.0, "a_max": 240.0}
    assert "intensity_mapping" not in hu.meta
    back = CTWindow("lung").inverse(out)  # the recorded mapping wins over the instance's window
    torch.testing.assert_close(back.as_tensor(), torch.tensor([[[-160.0, -160.0], [0.0, 150.0]]]))
    assert "intensity_mapping" not in back.meta


def test_ct_windowd_records_and_inverts():
    hu = np.array([[[-1000.0, -600.0, 0.0]]])
    data = {"image": hu, "label": np.zeros(3)}
    t = CTWindowd(keys="image", window="lung", dtype=None)
    out = t(data)
    assert out["image_intensity"] == {"transform": "CTWindow", "a_min": -1350.0, "a_max": 150.0}
    assert out["label"] is data["label"] and set(data) == {"image", "label"}
    np.testing.assert_allclose(t.inverse(out)["image"], hu, rtol=0, atol=1e-10)


def test_percentile_normalize_values_and_inverse():
    rng = np.random.default_rng(1)
    img = rng.gamma(2.0, 100.0, size=(1, 20, 20))
    lo, hi = np.percentile(img, (0.5, 99.5))
    t = PercentileNormalize(dtype=None)
    mapping = t.mapping(img)
    assert mapping == {"transform": "PercentileNormalize", "a_min": lo, "a_max": hi}
    out = t(img)
    np.testing.assert_allclose(out, np.clip((img - lo) / (hi - lo), 0, 1), rtol=0, atol=1e-15)
    assert out.min() == 0.0 and out.max() == 1.0
    unclipped = PercentileNormalize(clip=False, dtype=None)
    np.testing.assert_allclose(unclipped.inverse(unclipped(img), mapping), img, rtol=1e-12)
    # clipped: only the values beyond the percentiles change
    back = t.inverse(out, (lo, hi))
    inside = (img >= lo) & (img <= hi)
    np.testing.assert_allclose(back[inside], img[inside], rtol=1e-12)
    np.testing.assert_allclose(back[~inside], np.clip(img, lo, hi)[~inside], rtol=1e-12)


def test_percentile_normalize_metatensor_round_trip_and_missing_mapping():
    img = MetaTensor(torch.arange(64, dtype=torch.float32).reshape(1, 8, 8) * 3.0 + 10.0)
    t = PercentileNormalize(lower=0, upper=100)
    out = t(img)
    assert out.meta["intensity_mapping"]["a_min"] == 10.0 and out.meta["intensity_mapping"]["a_max"] == 199.0
    torch.testing.assert_close(t.inverse(out).as_tensor(), img.as_tensor(), rtol=1e-6, atol=1e-5)
    with pytest.raises(ValueError, match="mapping"):
        t.inverse(np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match="a_max"):
        t.inverse(np.zeros((1, 2, 2)), {"a_min": 0.0})


def test_percentile_normalize_degenerate_images_stay_invertible():
    sparse = np.zeros((1, 20, 20))
    sparse[0, 0, 0] = 5.0  # 0.25 % foreground: the 0.5 / 99.5 percentiles are both 0
    t = PercentileNormalize(dtype=None)
    assert (t.mapping(sparse)["a_min"], t.mapping(sparse)["a_max"]) == (0.0, 5.0)
    constant = np.full((1, 4, 4), 7.0)
    out = t(constant)
    np.testing.assert_array_equal(out, 0.0)
    np.testing.assert_array_equal(t.inverse(out, t.mapping(constant)), constant)
    with pytest.raises(ValueError, match="finite"):
        t(np.array([[1.0, np.nan]]))


def test_percentile_normalized_dict():
    rng = np.random.default_rng(2)
    data = {"mr": rng.uniform(0, 900, (1, 10, 10)), "other": rng.uniform(0, 1, (1, 10, 10))}
    t = PercentileNormalized(keys="mr", lower=1, upper=99, clip=False, dtype=None)
    out = t(data)
    assert set(out) == {"mr", "other", "mr_intensity"}
    assert out["other"] is data["other"]
    lo, hi = np.percentile(data["mr"], (1, 99))
    assert out["mr_intensity"]["a_min"] == lo and out["mr_intensity"]["a_max"] == hi
    np.testing.assert_allclose(t.inverse(out)["mr"], data["mr"], rtol=1e-12)
    # a prediction is mapped back with its input's mapping through the array transform
    np.testing.assert_allclose(t.transform.inverse(np.ones((1, 2, 2)), out["mr_intensity"]), hi, rtol=1e-12)


def test_batched_mapping_inverse():
    imgs = np.stack([np.linspace(0, 1, 6).reshape(1, 2, 3) * s + s for s in (1.0, 10.0)])  # (B, 1, 2, 3)
    t = PercentileNormalize(0, 100, dtype=None)
    maps = [t.mapping(i) for i in imgs]
    normed = np.stack([t(i) for i in imgs])
    collated = {"a_min": torch.tensor([m["a_min"] for m in maps]), "a_max": torch.tensor([m["a_max"] for m in maps])}
    np.testing.assert_allclose(t.inverse(normed, collated), imgs, rtol=1e-12)


@pytest.mark.parametrize(("lower", "upper"), [(-1, 99), (50, 50), (60, 40), (0, 101), (float("nan"), 99)])
def test_percentile_bad_arguments(lower, upper):
    with pytest.raises(ValueError, match=f"lower={float(lower)}, upper={float(upper)}"):
        PercentileNormalize(lower, upper)


def test_min_max_normalize_equals_corpus_protocol_and_inverts():
    rng = np.random.default_rng(3)
    gray = rng.uniform(-300, 2000, (17, 13))
    t = MinMaxNormalize()
    out = t(gray[None])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, _normalise(gray, "x", "image"))  # bit-identical to the corpus
    span = gray.max() - gray.min()  # float32 output: round trip to float32 precision of the range
    np.testing.assert_allclose(t.inverse(out.astype(np.float64), t.mapping(gray[None])), gray[None], atol=1e-6 * span)
    d = MinMaxNormalized(keys="img", dtype=None)({"img": gray[None]})
    assert d["img_intensity"] == {"transform": "MinMaxNormalize", "a_min": gray.min(), "a_max": gray.max()}
    np.testing.assert_allclose(MinMaxNormalized(keys="img").inverse(d)["img"], gray[None], rtol=1e-12)


def test_sixteen_bit_input():
    png16 = np.array([[[0, 1000, 65535]]], dtype=np.uint16)
    out = MinMaxNormalize()(png16)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[[0.0, 1000 / 65535, 1.0]]], rtol=1e-7)
    np.testing.assert_allclose(MinMaxNormalize().inverse(out, (0, 65535)), png16, rtol=1e-6)


def test_rgb_to_luma_weights():
    rgb = np.zeros((3, 1, 4))
    rgb[0, 0, 0] = rgb[1, 0, 1] = rgb[2, 0, 2] = 1.0
    rgb[:, 0, 3] = 200.0
    out = RGBToLuma()(rgb)
    assert out.shape == (1, 1, 4) and out.dtype == np.float64
    np.testing.assert_allclose(out, [[[0.299, 0.587, 0.114, 200.0]]], rtol=1e-15)
    np.testing.assert_allclose(RGBToLuma((0.2126, 0.7152, 0.0722))(rgb)[0, 0, :3], [0.2126, 0.7152, 0.0722])
    # identical to the corpus protocol's conversion, and 16-bit RGB becomes float32 luma
    rand = np.random.default_rng(4).uniform(0, 65535, (3, 5, 6))
    np.testing.assert_array_equal(RGBToLuma()(rand)[0], protocol_gray(rand))
    assert RGBToLuma()(rand.astype(np.uint16)).dtype == np.float32


def test_rgb_to_luma_grey_torch_and_dict():
    grey = torch.rand(1, 4, 4)
    out = RGBToLuma()(grey)
    torch.testing.assert_close(out, grey, rtol=0, atol=0)
    assert out.data_ptr() != grey.data_ptr()
    rgb = MetaTensor(torch.rand(3, 4, 4, 2), meta={"color": "RGB"})
    d = RGBToLumad(keys="img")({"img": rgb})
    assert isinstance(d["img"], MetaTensor) and d["img"].shape == (1, 4, 4, 2)
    expected = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    torch.testing.assert_close(d["img"].as_tensor()[0], expected.as_tensor())


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="'liver'"):
        CTWindow("liver")
    with pytest.raises(ValueError, match=r"\(40, 0\)"):
        CTWindow((40, 0))
    with pytest.raises(ValueError, match="inf"):
        CTWindow((float("inf"), 400))
    with pytest.raises(ValueError, match=r"\(1, 2, 3\)"):
        CTWindow((1, 2, 3))
    with pytest.raises(ValueError, match=r"\(0.5, 0.5\)"):
        RGBToLuma((0.5, 0.5))
    with pytest.raises(ValueError, match=r"\(4, 3, 3\)"):
        RGBToLuma()(np.zeros((4, 3, 3)))
