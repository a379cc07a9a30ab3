"""The RMISR training objective: L1 on the SR image, L1 + contextual loss on the Laplacian map."""

from __future__ import annotations

import math
import os

import torch
from torch import nn

from ..networks.blocks.laplacian import laplacian_gradient
from .contextual import ContextualLoss
from .patch_features import PatchFeatures
from .vgg import VGG19Features

__all__ = ["TwoBranchLoss", "build_contextual_loss"]

FEATURE_EXTRACTORS = ("vgg19", "patches")
SR_CRITERIA = {"l1": nn.functional.l1_loss, "mse": nn.functional.mse_loss}


def build_contextual_loss(
    extractor: str = "patches",
    vgg_weights: str | os.PathLike | None = None,
    vgg_layers: tuple[str, ...] | list[str] = ("relu3_4",),
    patch_size: int = 5,
    patch_scales: tuple[int, ...] | list[int] = (1, 2),
    bandwidth: float = 0.5,
    max_positions: int | None = 1024,
) -> ContextualLoss:
    """A :class:`ContextualLoss` on ``"vgg19"`` features (the paper; needs ``vgg_weights``, a
    local torchvision-format state dict) or on weight-free ``"patches"`` of the input."""
    if extractor == "vgg19":
        if vgg_weights is None:
            raise ValueError(
                "the 'vgg19' contextual-loss extractor needs vgg_weights: a local file with the ImageNet "
                "VGG-19 state dict (nothing is downloaded); or use extractor='patches'."
            )
        features: nn.Module = VGG19Features(vgg_layers, weights_path=vgg_weights)
    elif extractor == "patches":
        features = PatchFeatures(patch_size, patch_scales)
    else:
        raise ValueError(f"extractor must be one of {FEATURE_EXTRACTORS}, got {extractor!r}.")
    return ContextualLoss(features, bandwidth=bandwidth, max_positions=max_positions)


class TwoBranchLoss(nn.Module):
    """``L = w * L1(sr, hr) + alpha * L1(lap_sr, lap(hr)) + beta * CX(lap_sr, lap(hr))`` (formulas 18-20).

    The SR branch is optimised in pixel space (L1; ``sr_criterion="mse"`` swaps the image
    term for the mean squared error, which PSNR measures); the Laplacian branch of RMISR-VP with
    L1 and the contextual loss, ``alpha = 10`` and ``beta = 1`` (paper section 5.3). The HR
    Laplacian map is computed here with the network's own operator. For a single-branch
    network call it without ``sr_laplacian``: the loss is then ``w * L1(sr, hr)``.

    Args:
        alpha: weight of the Laplacian L1 term.
        beta: weight of the Laplacian contextual term (0 disables it and needs no extractor).
        sr_weight: weight ``w`` of the image term.
        sr_criterion: the image term, ``"l1"`` (the paper) or ``"mse"``. The term is reported
            under this name by :meth:`components`. ``sr_weight`` defaults (and ``vp.json``'s
            400) were chosen for L1, whose gradients are larger than MSE's at small errors.
        contextual: the contextual loss; defaults to the weight-free patch extractor.

    Inputs: ``sr``, ``hr`` (B, C, H, W); ``sr_laplacian`` (B, C, H, W) or None.
    """

    def __init__(
        self,
        alpha: float = 10.0,
        beta: float = 1.0,
        sr_weight: float = 1.0,
        contextual: ContextualLoss | None = None,
        sr_criterion: str = "l1",
    ):
        super().__init__()
        if sr_criterion not in SR_CRITERIA:
            raise ValueError(
                f"sr_criterion (the bundle's --loss#sr_criterion) must be one of {tuple(SR_CRITERIA)}, "
                f"got {sr_criterion!r}."
            )
        self.sr_criterion = sr_criterion
        for name, value in (("alpha", alpha), ("beta", beta), ("sr_weight", sr_weight)):
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value}.")
        self.alpha, self.beta, self.sr_weight = float(alpha), float(beta), float(sr_weight)
        self.contextual = contextual if contextual is not None or beta == 0 else build_contextual_loss("patches")

    def components(
        self,
        sr: torch.Tensor,
        hr: torch.Tensor,
        sr_laplacian: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """Every weighted term and their sum under ``"loss"``; ``generator`` draws the contextual loss's
        sampled positions (None: PyTorch's global generator).

        Raises:
            ValueError: ``sr``, ``hr`` (or ``sr_laplacian``) of different shapes (broadcast, they gave a loss of
                the wrong pairs, with only PyTorch's warning).
        """
        for name, value in (("sr", sr), ("sr_laplacian", sr_laplacian)):
            if value is not None and value.shape != hr.shape:
                raise ValueError(
                    f"{name} and hr must have the same shape, got {tuple(value.shape)} and {tuple(hr.shape)}."
                )
        terms = {self.sr_criterion: self.sr_weight * SR_CRITERIA[self.sr_criterion](sr, hr)}
        if sr_laplacian is not None:
            hr_laplacian = laplacian_gradient(hr)
            terms["laplacian_l1"] = self.alpha * nn.functional.l1_loss(sr_laplacian, hr_laplacian)
            if self.beta > 0 and self.contextual is not None:
                if hr_laplacian.dim() != 4:
                    raise ValueError(
                        f"the contextual term (beta={self.beta:g}) compares 2-D feature maps, got a "
                        f"{hr_laplacian.dim() - 2}-D batch of shape {tuple(hr_laplacian.shape)}: train a 3-D network "
                        "with beta=0 (the bundle's --loss#beta 0)."
                    )
                terms["laplacian_cx"] = self.beta * self.contextual(sr_laplacian, hr_laplacian, generator=generator)
        terms["loss"] = torch.stack(list(terms.values())).sum()
        return terms

    def forward(self, sr: torch.Tensor, hr: torch.Tensor, sr_laplacian: torch.Tensor | None = None) -> torch.Tensor:
        """The total loss (scalar)."""
        return self.components(sr, hr, sr_laplacian)["loss"]

    def gradient_norms(
        self,
        parameters,
        sr: torch.Tensor,
        hr: torch.Tensor,
        sr_laplacian: torch.Tensor | None = None,
    ) -> dict[str, float]:
        """The L2 norm of each weighted term's gradient with respect to ``parameters``.

        For choosing the weights: in RMISR-VP the SR trunk feeds both branches, so the term
        with the largest gradient there decides what the shared features learn. ``sr`` and
        ``sr_laplacian`` must still hold their autograd graph (nothing is accumulated into
        ``.grad``). A term that does not reach the parameters has norm 0.
        """
        params = [p for p in parameters if p.requires_grad]
        terms = self.components(sr, hr, sr_laplacian)
        norms = {}
        for name, value in terms.items():
            if name == "loss":
                continue
            grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
            norms[name] = math.sqrt(sum(float((g.detach() ** 2).sum()) for g in grads if g is not None))
        return norms
