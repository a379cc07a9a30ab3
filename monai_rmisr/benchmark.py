"""The benchmark protocol of the project: a network against bicubic on the TEST split.

``python -m monai_rmisr.benchmark --weights bundles/rmisr/models/rmisr_bl_x2.pt --scale 2``
(``--self-ensemble``: each input's eight flips / quarter turns, outputs averaged)

Protocol (realistic, ``DATA.md``): the six TEST images of the embedded corpus, one grey channel,
min-max normalised to [0, 1]; HR cropped to fit the scale; LR = MATLAB-bicubic downscale **clipped
to [0, 1]** (a stored scan has no bicubic overshoot); the rules are :mod:`monai_rmisr.metrics.protocol`;
PSNR (peak 1) and SSIM (11x11 Gaussian, sigma 1.5) after cropping ``ceil(scale)`` border pixels;
mean over the six images, every image listed. The network output is clipped to [0, 1]; bicubic is
scored unclipped, which reproduces the reference 37.41 / 34.66 / 33.05 dB. Variants, reported
beside the realistic number, never instead: ``--lr-bits 8`` rounds the clipped LR to 8 bits (as
DIV2K-style LR PNGs are); ``--unclipped`` keeps the overshoot (the paper-style number, 37.42 /
34.68 / 33.06 dB for bicubic).

Your own images: ``--dataset-dir DIR`` (``--dataset-preset``, ``--skip-bad``) scores the test split of a data set
as ``evaluate.json`` reads it (a folder's every image, a datalist's ``test`` list) with the same protocol, per image,
bicubic beside it; a scores file records which images it holds.

Side by side: ``--reference`` names a scores file that ``--save-scores`` wrote (same scale and
variant), or a weights file scored in the same run (``--reference-network``, default IMDN, whose
published RGB checkpoints ``IMDN_x{2,3,4}.pth`` load folded to grey); every image then gets the
gap network minus reference.

Laplacian-map PSNR (the RMISR-VP criterion): PSNR, peak 1, same border crop, between the
four-neighbour Laplacian maps (:func:`~monai_rmisr.networks.blocks.laplacian_gradient`) of the
SR and the HR image. For RMISR-VP the map its Laplacian branch reconstructs is scored as well.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from .data.corpus import CorpusImage, load_corpus
from .data.datasets import validation_min_size
from .data.presets import PRESETS
from .data.user_datasets import DatasetImage, load_dataset
from .hardware import cpu_description
from .inference.pretrained import described_network, load_checkpoint, weights_sha256
from .inference.self_ensemble import self_ensemble_forward
from .inference.settings import (
    check_device,
    check_model_scale,
    check_precision,
    compute_autocast,
    model_in_channels,
    model_scale_limits,
    model_spatial_dims,
)
from .io.output import atomic_output, check_output_path
from .metrics.protocol import Scores, bicubic_baseline, mean_scores, protocol_scores
from .networks.regroup import inference_network
from .networks.utils import forward_at_scale

__all__ = [
    "TEST_IMAGES",
    "ScoredImage",
    "benchmark_images",
    "benchmark_network",
    "lr_variant",
    "machine_description",
    "network_scores",
    "read_reference_scores",
    "reference_differences",
    "scores_record",
    "weights_network",
]


def network_scores(
    network: nn.Module,
    scale: float,
    images: Sequence[CorpusImage] | None = None,
    device: str = "cpu",
    self_ensemble: bool = False,
    clip_lr: bool = True,
    lr_bits: int | None = None,
    precision: str = "float32",
) -> dict[str, Scores]:
    """:func:`~monai_rmisr.metrics.protocol.protocol_scores` of a network (eval mode, no gradients, in the form
    :func:`~monai_rmisr.inference.super_resolve` runs it in ``precision`` on ``device``:
    :func:`~monai_rmisr.networks.regroup.inference_network`) on ``images`` (default: the corpus TEST split).

    A network with ``forward_with_laplacian`` (RMISR-VP) also has its branch's map scored,
    except with ``self_ensemble`` (the image averaged over eight flips / quarter turns,
    :func:`~monai_rmisr.inference.self_ensemble_forward`), which scores the image alone.
    ``clip_lr``, ``lr_bits``: see :func:`~monai_rmisr.metrics.protocol.protocol_pair`. ``precision``: the
    network's compute dtype (:func:`~monai_rmisr.inference.settings.check_precision`; scores always in
    float64 on float32 outputs).
    """
    compute_dtype = check_precision(precision, device)
    images = load_corpus("test") if images is None else images
    # the form super_resolve runs in this precision (on the CPU: the exact rewrites of cpu_inference_network)
    network, channels_last = inference_network(network.eval().to(device), device, compute_dtype)
    two_branch = hasattr(network, "forward_with_laplacian") and not self_ensemble
    forward = self_ensemble_forward if self_ensemble else forward_at_scale

    def predict(lr: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        x = torch.from_numpy(lr)[None].to(device)
        with torch.no_grad(), compute_autocast(compute_dtype, device):
            if two_branch:
                x = x.contiguous(memory_format=torch.channels_last) if channels_last else x
                sr, sr_laplacian = network.forward_with_laplacian(x, float(scale))
                return sr[0].float().cpu().numpy(), sr_laplacian[0].float().cpu().numpy()
            out = forward(network, x, float(scale), channels_last)
        return out[0].float().cpu().numpy()

    return protocol_scores(predict, scale, images, clip_lr=clip_lr, lr_bits=lr_bits)


def benchmark_network(name: str, scale: float, upsampler: str = "subpixel", image_residual: bool | None = None):
    """The grey 2-D network ``name`` (a class of ``monai_rmisr.networks.nets``) as the benchmark builds it.

    ``upsampler`` and ``image_residual`` go to the networks that take them. ``image_residual=None``
    means the default of the weights one benchmarks: on for RMISR and RMISR-VP (as shipped),
    the class's own default (off) for the others, IMDN included (as published).

    Raises:
        ValueError: an unknown network, or ``image_residual`` given to one without that option.
    """
    from .networks import nets

    if name not in nets.__all__:
        raise ValueError(f"unknown network {name!r}; known: {', '.join(nets.__all__)}")
    network_class = getattr(nets, name)
    accepted = inspect.signature(network_class).parameters
    kwargs = {"spatial_dims": 2, "in_channels": 1, "scale": scale}
    if "upsampler" in accepted:
        kwargs["upsampler"] = upsampler
    if image_residual is None and name in ("RMISR", "RMISRVP"):
        image_residual = True
    if image_residual is not None:
        if "image_residual" not in accepted:
            raise ValueError(f"{name} has no image-space skip: drop --image-residual/--no-image-residual")
        kwargs["image_residual"] = image_residual
    return network_class(**kwargs)


def weights_network(
    weights: str | os.PathLike[str],
    scales: Sequence[float],
    network: str | None = None,
    upsampler: str | None = None,
    image_residual: bool | None = None,
) -> tuple[nn.Module, str]:
    """The network the benchmark loads ``weights`` into, and how its architecture was told (``""``, or ``", as its
    architecture sidecar ... says"``): ``network`` given, :func:`benchmark_network` of it; else the architecture the
    weights' sidecar, run ``model.json`` or shipped name describes
    (:func:`~monai_rmisr.inference.pretrained.described_network`); else an RMISR. Checked against ``scales``.

    Raises:
        ValueError: ``upsampler`` / ``image_residual`` that contradict a described architecture, a described network
            that is not grey 2-D, or ``scales`` the network does not take (a fixed-scale network at another scale).
    """
    described = None if network is not None else described_network(weights)
    if described is None:
        built = benchmark_network(network or "RMISR", scales[0], upsampler or "subpixel", image_residual)
        how = ""
    else:
        built, source = described
        has_residual = bool(getattr(built, "image_residual", False))
        for option, asked, has in (
            (f"--upsampler {upsampler}", upsampler, getattr(built, "upsampler_kind", "subpixel")),
            ("--image-residual" if image_residual else "--no-image-residual", image_residual, has_residual),
        ):
            if asked is not None and asked != has:
                raise ValueError(
                    f"{option} contradicts the architecture of {weights}, its {source}'s: drop it (or give --network "
                    "to build another architecture)."
                )
        if model_spatial_dims(built) != 2 or model_in_channels(built) != 1:
            raise ValueError(
                f"{weights} is a {type(built).__name__} of other dimensions or channels ({source}); the benchmark "
                "scores grey 2-D networks."
            )
        how = f", as its {source} says"
    fixed, max_scale = model_scale_limits(built)
    what = f"{type(built).__name__} of {weights}"
    if fixed is not None and any(scale != fixed for scale in scales):
        if described is None:  # built at the first --scale: nothing says what the file is
            raise ValueError("several --scale values need an arbitrary-scale network (--upsampler meta).")
        several = "; several --scale values need an arbitrary-scale network" if len(scales) > 1 else ""
        raise ValueError(f"{what} is a fixed x{fixed:g} network: give --scale {fixed:g}{several}.")
    for scale in scales:
        check_model_scale(scale, fixed, max_scale, what)
    return built, how


#: What a scores file records of the images of a run on the corpus's TEST split.
TEST_IMAGES = "the TEST split"


class ScoredImage(NamedTuple):
    """An image the benchmark scores: its name in the tables and scores file, and ``(1, H, W)`` grey in [0, 1]."""

    name: str
    array: np.ndarray


def benchmark_images(
    dataset_dir: str | os.PathLike[str] | None = None,
    dataset_preset: str = "folder",
    scales: Sequence[float] = (),
    skip_bad: bool = False,
) -> tuple[Sequence[CorpusImage | ScoredImage], str]:
    """The images to score and what a scores file records of them: the corpus's TEST split (``dataset_dir`` None),
    or the ``"test"`` split of a user data set as ``evaluate.json`` reads it
    (:func:`~monai_rmisr.data.user_datasets.load_dataset`: a datalist's ``test`` list, else every image; the same
    intensities and presets), less the images too small to score at ``scales`` (each named in a warning), each named
    by its path relative to the data set (a volume's slice ``#k``).

    Raises:
        ValueError, OSError: as :func:`~monai_rmisr.data.user_datasets.load_dataset` (a missing folder, a bad file
            without ``skip_bad``, no image to score).
    """
    if dataset_dir is None:
        return load_corpus("test"), TEST_IMAGES
    root = Path(dataset_dir)
    base = root if root.is_dir() else root.parent  # a datalist's paths are named from its folder
    min_size = validation_min_size(list(scales))
    images = load_dataset(dataset_dir, dataset_preset, "test", skip_bad=skip_bad, min_size=min_size)

    def name(image: DatasetImage) -> str:
        where = Path(os.path.relpath(image.source, base)).as_posix()
        return where if image.slice_index is None else f"{where}#{image.slice_index}"

    return [ScoredImage(name(image), image.array) for image in images], f"{root.resolve()} ({dataset_preset})"


def _cell(scores: Scores, decimals: int) -> str:
    return f"{scores.psnr:.{decimals}f} / {scores.ssim:.4f} / {scores.laplacian_psnr:.{decimals}f}"


def machine_description(device: str | torch.device | None = None) -> str:
    """One line naming the hardware and software the numbers were measured on: the GPU of ``device`` (None: the
    first, where there is one), else the CPU."""
    chosen = torch.device(device if device is not None else "cuda" if torch.cuda.is_available() else "cpu")
    if chosen.type == "cuda":
        hardware = torch.cuda.get_device_name(chosen)
    else:
        hardware = f"{cpu_description()}, {os.cpu_count()} cores"
    return f"{platform.machine()} {hardware}, torch {torch.__version__}, threads {torch.get_num_threads()}"


def lr_variant(clip_lr: bool = True, lr_bits: int | None = None) -> str:
    """The name of the protocol's LR variant, as printed and stored in a scores file."""
    if not clip_lr:
        return "unclipped"
    return "clipped" if lr_bits is None else f"clipped, {lr_bits}-bit"


def scores_record(scores: dict[str, Scores]) -> dict[str, dict[str, float | None]]:
    """``{image: {"psnr", "ssim", "laplacian_psnr", "branch_laplacian_psnr"}}`` of one scale, for JSON."""
    return {image: value._asdict() for image, value in scores.items()}


def read_reference_scores(
    path: str | os.PathLike[str], scale: float, variant: str, names: Collection[str] = ()
) -> dict[str, float]:
    """``{image: PSNR}`` at ``scale`` from a scores file that ``--save-scores`` wrote, holding a score for each image
    of ``names`` (the images this run scores, as :func:`benchmark_images` names them).

    Raises:
        ValueError: not such a file, another LR variant, no scores at that scale, or none for an image of ``names``
            (the message names the file and what it holds).
    """
    record = _scores_file(path)
    stored_variant, by_scale = record["lr"], record["scales"]
    if stored_variant != variant:
        raise ValueError(f"--reference {path} holds scores on the {stored_variant!r} LR, this run scores {variant!r}.")
    if f"{scale:g}" not in by_scale:
        raise ValueError(f"--reference {path} has no scores at x{scale:g} (it has x{', x'.join(by_scale)}).")
    scores = {image: float(value["psnr"]) for image, value in by_scale[f"{scale:g}"].items()}
    missing = [name for name in names if name not in scores]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ValueError(
            f"--reference {path} has no score at x{scale:g} for {shown} (its scores are of "
            f"{record.get('images', TEST_IMAGES)}): score the same images into it."
        )
    return scores


def _scores_file(path: str | os.PathLike[str]) -> dict:
    """The record a ``--save-scores`` file holds (its ``"lr"`` and ``"scales"`` there).

    Raises:
        ValueError: not such a file, naming it.
    """
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"--reference {path}: not a scores file written by --save-scores ({e}).") from e
    if not isinstance(record, dict) or not {"lr", "scales"} <= record.keys():
        raise ValueError(f"--reference {path}: not a scores file written by --save-scores (no 'lr' and 'scales').")
    return record


def reference_differences(path: str | os.PathLike[str], self_ensemble: bool, precision: str) -> list[str]:
    """How the run that wrote the scores file ``path`` differs from this one in what moves a score (self-ensemble,
    compute precision), in words: ``["self-ensemble there, not here"]``; [] where it does not (or the file does not
    say: written before it recorded its precision)."""
    record = _scores_file(path)
    differences = []
    if "self_ensemble" in record and bool(record["self_ensemble"]) != self_ensemble:
        differences.append("self-ensemble " + ("there, not here" if record["self_ensemble"] else "here, not there"))
    if "precision" in record and record["precision"] != precision:
        differences.append(f"precision {record['precision']} there, {precision} here")
    return differences


def _print_scale_table(
    name: str,
    scale: float,
    bicubic: dict[str, Scores],
    scores: dict[str, Scores],
    decimals: int = 2,
    reference: dict[str, float] | None = None,
) -> None:
    two_branch = next(iter(scores.values())).branch_laplacian_psnr is not None
    branch_header, branch_rule = (" network Laplacian branch |", "---|") if two_branch else ("", "")
    if reference is not None:
        missing = set(scores) - set(reference)
        if missing:
            raise ValueError(f"the reference has no score for {', '.join(sorted(missing))}.")
        branch_header += " reference PSNR | network - reference (dB) |"
        branch_rule += "---|---|"
    columns = "PSNR / SSIM / Laplacian-map PSNR"
    print(f"x{scale:g} {name}")
    print(f"| image | bicubic {columns} | network {columns} |{branch_header}")
    print(f"|---|---|---|{branch_rule}")
    rows = [(image, bicubic[image], scores[image], None if reference is None else reference[image]) for image in scores]
    mean_reference = None if reference is None else float(np.mean([reference[image] for image in scores]))
    rows.append(("**mean**", mean_scores(bicubic.values()), mean_scores(scores.values()), mean_reference))
    for image, b, n, r in rows:
        extra = f" {n.branch_laplacian_psnr:.{decimals}f} |" if two_branch else ""
        if r is not None:
            extra += f" {r:.{decimals}f} | {n.psnr - r:+.{decimals}f} |"
        print(f"| {image} | {_cell(b, decimals)} | {_cell(n, decimals)} |{extra}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--weights",
        required=True,
        help="state dict of the network (a run's model.pt or epoch checkpoint, a shipped model file); its "
        "architecture is the one its model.json or shipped name says, else --network",
    )
    parser.add_argument(
        "--scale", type=float, nargs="+", required=True, help="one scale, or several for an arbitrary-scale network"
    )
    parser.add_argument(
        "--network",
        help="class name in monai_rmisr.networks.nets, for weights whose architecture nothing describes (default "
        "RMISR); IMDN also reads the IMDN authors' published RGB checkpoints (IMDN_x4.pth), folded to grey",
    )
    parser.add_argument(
        "--upsampler", choices=("subpixel", "meta"), help="the --network's up-sampler (default subpixel)"
    )
    parser.add_argument(
        "--image-residual",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the network adds the interpolated input to its output (default: yes for RMISR/RMISRVP, "
        "as shipped; no for IMDN, as published)",
    )
    parser.add_argument(
        "--self-ensemble",
        action="store_true",
        help="score the mean over the 8 flips/rotations of each input (8x the time)",
    )
    parser.add_argument(
        "--precision",
        default="float32",
        help="the network's compute dtype: float32 (default), bfloat16 (where native) or auto",
    )
    lr_group = parser.add_mutually_exclusive_group()
    lr_group.add_argument(
        "--unclipped",
        action="store_true",
        help="feed the bicubic LR with its overshoot below 0 and above 1 (the paper-style variant; the realistic "
        "protocol clips the LR to [0, 1], as a stored scan is)",
    )
    lr_group.add_argument(
        "--lr-bits",
        type=int,
        choices=range(1, 17),
        metavar="N",
        help="also round the clipped LR to N bits (the quantised variant: 8, as DIV2K-style LR PNGs are)",
    )
    parser.add_argument(
        "--reference",
        metavar="FILE",
        help="side by side, per image: a scores file from --save-scores (same LR variant), or a weights file "
        "scored in this run as --reference-network",
    )
    parser.add_argument(
        "--reference-network",
        default="IMDN",
        help="class of the --reference weights (default IMDN: the authors' IMDN_x{2,3,4}.pth load as published)",
    )
    parser.add_argument("--save-scores", metavar="FILE.json", help="write every image's scores to this JSON file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --save-scores file")
    parser.add_argument(
        "--decimals",
        type=int,
        choices=range(1, 7),
        default=2,
        metavar="N",
        help="decimals of every PSNR printed (default 2; 4 tells apart checkpoints a few thousandths of a dB apart)",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--dataset-dir",
        metavar="DIR",
        help="score your own images instead of the TEST split: the test split of this data set as evaluate.json "
        "reads it (a folder: every image; a datalist JSON with --dataset-preset datalist: its test list), per image",
    )
    parser.add_argument(
        "--dataset-preset", default="folder", choices=sorted(PRESETS), help="how --dataset-dir is read (default folder)"
    )
    parser.add_argument("--skip-bad", action="store_true", help="leave out images of --dataset-dir that cannot be read")
    args = parser.parse_args(argv)

    if not os.path.isfile(args.weights):
        parser.error(f"weights file not found: {args.weights}")
    if args.reference is not None and not os.path.isfile(args.reference):
        parser.error(f"--reference: no such file: {args.reference}")
    reference_is_scores = args.reference is not None and args.reference.endswith(".json")
    if args.reference is not None and not reference_is_scores and len(args.scale) > 1:
        parser.error("--reference weights score one scale: give one --scale (or a scores file from --save-scores)")
    clip_lr, variant = not args.unclipped, lr_variant(not args.unclipped, args.lr_bits)
    try:
        if args.save_scores:  # checked before minutes of scoring: never onto the weights or scores read
            inputs = [p for p in (args.weights, args.reference) if p]
            check_output_path(args.save_scores, inputs, overwrite=args.overwrite)
        check_device(args.device)
        check_precision(args.precision, args.device)
        network, architecture = weights_network(
            args.weights, args.scale, args.network, args.upsampler, args.image_residual
        )
        load_checkpoint(args.weights, network)
        reference_network = None
        if args.reference is not None and not reference_is_scores:
            reference_network = benchmark_network(args.reference_network, args.scale[0])
            load_checkpoint(args.reference, reference_network)
        images, scored = benchmark_images(args.dataset_dir, args.dataset_preset, args.scale, args.skip_bad)
        references = [
            read_reference_scores(args.reference, scale, variant, [image.name for image in images])
            if reference_is_scores
            else None
            for scale in args.scale
        ]
    except (ValueError, OSError) as e:
        parser.error(str(e))

    details = ", self-ensemble of 8 flips/rotations" if args.self_ensemble else ""
    details += f", {args.precision} compute" if args.precision != "float32" else ""
    name = type(network).__name__
    print(
        f"{name} ({args.weights}{architecture}{details}) on {scored}, LR {variant}; {machine_description(args.device)}"
    )
    if reference_is_scores:
        differences = reference_differences(args.reference, args.self_ensemble, args.precision)
        unlike = f" (scored unlike this run: {'; '.join(differences)})" if differences else ""
        print(f"reference: the scores in {args.reference}{unlike}")
    summary, record = [], {}
    for scale, reference in zip(args.scale, references):
        start = time.perf_counter()
        scores = network_scores(
            network, scale, images, args.device, args.self_ensemble, clip_lr, args.lr_bits, args.precision
        )
        elapsed = time.perf_counter() - start
        bicubic = bicubic_baseline(scale, images, clip_lr=clip_lr, lr_bits=args.lr_bits)
        if reference_network is not None:
            reference_scores = network_scores(
                reference_network, scale, images, args.device, False, clip_lr, args.lr_bits
            )
            reference = {image: value.psnr for image, value in reference_scores.items()}
            print(f"reference: {args.reference_network} ({args.reference}), same LR")
        _print_scale_table(name, scale, bicubic, scores, args.decimals, reference)
        print(f"network inference on the {len(images)} images: {elapsed:.1f} s\n")
        summary.append((scale, mean_scores(bicubic.values()), mean_scores(scores.values())))
        record[f"{scale:g}"] = scores_record(scores)
    if len(summary) > 1:
        print("| scale | bicubic PSNR / SSIM | network PSNR / SSIM | gain (dB) |")
        print("|---|---|---|---|")
        for scale, b, n in summary:
            gain = n.psnr - b.psnr
            d = args.decimals
            print(f"| x{scale:g} | {b.psnr:.{d}f} / {b.ssim:.4f} | {n.psnr:.{d}f} / {n.ssim:.4f} | {gain:+.{d}f} |")
    if args.save_scores:
        content = {
            "network": name,
            "weights": os.path.abspath(args.weights),
            "weights_sha256": weights_sha256(args.weights),
            "images": scored,
            "lr": variant,
            "self_ensemble": args.self_ensemble,
            "precision": args.precision,
            "machine": machine_description(args.device),
            "scales": record,
        }
        with atomic_output(args.save_scores) as temporary:
            temporary.write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")
        print(f"scores written to {args.save_scores}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
