import hashlib
import json

import numpy as np
import pytest
import torch

from monai_rmisr import IMDN, RMISR, RMISRVP
from monai_rmisr.benchmark import (
    benchmark_network,
    machine_description,
    main,
    network_scores,
)
from monai_rmisr.data.corpus import CorpusImage
from monai_rmisr.metrics import laplacian_map, protocol_scores, psnr
from monai_rmisr.networks.nets.imdn import imdn_state_dict_from_authors
from monai_rmisr.networks.utils import scaled_size, upsample_image
from monai_rmisr.transforms import imresize
from tests.networks.imdn_authors import authors_checkpoint


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
        assert scores[name][:3] == pytest.approx(expected[name][:3], abs=1e-4)
        assert scores[name].branch_laplacian_psnr is None  # a single-branch network
    assert scores["smooth"].psnr > scores["noise"].psnr + 10


def test_border_is_ceil_of_the_scale():
    image = _images()[1]
    seen = []

    def predict(lr):
        out = imresize(lr, output_size=tuple(scaled_size(list(lr.shape[1:]), 2.5)))
        seen.append(out)
        return out

    scores = protocol_scores(predict, 2.5, [image])["noise"]
    hr_shape = seen[0].shape
    hr = image.array[:, : hr_shape[1], : hr_shape[2]]
    sr = np.clip(seen[0], 0, 1)
    assert scores.psnr == pytest.approx(psnr(sr, hr, crop_border=3))
    assert scores.laplacian_psnr == pytest.approx(psnr(laplacian_map(sr), laplacian_map(hr), crop_border=3))
    assert scores.laplacian_psnr < scores.psnr  # the Laplacian amplifies the error of fine detail


def test_laplacian_map_is_the_four_neighbour_laplacian():
    yy, xx = np.mgrid[0:9, 0:7].astype(np.float64)
    quadratic = (xx**2 + 3 * yy**2)[None]
    lap = laplacian_map(quadratic)
    assert lap.shape == quadratic.shape
    assert np.allclose(lap[:, 1:-1, 1:-1], 2 + 6)


def test_a_two_branch_network_has_its_laplacian_branch_scored():
    torch.manual_seed(0)
    net = RMISRVP(2, 1, scale=2, sr_blocks=2, guidance_blocks=(1, 2), image_residual=True)
    scores = network_scores(net, 2, _images())
    for score in scores.values():
        assert np.isfinite(score.branch_laplacian_psnr)
        # the untrained branch is noise, unlike the Laplacian of the (bicubic) image
        assert score.branch_laplacian_psnr != pytest.approx(score.laplacian_psnr, abs=0.01)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_the_benchmark_scores_the_form_super_resolve_runs_in_its_precision(monkeypatch, precision):
    import monai_rmisr.benchmark as benchmark_module
    from monai_rmisr.networks.regroup import inference_network

    monkeypatch.setattr("monai_rmisr.inference.settings.native_bfloat16", lambda device: True)
    asked = []

    def spy(network, device, compute_dtype):
        asked.append(compute_dtype)
        return inference_network(network, device, compute_dtype)

    monkeypatch.setattr(benchmark_module, "inference_network", spy)
    torch.manual_seed(0)
    net = RMISR(2, 1, scale=2, num_blocks=1, image_residual=True)
    scores = network_scores(net, 2, _images(), precision=precision)
    assert asked == [getattr(torch, precision)] and all(np.isfinite(s.psnr) for s in scores.values())
    assert {m.groups for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1} == {8, 4}  # unchanged


