"""Exact regrouping of grouped convolutions: the same function with fewer, wider groups.

A grouped convolution with ``g`` groups equals one with ``g / r`` groups whose weights are block-diagonal:
each new group holds ``r`` old groups side by side, every weight between two different old groups zero.
The result is the same up to float summation order (the zeros add nothing), at ``r`` times the
multiply-adds. That can still be faster: on the CPU, oneDNN's grouped kernels are slow for groups with
very few output channels. PyConv-3's 7x7 branch (8 groups of 8 input and 2 output channels, 64 -> 16)
took 33 ms a call on a 128 x 128 LR input in contiguous memory, 14 ms in channels-last, and 8 ms as 4 groups
of 4 output channels in contiguous memory (one thread, AMD EPYC with AVX-512, torch 2.13;
``benchmarks/cpu_profile.py --path contiguous / channels_last / cpu_form``, docs/inference.md). So the inference
paths run a regrouped copy of a network on the CPU (:func:`cpu_inference_network`); training and the weights on
disk keep the paper's groups.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.modules.conv import _ConvNd

__all__ = [
    "MIN_GROUP_OUT_CHANNELS",
    "cpu_inference_network",
    "inference_network",
    "merge_conv_groups",
    "regroup_convolutions",
]

_PLAIN_CONVOLUTIONS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)

#: The fewest output channels per group a convolution keeps after :func:`regroup_convolutions`.
MIN_GROUP_OUT_CHANNELS = 4


def merge_conv_groups(conv: _ConvNd, groups: int) -> _ConvNd:
    """An exact equivalent of ``conv`` (any ``nn.ConvNd``, not transposed) with ``groups`` groups.

    Args:
        conv: a convolution with ``conv.groups`` groups.
        groups: the new group count, a divisor of ``conv.groups``; new group ``j`` takes old groups
            ``j * r ... j * r + r - 1`` (``r = conv.groups / groups``), their weights on a block diagonal.

    Returns:
        A new convolution of ``conv``'s class, device and dtype, same stride / padding / dilation / bias;
        its output equals ``conv``'s up to float rounding (about 1e-7 relative). ``conv`` is not changed.

    Raises:
        ValueError: a transposed convolution, or ``groups`` not a positive divisor of ``conv.groups``.
    """
    if conv.transposed:
        raise ValueError(f"merge_conv_groups: transposed convolutions are not supported ({conv}).")
    if not (isinstance(groups, int) and groups >= 1 and conv.groups % groups == 0):
        raise ValueError(f"merge_conv_groups: groups must divide {conv.groups}, got {groups!r}.")
    ratio = conv.groups // groups
    out_per_group = conv.out_channels // conv.groups
    in_per_group = conv.in_channels // conv.groups
    weight = conv.weight.detach()
    merged = weight.new_zeros(conv.out_channels, in_per_group * ratio, *weight.shape[2:])
    for group in range(conv.groups):
        rows = slice(group * out_per_group, (group + 1) * out_per_group)
        slot = group % ratio
        merged[rows, slot * in_per_group : (slot + 1) * in_per_group] = weight[rows]
    new = type(conv)(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        groups=groups,
        bias=conv.bias is not None,
        padding_mode=conv.padding_mode,
        device=weight.device,
        dtype=weight.dtype,
    )
    with torch.no_grad():
        new.weight.copy_(merged)
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    return new.train(conv.training)


def _merged_groups(conv: nn.Module) -> int | None:
    """The group count :func:`regroup_convolutions` gives ``conv``, or None to leave it as it is.

    Plain ``nn.Conv1d/2d/3d`` (not a subclass, which may compute something else) grouped convolutions, not
    depthwise (those have kernels of their own), with fewer than :data:`MIN_GROUP_OUT_CHANNELS` output channels
    per group get the largest group count that gives each group at least that many.
    """
    if type(conv) not in _PLAIN_CONVOLUTIONS or conv.groups == 1:
        return None
    if conv.in_channels == conv.groups or conv.out_channels // conv.groups >= MIN_GROUP_OUT_CHANNELS:
        return None
    out_per_group = conv.out_channels // conv.groups
    ratio = next(
        (r for r in range(2, conv.groups + 1) if conv.groups % r == 0 and out_per_group * r >= MIN_GROUP_OUT_CHANNELS),
        conv.groups,
    )
    return conv.groups // ratio


def regroup_convolutions(network: nn.Module) -> nn.Module:
    """``network`` with every narrow grouped convolution merged by :func:`merge_conv_groups`.

    Args:
        network: any module; it is not changed.

    Returns:
        ``network`` itself when no convolution needs merging (so a second call is free), else a deep copy in
        which each grouped convolution with fewer than :data:`MIN_GROUP_OUT_CHANNELS` output channels per group
        has the largest group count that gives it at least that many (PyConv-3's 7x7: 8 groups -> 4). Same
        outputs up to float rounding; its ``state_dict`` has the merged (larger) weights, so save the original.
    """
    if not any(_merged_groups(module) is not None for module in network.modules()):
        return network
    regrouped = copy.deepcopy(network)
    for parent in list(regrouped.modules()):
        for name, child in list(parent.named_children()):
            groups = _merged_groups(child)
            if groups is not None:
                setattr(parent, name, merge_conv_groups(child, groups))
    return regrouped


def cpu_inference_network(network: nn.Module) -> tuple[nn.Module, bool]:
    """The form of ``network`` the inference paths run on a CPU, and whether to feed it channels-last input.

    A network with grouped convolutions that are not depthwise (RMISR's PyConv-3) runs in contiguous memory,
    where oneDNN's grouped kernels are fastest, and regrouped (:func:`regroup_convolutions`) when any group is
    narrow (RMISR-BL x4 on a 256 x 256 input: 1.91 s against 2.27 s in channels-last memory with the paper's
    groups, ``benchmarks/cpu_inference.py``); any other network runs in channels-last memory as before (plain
    convolutions are as fast or faster there). Calling it again on the module it returned returns that module.

    Returns:
        ``(module, channels_last)``: a regrouped copy in contiguous memory and False; or ``network`` itself,
        converted in place to the memory format it runs in (values unchanged), and False or True.
    """
    grouped = any(
        isinstance(module, _ConvNd) and 1 < module.groups < module.in_channels for module in network.modules()
    )
    if grouped:
        return regroup_convolutions(network).to(memory_format=torch.contiguous_format), False
    return network.to(memory_format=torch.channels_last), True


def inference_network(network: nn.Module, device: str | torch.device) -> tuple[nn.Module, bool]:
    """The form of ``network`` the inference paths run on ``device``, and whether to feed it channels-last input:
    :func:`cpu_inference_network` on a CPU; elsewhere ``network`` as it is, with contiguous input."""
    if torch.device(device).type == "cpu":
        return cpu_inference_network(network)
    return network, False
