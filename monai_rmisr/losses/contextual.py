"""Contextual loss (Mechrez et al. 2018), reference 42 of the RMISR paper (formula 20)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ContextualLoss", "contextual_similarity"]


def contextual_similarity(
    source: torch.Tensor, target: torch.Tensor, bandwidth: float = 0.5, eps: float = 1e-5
) -> torch.Tensor:
    """CX(X, Y) between two sets of feature vectors, one value per batch item.

    With source features ``x_i`` and target features ``y_j`` (both centred by the target
    mean, then L2-normalised):

    * cosine distance ``d_ij = 1 - <x_i, y_j>``,
    * relative distance ``d~_ij = d_ij / (min_k d_ik + eps)``,
    * affinity ``w_ij = exp((1 - d~_ij) / h)``, normalised over targets: ``cx_ij = w_ij / sum_k w_ik``,
    * ``CX = mean_j max_i cx_ij``: every target feature looks for its most similar source feature.

    Args:
        source: (B, C, N) features of the SR output.
        target: (B, C, M) features of the HR reference.
        bandwidth: ``h``.
        eps: numerical guard of the relative distance.

    Returns:
        (B,) float32 (float64 for float64 inputs) similarities in (0, 1]; 1 when every target
        feature has a distinct close match.

    Always computed in float32 or wider, also inside ``torch.autocast``: the relative distance
    divides by the nearest distance plus ``eps``, which on flat (black) backgrounds is about
    ``eps``; in float16 its gradient, ``d / (min + eps)^2``, overflows (a float16 gradient scaler
    then skips every step).
    """
    dtype = torch.promote_types(source.dtype, torch.float32)
    with torch.autocast(device_type=source.device.type, enabled=False):
        target = target.to(dtype)
        mean = target.mean(dim=(0, 2), keepdim=True)
        source = nn.functional.normalize(source.to(dtype) - mean, dim=1)
        target = nn.functional.normalize(target - mean, dim=1)
        distance = 1.0 - torch.bmm(source.transpose(1, 2), target)  # (B, N, M)
        relative = distance / (distance.min(dim=2, keepdim=True).values + eps)
        # softmax over targets == exp((1 - d~)/h) / sum_k exp((1 - d~_ik)/h), computed stably
        affinity = torch.softmax((1.0 - relative) / bandwidth, dim=2)
        return affinity.max(dim=1).values.mean(dim=1)


class ContextualLoss(nn.Module):
    """``-log CX(phi(sr), phi(hr))`` averaged over feature layers and the batch (formula 20).

    The affinity matrix has (positions)^2 entries per image: a 192x192 batch of 16 at VGG
    ``relu3_4`` (48x48 = 2,304 positions) would need about 85 M floats per intermediate. We
    therefore draw ``max_positions`` random positions per layer (the same for SR and HR;
    fresh draws every call, from ``generator`` when one is given), which bounds the memory to about
    ``B * max_positions^2 * 4 bytes * 5`` (1,024 positions, batch 16: about 340 MB) while the
    estimate stays unbiased over iterations. ``max_positions=None`` uses every position.

    Args:
        feature_extractor: module mapping (B, C, H, W) images to a list of feature maps (or
            one map), e.g. :class:`~monai_rmisr.losses.VGG19Features` or
            :class:`~monai_rmisr.losses.PatchFeatures`.
        bandwidth: ``h`` of the affinity (0.5).
        max_positions: positions sampled per layer, or None for all.
        eps: guard of the relative distance and of the logarithm.
    """

    def __init__(
        self,
        feature_extractor: nn.Module,
        bandwidth: float = 0.5,
        max_positions: int | None = 1024,
        eps: float = 1e-5,
    ):
        super().__init__()
        if bandwidth <= 0:
            raise ValueError(f"bandwidth must be positive, got {bandwidth}.")
        if max_positions is not None and max_positions < 1:
            raise ValueError(f"max_positions must be positive or None, got {max_positions}.")
        self.feature_extractor = feature_extractor
        self.bandwidth = bandwidth
        self.max_positions = max_positions
        self.eps = eps

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = self.feature_extractor(x)
        return [features] if isinstance(features, torch.Tensor) else list(features)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The scalar loss (>= 0).

        Args:
            sr, hr: (B, C, H, W) of equal shape.
            generator: draws the sampled positions (a trainer's per-iteration generator makes them
                reproducible); None: PyTorch's global generator.
        """
        if sr.shape != hr.shape:
            raise ValueError(f"sr and hr must have the same shape, got {tuple(sr.shape)} and {tuple(hr.shape)}.")
        losses = []
        for sr_map, hr_map in zip(self._features(sr), self._features(hr.detach())):
            sr_flat, hr_flat = sr_map.flatten(2), hr_map.flatten(2)
            positions = sr_flat.shape[2]
            if self.max_positions is not None and positions > self.max_positions:
                device = sr.device if generator is None else generator.device
                index = torch.randperm(positions, generator=generator, device=device)[: self.max_positions]
                index = index.to(sr.device)
                sr_flat, hr_flat = sr_flat[:, :, index], hr_flat[:, :, index]
            cx = contextual_similarity(sr_flat, hr_flat, self.bandwidth, self.eps)
            losses.append(-torch.log((cx + self.eps) / (1 + self.eps)).mean())  # 0 where cx = 1, its largest
        return torch.stack(losses).mean()