def test_benchmark_networks_default_to_the_image_skip_they_were_published_with():
    assert benchmark_network("RMISR", 2).image_residual
    assert benchmark_network("RMISRVP", 4).image_residual
    imdn = benchmark_network("IMDN", 2)
    assert isinstance(imdn, IMDN) and not imdn.image_residual
    assert benchmark_network("IMDN", 2, image_residual=True).image_residual
    assert not benchmark_network("RMISR", 3, "meta", image_residual=False).image_residual
    assert benchmark_network("RMISR", 3, "meta").upsampler_kind == "meta"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--network", "UNet"], "unknown network 'UNet'"),
        (["--network", "SRCNN", "--image-residual"], "SRCNN has no image-space skip"),
        (["--scale", "3"], "do not fit RMISR"),  # x2 weights, x3 network
    ],
)
def test_cli_refuses_a_network_the_weights_do_not_describe(tmp_path, capsys, argv, message):
    weights = tmp_path / "x2.pt"
    torch.save(benchmark_network("RMISR", 2).state_dict(), weights)
    arguments = ["--weights", str(weights), *argv] + ([] if "--scale" in argv else ["--scale", "2"])
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_refuses_a_missing_weights_file(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--weights", str(tmp_path / "missing.pt"), "--scale", "2"])
    assert exit_info.value.code == 2
    assert "weights file not found" in capsys.readouterr().err
    assert "torch" in machine_description()
    torch.manual_seed(0)


def test_cli_scores_an_arbitrary_scale_network_at_several_scales(tmp_path, monkeypatch, capsys):
    torch.manual_seed(0)
    weights = tmp_path / "meta.pt"
    torch.save(benchmark_network("RMISR", 2, "meta").state_dict(), weights)  # untrained: exactly bicubic
    monkeypatch.setattr("monai_rmisr.benchmark.load_corpus", lambda split: _images())
    assert main(["--weights", str(weights), "--scale", "2", "3.5", "--upsampler", "meta"]) == 0
    out = capsys.readouterr().out
    assert "x2 RMISR" in out and "x3.5 RMISR" in out
    summary = [line.split(" | ") for line in out.splitlines() if line.startswith("| x")]
    means = [line.split(" | ") for line in out.splitlines() if line.startswith("| **mean**")]
    assert [row[0] for row in summary] == ["| x2", "| x3.5"] and len(means) == 2
    for row, mean in zip(summary, means):
        bicubic_psnr, network_psnr = float(row[1].split(" / ")[0]), float(row[2].split(" / ")[0])
        assert bicubic_psnr == float(mean[1].split(" / ")[0]) and network_psnr == float(mean[2].split(" / ")[0])
        assert float(row[3].rstrip(" |")) == pytest.approx(network_psnr - bicubic_psnr, abs=0.011)


def test_cli_refuses_several_scales_for_a_fixed_scale_network(tmp_path, capsys):
    weights = tmp_path / "x2.pt"
    torch.save(benchmark_network("RMISR", 2).state_dict(), weights)
    with pytest.raises(SystemExit) as exit_info:
        main(["--weights", str(weights), "--scale", "2", "3"])
    assert exit_info.value.code == 2
    assert "several --scale values need an arbitrary-scale network" in capsys.readouterr().err


def test_self_ensemble_scores_the_image_alone_and_differs_from_one_pass():
    torch.manual_seed(0)
    vp = RMISRVP(2, 1, scale=2, sr_blocks=2, guidance_blocks=(1, 2), image_residual=True)
    for p in vp.parameters():  # the zero output layers made random: untrained, the image is exactly bicubic
        if not p.any():
            torch.nn.init.normal_(p, std=0.05)
    one_pass = network_scores(vp, 2, _images())
    ensemble = network_scores(vp, 2, _images(), self_ensemble=True)
    for name in one_pass:
        assert ensemble[name].branch_laplacian_psnr is None
        assert ensemble[name].psnr != pytest.approx(one_pass[name].psnr, abs=1e-3)


def _edges_image() -> CorpusImage:
    edges = (np.indices((40, 40)).sum(0) // 5 % 2).astype(np.float32)[None]  # bicubic LR overshoots
    return CorpusImage("edges", "CT", "-", edges)


def test_the_protocol_lr_is_clipped_and_unclipped_is_a_variant():
    received = {}

    def predict(lr, key):
        received[key] = lr.copy()
        return upsample_image(torch.from_numpy(lr)[None], 2)[0].numpy()

    protocol_scores(lambda lr: predict(lr, "unclipped"), 2, [_edges_image()], clip_lr=False)
    protocol_scores(lambda lr: predict(lr, "realistic"), 2, [_edges_image()])
    protocol_scores(lambda lr: predict(lr, "8-bit"), 2, [_edges_image()], lr_bits=8)
    assert received["unclipped"].min() < 0 or received["unclipped"].max() > 1
    np.testing.assert_array_equal(received["realistic"], np.clip(received["unclipped"], 0, 1))
    levels = received["8-bit"] * 255
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-4)
    assert np.abs(received["8-bit"] - received["realistic"]).max() <= 0.5 / 255 + 1e-6
    assert not np.array_equal(received["8-bit"], received["realistic"])


def _untrained_meta_weights(tmp_path):
    torch.manual_seed(0)
    weights = tmp_path / "meta.pt"
    torch.save(benchmark_network("RMISR", 2, "meta").state_dict(), weights)  # untrained: exactly bicubic
    return weights


def _mean_row(out: str) -> list[str]:
    (mean,) = [line.split(" | ") for line in out.splitlines() if line.startswith("| **mean**")]
    return mean


def test_cli_scores_bicubic_on_the_same_lr_variant(tmp_path, monkeypatch, capsys):
    weights = _untrained_meta_weights(tmp_path)
    monkeypatch.setattr("monai_rmisr.benchmark.load_corpus", lambda split: [_edges_image()])
    means = {}
    for flags, variant in (([], "clipped"), (["--unclipped"], "unclipped"), (["--lr-bits", "8"], "clipped, 8-bit")):
        assert main(["--weights", str(weights), "--scale", "2", "--upsampler", "meta", *flags]) == 0
        out = capsys.readouterr().out
        assert f"LR {variant};" in out.splitlines()[0]
        means[variant] = float(_mean_row(out)[1].split(" / ")[0])  # bicubic PSNR
    assert len(set(means.values())) == 3


def test_cli_refuses_unclipped_with_lr_bits(tmp_path, capsys):
    weights = _untrained_meta_weights(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["--weights", str(weights), "--scale", "2", "--upsampler", "meta", "--unclipped", "--lr-bits", "8"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_cli_saves_scores_and_compares_per_image_with_a_reference_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("monai_rmisr.benchmark.load_corpus", lambda split: _images())
    torch.manual_seed(0)
    network = benchmark_network("RMISR", 2)
    for p in network.parameters():  # not bicubic
        if not p.any():
            torch.nn.init.normal_(p, std=0.05)
    weights, bicubic_weights = tmp_path / "x2.pt", tmp_path / "bicubic.pt"
    torch.save(network.state_dict(), weights)
    torch.save(benchmark_network("RMISR", 2).state_dict(), bicubic_weights)
    saved = tmp_path / "scores" / "bicubic.json"
    assert (
        main(["--weights", str(bicubic_weights), "--scale", "2", "--save-scores", str(saved), "--decimals", "4"]) == 0
    )
    capsys.readouterr()
    record = json.loads(saved.read_text())
    assert record["lr"] == "clipped" and set(record["scales"]["2"]) == {"smooth", "noise"}
    assert main(["--weights", str(weights), "--scale", "2", "--reference", str(saved), "--decimals", "4"]) == 0
    out = capsys.readouterr().out
    expected = network_scores(network, 2, _images())
    for name in ("smooth", "noise"):
        (row,) = [line.split(" | ") for line in out.splitlines() if line.startswith(f"| {name} |")]
        gap = expected[name].psnr - record["scales"]["2"][name]["psnr"]
        assert float(row[-1].strip(" |")) == pytest.approx(gap, abs=1e-4)
    # a reference measured on another LR variant, or at another scale, is refused with its reason
    meta = ["--weights", str(_untrained_meta_weights(tmp_path)), "--upsampler", "meta"]
    for flags, message in (
        (["--weights", str(weights), "--scale", "2", "--unclipped"], "'clipped' LR, this run scores 'unclipped'"),
        ([*meta, "--scale", "3"], "no scores at x3 (it has x2)"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main([*flags, "--reference", str(saved)])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
    # --save-scores onto a file the run reads is refused before scoring, and the file is left as it was
    for target, flags in ((saved, ["--reference", str(saved)]), (weights, [])):
        before = target.read_bytes()
        with pytest.raises(SystemExit) as exit_info:
            main(["--weights", str(weights), "--scale", "2", *flags, "--save-scores", str(target)])
        assert exit_info.value.code == 2 and "would overwrite the input" in capsys.readouterr().err
        assert target.read_bytes() == before


def test_cli_scores_reference_weights_in_the_same_run(tmp_path, monkeypatch, capsys):
    """--reference with a weights file: the IMDN authors' layout (here generated) scored beside ours."""
    monkeypatch.setattr("monai_rmisr.benchmark.load_corpus", lambda split: _images())
    authors = tmp_path / "IMDN_x2.pth"
    torch.save(authors_checkpoint(2)[1], authors)
    weights = _untrained_meta_weights(tmp_path)
    assert main(["--weights", str(weights), "--scale", "2", "--upsampler", "meta", "--reference", str(authors)]) == 0
    out = capsys.readouterr().out
    assert f"reference: IMDN ({authors})" in out
    gray = IMDN(2, 1, scale=2)
    gray.load_state_dict(imdn_state_dict_from_authors(torch.load(authors, weights_only=True)))
    expected = np.mean([s.psnr for s in network_scores(gray, 2, _images()).values()])
    assert float(_mean_row(out)[-2]) == pytest.approx(expected, abs=0.01)


def test_cli_decimals_prints_the_mean_psnr_to_that_many_places(tmp_path, monkeypatch, capsys):
    torch.manual_seed(0)
    network = benchmark_network("RMISR", 2)
    for p in network.parameters():  # the zero output layer made random, so the network is not bicubic
        if not p.any():
            torch.nn.init.normal_(p, std=0.05)
    weights = tmp_path / "x2.pt"
    torch.save(network.state_dict(), weights)
    monkeypatch.setattr("monai_rmisr.benchmark.load_corpus", lambda split: _images())
    expected = np.mean([s.psnr for s in network_scores(network, 2, _images()).values()])
    for decimals in (2, 4):
        assert main(["--weights", str(weights), "--scale", "2", "--decimals", str(decimals)]) == 0
        (mean,) = [line.split(" | ") for line in capsys.readouterr().out.splitlines() if line.startswith("| **mean**")]
        network_psnr = mean[2].split(" / ")[0]
        assert network_psnr == f"{expected:.{decimals}f}"


def test_cli_refuses_decimals_out_of_range(tmp_path, capsys):
    weights = tmp_path / "x2.pt"
    torch.save(benchmark_network("RMISR", 2).state_dict(), weights)
    with pytest.raises(SystemExit) as exit_info:
        main(["--weights", str(weights), "--scale", "2", "--decimals", "9"])
    assert exit_info.value.code == 2
    assert "--decimals" in capsys.readouterr().err


def test_cli_reads_the_architecture_a_run_or_a_shipped_name_describes(tmp_path, monkeypatch, capsys):
    # a run's model.pt was loaded into an RMISR x<scale> whatever its model.json said: an RMISR-VP or arbitrary-scale
    # run failed with kilobytes of tensor names, a shipped x2 at --scale 3 with "size mismatch ..."
    from monai_rmisr.inference.pretrained import save_sidecar

    monkeypatch.setattr("monai_rmisr.benchmark.load_corpus", lambda split: _images())
    weights = tmp_path / "run" / "model.pt"
    weights.parent.mkdir()
    torch.manual_seed(0)
    torch.save(benchmark_network("RMISR", 2, "meta").state_dict(), weights)
    save_sidecar(weights, {"_target_": "RMISR", "spatial_dims": 2, "in_channels": 1, "upsampler": "meta"})
    assert main(["--weights", str(weights), "--scale", "2", "3.5"]) == 0  # no --upsampler meta needed
    out = capsys.readouterr().out
    assert out.startswith(f"RMISR ({weights}, as its architecture sidecar {weights.with_suffix('.json')} says)")
    assert "x3.5 RMISR" in out
    assert main(["--weights", str(weights), "--scale", "2", "--upsampler", "meta"]) == 0  # agreeing: as before
    capsys.readouterr()
    for argv, message in (
        (["--upsampler", "subpixel"], "--upsampler subpixel contradicts the architecture of"),
        (["--network", "RMISRVP"], "do not fit RMISRVP: tensors: "),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["--weights", str(weights), "--scale", "2", *argv])
        err = capsys.readouterr().err
        assert (
            exit_info.value.code == 2 and message in err and len(err.splitlines()[-1]) < 600
        )  # one line, not every tensor name
    shipped = tmp_path / "models" / "rmisr_bl_x2.pt"  # named as a registry model: its architecture
    shipped.parent.mkdir()
    torch.save(benchmark_network("RMISR", 2).state_dict(), shipped)
    with pytest.raises(SystemExit) as exit_info:
        main(["--weights", str(shipped), "--scale", "3"])
    assert exit_info.value.code == 2
    assert f"RMISR of {shipped} is a fixed x2 network: give --scale 2." in capsys.readouterr().err


def test_cli_save_scores_keeps_an_existing_file_unless_overwrite_and_records_the_weights(tmp_path, monkeypatch, capsys):
    # --save-scores replaced an existing file (a --reference kept for later) without a word, and recorded the
    # weights by their base name alone (two runs' model.pt alike)
    monkeypatch.setattr("monai_rmisr.benchmark.load_corpus", lambda split: _images())
    weights = _untrained_meta_weights(tmp_path)
    saved = tmp_path / "kept.json"
    saved.write_text("{}")
    command = ["--weights", str(weights), "--scale", "2", "--upsampler", "meta", "--save-scores", str(saved)]
    with pytest.raises(SystemExit) as exit_info:
        main(command)
    assert exit_info.value.code == 2 and "already exists; pass --overwrite" in capsys.readouterr().err
    assert saved.read_text() == "{}"
    assert main([*command, "--overwrite"]) == 0
    record = json.loads(saved.read_text())
    assert record["weights"] == str(weights.resolve()) and record["precision"] == "float32"
    assert record["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert "reference: the scores in" not in capsys.readouterr().out
    assert main(["--weights", str(weights), "--scale", "2", "--upsampler", "meta", "--reference", str(saved)]) == 0
    assert f"reference: the scores in {saved}\n" in capsys.readouterr().out  # the table says what it compares with
    # a reference scored otherwise is compared, and said to be (a self-ensemble moves every score)
    command = ["--weights", str(weights), "--scale", "2", "--upsampler", "meta", "--reference", str(saved)]
    assert main([*command, "--self-ensemble"]) == 0
    assert "(scored unlike this run: self-ensemble here, not there)" in capsys.readouterr().out
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(SystemExit) as exit_info:
        main([*command[:-1], str(tmp_path / "list.json")])
    assert exit_info.value.code == 2 and "not a scores file written by --save-scores" in capsys.readouterr().err


def test_cli_refuses_a_device_it_cannot_run_on_in_one_line(tmp_path, capsys):
    # --device cuda without a GPU ended in torch's AssertionError traceback, after the header was printed
    weights = _untrained_meta_weights(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["--weights", str(weights), "--scale", "2", "--upsampler", "meta", "--device", "cuda:99"])
    captured = capsys.readouterr()
    assert exit_info.value.code == 2 and "device 'cuda:99'" in captured.err and captured.out == ""


def test_cli_scores_a_users_own_images_per_image_with_bicubic_beside(tmp_path, capsys):
    # the benchmark scored the corpus's TEST split only; evaluate.json, on a data set, logged means alone: per image
    # against bicubic on one's own images was possible only one image at a time in the viewer
    from PIL import Image

    rng = np.random.default_rng(0)
    (tmp_path / "data" / "sub").mkdir(parents=True)
    for name in ("a.png", "sub/b.png"):
        Image.fromarray((rng.random((40, 36)) * 255).astype(np.uint8)).save(tmp_path / "data" / name)
    weights = _untrained_meta_weights(tmp_path)
    saved = tmp_path / "mine.json"
    command = ["--weights", str(weights), "--scale", "2", "--upsampler", "meta", "--decimals", "4"]
    assert main([*command, "--dataset-dir", str(tmp_path / "data"), "--save-scores", str(saved)]) == 0
    out = capsys.readouterr().out
    assert f"on {(tmp_path / 'data').resolve()} (folder), LR clipped" in out.splitlines()[0]
    rows = {line.split(" | ")[0]: line.split(" | ") for line in out.splitlines() if line.startswith("| ")}
    assert {"| a.png", "| sub/b.png", "| **mean**"} <= set(rows)
    for row in (rows["| a.png"], rows["| sub/b.png"]):  # untrained with the image skip: bicubic, clipped
        assert float(row[2].split(" / ")[0]) >= float(row[1].split(" / ")[0]) - 1e-4
    record = json.loads(saved.read_text())
    assert record["images"] == f"{(tmp_path / 'data').resolve()} (folder)"
    assert set(record["scales"]["2"]) == {"a.png", "sub/b.png"}
    import shutil

    shutil.copytree(tmp_path / "data", tmp_path / "moved")  # the same images elsewhere: compared by name
    assert main([*command, "--dataset-dir", str(tmp_path / "moved"), "--reference", str(saved)]) == 0
    capsys.readouterr()
    Image.fromarray((rng.random((40, 36)) * 255).astype(np.uint8)).save(tmp_path / "data" / "c.png")
    data = ["--dataset-dir", str(tmp_path / "data")]
    for argv, message in (
        ([*command, "--reference", str(saved)], "and 3 more (its scores are of /"),  # the TEST split: six
        ([*command, *data, "--reference", str(saved)], "has no score at x2 for c.png"),  # before scoring, not after
        ([*command, "--dataset-dir", str(tmp_path / "gone")], "no such data set folder"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        captured = capsys.readouterr()
        assert exit_info.value.code == 2 and message in captured.err and "| **mean**" not in captured.out
