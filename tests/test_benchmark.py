import numpy as np
import pytest
import torch

from monai_rmisr import RMISR
from monai_rmisr.benchmark import machine_description, main, network_scores, protocol_scores
from monai_rmisr.data.corpus import CorpusImage
from monai_rmisr.metrics import psnr
from monai_rmisr.networks.utils import scaled_size, upsample_image
from monai_rmisr.transforms import imresize


def _images():
    yy, xx = np.mgrid[0:45, 0:38] / 40.0
    smooth = (0.5 + 0.4 * np.sin(3 * xx) * np.cos(2 * yy))[None].astype(np.float32)
    rng = np.random.default_rng(0)
    return [
        CorpusImage("smooth", "CT", "-", smooth),
        CorpusImage("noise", "MR", "-", rng.random((1, 40, 44), dtype=np.float32)),
    ]


@pytest.mark.parametrize("scale", [2, 2.5])
def test_an_untrained_image_residual_network_scores_like_clipped_bicubic(scale):
    net = RMISR(2, 1, scale=scale, upsampler="subpixel" if scale == 2 else "meta", num_blocks=1, image_residual=True)
    scores = network_scores(net, scale, _images())

    def bicubic(lr):  # the network's own skip: PyTorch bicubic, not MATLAB's
        return upsample_image(torch.from_numpy(lr)[None], float(scale))[0].numpy()

    expected = protocol_scores(bicubic, scale, _images(), clip=True)
    assert scores.keys() == expected.keys() == {"smooth", "noise"}
    for name in scores:
        assert scores[name] == pytest.approx(expected[name], abs=1e-4)
    assert scores["smooth"][0] > scores["noise"][0] + 10


def test_border_is_ceil_of_the_scale():
    image = _images()[1]
    seen = []

    def predict(lr):
        out = imresize(lr, output_size=tuple(scaled_size(list(lr.shape[1:]), 2.5)))
        seen.append(out)
        return out

    value = protocol_scores(predict, 2.5, [image])["noise"][0]
    hr_shape = seen[0].shape
    hr = image.array[:, : hr_shape[1], : hr_shape[2]]
    assert value == pytest.approx(psnr(np.clip(seen[0], 0, 1), hr, crop_border=3))


def test_cli_refuses_a_missing_weights_file(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--weights", str(tmp_path / "missing.pt"), "--scale", "2"])
    assert exit_info.value.code == 2
    assert "weights file not found" in capsys.readouterr().err
    assert "torch" in machine_description()
    torch.manual_seed(0)
