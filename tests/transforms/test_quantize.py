import numpy as np
import pytest
import torch

from monai_rmisr.config import config_bit_range
from monai_rmisr.transforms import RandQuantizeIntensity, RandQuantizeIntensityd, check_bit_range, quantize_intensity


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_quantize_clips_then_rounds_to_the_bit_depth(kind):
    values = np.array([-0.2, 0.0, 0.1234, 0.5, 0.99999, 1.3], dtype=np.float32)
    img = torch.from_numpy(values) if kind == "torch" else values
    out = np.asarray(quantize_intensity(img, 8))
    np.testing.assert_allclose(out, np.round(np.clip(values, 0, 1) * 255) / 255, atol=1e-7)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(quantize_intensity(img, None)), np.clip(values, 0, 1))
    np.testing.assert_array_equal(values[[0, -1]], np.float32([-0.2, 1.3]))  # the input is not modified


def test_quantize_takes_one_depth_per_batch_item():
    batch = torch.full((3, 1, 2, 2), 0.31)
    out = quantize_intensity(batch, torch.tensor([1, 2, 16]).view(3, 1, 1, 1))
    assert out[0].unique().tolist() == [0.0] and out[1].unique().item() == pytest.approx(1 / 3)
    assert out[2].unique().item() == pytest.approx(round(0.31 * 65535) / 65535)


def test_random_quantize_draws_depths_in_range_reproducibly():
    ramp = np.linspace(0, 1, 4096, dtype=np.float32)[None]
    transform = RandQuantizeIntensity(bits=(8, 10)).set_random_state(seed=3)
    drawn = []
    for _ in range(30):
        out = transform(ramp)
        drawn.append(transform.drawn_bits)
        assert len(np.unique(out)) == 2**transform.drawn_bits
    assert set(drawn) == {8, 9, 10}
    again = RandQuantizeIntensity(bits=(8, 10)).set_random_state(seed=3)
    assert [again.randomize() or again.drawn_bits for _ in range(30)] == drawn
    assert RandQuantizeIntensity(prob=0.0)(ramp - 0.5).min() == 0.0  # clipped only


def test_dictionary_version_uses_one_depth_for_all_keys():
    ramp = np.linspace(0, 1, 4096, dtype=np.float32)[None]
    transform = RandQuantizeIntensityd(["a", "b"], bits=(8, 12)).set_random_state(seed=0)
    out = transform({"a": ramp, "b": ramp.copy(), "c": ramp - 1})
    np.testing.assert_array_equal(out["a"], out["b"])
    assert len(np.unique(out["a"])) == 2**transform.quantizer.drawn_bits
    np.testing.assert_array_equal(out["c"], ramp - 1)


@pytest.mark.parametrize("bad", [(8,), (16, 8), (0, 8), (8, 25), (8.5, 9), "8-16"])
def test_bit_ranges_are_checked_with_the_value_in_the_message(bad):
    with pytest.raises(ValueError, match="bit depths must"):
        check_bit_range(bad)
    with pytest.raises(ValueError, match="--lr_bits: bit depths must"):
        config_bit_range(bad, "lr_bits")


def test_config_bit_range_reads_the_command_line_forms():
    assert config_bit_range([8, 16], "lr_bits") == (8, 16)
    assert config_bit_range(8, "lr_bits") == (8, 8)
    assert config_bit_range("null", "lr_bits") is None and config_bit_range(None, "lr_bits") is None
    with pytest.raises(ValueError, match="with --clip_lr false give --lr_bits null"):
        config_bit_range([8, 16], "lr_bits", clipped=False)
    assert config_bit_range("none", "lr_bits", clipped=False) is None
