"""The CPU inference form of a network: exact rewrites of its convolutions that run faster on the CPU.

A grouped convolution with ``g`` groups equals one with ``g / r`` groups whose weights are block-diagonal:
each new group holds ``r`` old groups side by side, every weight between two different old groups zero.
The result is the same up to float summation order (the zeros add nothing), at ``r`` times the
multiply-adds. That can still be faster: on the CPU, oneDNN's grouped kernels are slow for groups with
very few output channels. PyConv-3's 7x7 branch (8 groups of 8 input and 2 output channels, 64 -> 16)
took 33 ms a call on a 128 x 128 LR input in contiguous memory, 14 ms in channels-last, and 8 ms as 4 groups
of 4 output channels in contiguous memory (one thread, AMD EPYC with AVX-512, torch 2.13;
``benchmarks/cpu_profile.py --path contiguous / channels_last / cpu_form``, docs/inference.md).

The same idea goes one step further inside a pyramidal block: PyConv-3's 7x7 branch (regrouped to 4 groups) and
its 5x5 branch (4 groups) read the same input channels group by group, so one grouped 7x7 convolution computes
both, the 5x5 kernels padded with zeros (:func:`merge_pyramid_branches`). One call of 8 output channels per group
took 7.9 ms where the two took 11.9 (4.5 against 6.5 ms in bfloat16; ``benchmarks/cpu_kernels.py``), although it
does 1.3x their multiply-adds.

One level up, in a PFMDB, each cascade stage's SRB and the pyramid block that distils the stage's input read the
same tensor, so the SRB's 3x3 convolution and PyConv-3's 3x3 branch become one convolution of their outputs stacked
(:func:`fuse_pfmdb_stages`, 64 -> 96 channels in RMISR).

And plain 1x1 convolutions become batched matrix products (:class:`PointwiseConv`): the same sums, which oneDNN's
matrix kernels compute up to twice as fast as its 1x1 convolution in contiguous memory.

So the inference paths run a rewritten copy of a network on the CPU (:func:`cpu_inference_network`, which then
hands the float32 3x3 / 5x5 / 7x7 convolutions to NNPACK, :mod:`monai_rmisr.networks.nnpack`); training and the
weights on disk keep the paper's layout.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.conv import _ConvNd

from ..hardware import cpu_has_amx
from .blocks.pfmdb import PFMDB
from .blocks.pyconv import PyConv3
from .blocks.pyramid import PyramidBlock
from .blocks.shallow_residual import ShallowResidualBlock
from .nnpack import NNPACKConv2d, nnpack_convolutions
from .utils import copied_parameter, is_planar, rewritten_copy

__all__ = [
    "MIN_GROUP_OUT_CHANNELS",
    "FusedCascadeStage",
    "FusedPFMDB",
    "MergedPyramidBlock",
    "PointwiseConv",
    "cpu_inference_network",
    "fuse_pfmdb_stages",
    "inference_network",
    "merge_conv_groups",
    "merge_pyramid_branches",
    "regroup_convolutions",
]

_PLAIN_CONVOLUTIONS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)

#: The fewest output channels per group a convolution keeps after :func:`regroup_convolutions`.
MIN_GROUP_OUT_CHANNELS = 4

#: Activations that act on each value alone (so a permutation of the channels passes through them); a pyramid
#: block with any other activation (one that mixes channels, or PReLU with a slope per channel) is not merged.
_ELEMENTWISE_ACTIVATIONS = (
    nn.Identity, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.CELU, nn.SELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid, nn.Tanh, nn.Softplus,
)  # fmt: skip


def _elementwise(act: nn.Module) -> bool:
    if isinstance(act, nn.PReLU):
        return type(act) is nn.PReLU and act.num_parameters == 1
    return type(act) in _ELEMENTWISE_ACTIVATIONS


def _in_place_copy(act: nn.Module) -> nn.Module:
    """A copy of ``act`` that works in place where that is exact, for an activation whose input is a tensor of its own.

    ReLU and LeakyReLU with a slope >= 0 (autograd included for these two): torch's out-of-place float32 LeakyReLU
    took 0.81 ms on 64 x 256 x 256 where in place took 0.38 (one thread, AMD EPYC with AVX-512,
    ``benchmarks/cpu_kernels.py``). Any other activation is copied as it is.
    """
    act = copy.deepcopy(act)
    if type(act) is nn.ReLU or (type(act) is nn.LeakyReLU and act.negative_slope >= 0):
        act.inplace = True
    return act


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


class MergedPyramidBlock(nn.Module):
    """A :class:`~monai_rmisr.networks.blocks.PyramidBlock` whose PyConv-3 runs as two convolutions, not three.

    Made by :func:`merge_pyramid_branches`; computes the same function as the block it was made from::

        project(act(cat(grouped(x), dense(x))))

    ``grouped`` is PyConv-3's large and middle branches in one grouped convolution: its output channels are theirs,
    interleaved group by group (each group's large-kernel outputs, then its middle-kernel outputs); ``dense`` is the
    3x3 branch as it was; ``project``'s input columns are permuted to match, so no feature map is reordered.
    """

    def __init__(self, grouped: nn.Module, dense: nn.Module, act: nn.Module, project: nn.Module):
        super().__init__()
        self.grouped, self.dense, self.act, self.project = grouped, dense, act, project

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, in_channels, *spatial). Returns (B, out_channels, *spatial), as the original block."""
        return self.project(self.act(torch.cat([self.grouped(x), self.dense(x)], dim=1)))


def _mergeable_pyramid(block: nn.Module) -> bool:
    """Whether :func:`merge_pyramid_branches` can rewrite ``block``.

    It can a :class:`PyramidBlock` whose PyConv-3 is a :class:`PyConv3` of three plain convolutions (the large and
    middle branches with stride 1, no dilation, zero "same" padding, kernel sizes that differ by an even number, the
    large branch's groups a multiple of the middle branch's; the last branch dense), whose activation acts on each
    value alone (:data:`_ELEMENTWISE_ACTIVATIONS`) and whose projection is a plain convolution with one group.
    """
    if type(block) is not PyramidBlock or type(block.pyconv) is not PyConv3 or not _elementwise(block.act):
        return False
    if len(block.pyconv.branches) != 3:
        return False
    large, middle, dense = block.pyconv.branches
    if any(type(c) not in _PLAIN_CONVOLUTIONS for c in (large, middle, dense, block.project)):
        return False
    for conv in (large, middle):
        if set(conv.stride) != {1} or set(conv.dilation) != {1}:
            return False
        if tuple(conv.padding) != tuple(k // 2 for k in conv.kernel_size) or conv.padding_mode != "zeros":
            return False
    grows = [a - b for a, b in zip(large.kernel_size, middle.kernel_size)]
    return (
        dense.groups == 1
        and block.project.groups == 1
        and large.groups % middle.groups == 0
        and all(g >= 0 and g % 2 == 0 for g in grows)
    )


def merge_pyramid_branches(block: PyramidBlock) -> MergedPyramidBlock:
    """An exact equivalent of ``block`` with PyConv-3's 7x7 and 5x5 branches in one grouped 7x7 convolution.

    The 7x7 branch is first regrouped (:func:`merge_conv_groups`) to the 5x5 branch's group count (8 -> 4), so that
    group ``j`` of both reads the same input channels; the 5x5 kernels are padded with zeros to 7x7 (same padding
    then: the extra taps read the zero border or add exact zeros). Group ``j`` of the merged convolution outputs
    group ``j``'s 7x7 channels, then its 5x5 channels; the 1x1 projection's input columns follow that order.

    Args:
        block: a pyramidal block of plain convolutions as :class:`PyramidBlock` builds it; it is not changed.

    Returns:
        A new :class:`MergedPyramidBlock` (sharing no tensors with ``block``) whose output equals ``block``'s up to
        float rounding.

    Raises:
        ValueError: ``block`` is not a pyramidal block this rewrite applies to (see :func:`_mergeable_pyramid`).
    """
    if not _mergeable_pyramid(block):
        raise ValueError(f"merge_pyramid_branches: not a mergeable PyramidBlock of plain convolutions: {block}")
    large, middle, dense = block.pyconv.branches
    groups = middle.groups
    large = merge_conv_groups(large, groups) if large.groups != groups else large
    large_weight, middle_weight = large.weight.detach(), middle.weight.detach()
    padding = [g // 2 for g in reversed([a - b for a, b in zip(large.kernel_size, middle.kernel_size)]) for _ in (0, 1)]
    middle_weight = F.pad(middle_weight, padding)
    large_bias = large.bias.detach() if large.bias is not None else large_weight.new_zeros(large.out_channels)
    middle_bias = middle.bias.detach() if middle.bias is not None else middle_weight.new_zeros(middle.out_channels)
    large_per_group, middle_per_group = large.out_channels // groups, middle.out_channels // groups
    weights, biases, order = [], [], []
    for group in range(groups):
        large_rows = slice(group * large_per_group, (group + 1) * large_per_group)
        middle_rows = slice(group * middle_per_group, (group + 1) * middle_per_group)
        weights += [large_weight[large_rows], middle_weight[middle_rows]]
        biases += [large_bias[large_rows], middle_bias[middle_rows]]
        order += range(large_rows.start, large_rows.stop)
        order += range(large.out_channels + middle_rows.start, large.out_channels + middle_rows.stop)
    grouped_channels = large.out_channels + middle.out_channels
    order += range(grouped_channels, grouped_channels + dense.out_channels)
    has_bias = large.bias is not None or middle.bias is not None
    grouped = type(large)(
        large.in_channels,
        grouped_channels,
        large.kernel_size,
        padding=large.padding,
        groups=groups,
        bias=has_bias,
        device=large_weight.device,
        dtype=large_weight.dtype,
    )
    project = copy.deepcopy(block.project)
    with torch.no_grad():
        grouped.weight.copy_(torch.cat(weights))
        if has_bias:
            grouped.bias.copy_(torch.cat(biases))
        project.weight.copy_(block.project.weight[:, order])
    # it reads the concatenation, a tensor of its own
    merged = MergedPyramidBlock(grouped, copy.deepcopy(dense), _in_place_copy(block.act), project)
    return merged.train(block.training)


class FusedCascadeStage(nn.Module):
    """One stage of a PFMDB's cascade (an SRB and the pyramid block that distils its input) reading that input once.

    Made by :func:`fuse_pfmdb_stages`; computes ``(PYB(x), SRB(x))`` of the stage it was made from::

        both = conv(x)                          # the SRB's 3x3 outputs, then the pyramid's 3x3 branch
        distilled = project(act(cat(grouped(x), both[:, C:])))
        next = srb_act(both[:, :C] + x)
    """

    def __init__(
        self,
        channels: int,
        conv: nn.Module,
        srb_act: nn.Module,
        grouped: nn.Module,
        act: nn.Module,
        project: nn.Module,
    ):
        super().__init__()
        if not 0 < channels < conv.out_channels:
            raise ValueError(f"FusedCascadeStage: channels must be in (0, {conv.out_channels}), got {channels}.")
        self.channels = channels
        self.conv, self.srb_act, self.grouped, self.act, self.project = conv, srb_act, grouped, act, project

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Args: x: (B, C, *spatial). Returns (the distilled features, the next stage's input)."""
        both = self.conv(x)
        distilled = self.project(self.act(torch.cat([self.grouped(x), both[:, self.channels :]], dim=1)))
        return distilled, self.srb_act(both[:, : self.channels] + x)


class FusedPFMDB(nn.Module):
    """A :class:`~monai_rmisr.networks.blocks.PFMDB` whose cascade stages are :class:`FusedCascadeStage` s: the same
    function, one 3x3 convolution fewer per stage (:func:`fuse_pfmdb_stages`)."""

    def __init__(self, block: PFMDB, stages: list[FusedCascadeStage]):
        super().__init__()
        self.stages = nn.ModuleList(stages)
        self.last_conv, self.last_act = copy.deepcopy(block.last_conv), copy.deepcopy(block.last_act)
        self.attention, self.fuse = copy.deepcopy(block.attention), copy.deepcopy(block.fuse)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, channels, *spatial). Returns the same shape, as the original block."""
        distilled: list[torch.Tensor] = []
        features = x
        for stage in self.stages:
            kept, features = stage(features)
            distilled.append(kept)
        distilled.append(self.last_act(self.last_conv(features)))
        return x + self.fuse(self.attention(torch.cat(distilled, dim=1)))


def _fusable_pfmdb(block: nn.Module) -> bool:
    """Whether :func:`fuse_pfmdb_stages` can rewrite ``block``: a :class:`PFMDB` whose pyramid blocks merge
    (:func:`merge_pyramid_branches`) and whose every SRB is a :class:`ShallowResidualBlock` with a plain
    convolution of the same kernel, stride, padding and dilation as its pyramid block's dense branch."""
    if type(block) is not PFMDB or len(block.cascade) != len(block.distill):
        return False
    for srb, pyb in zip(block.cascade, block.distill):
        if type(srb) is not ShallowResidualBlock or not _mergeable_pyramid(pyb):
            return False
        conv, dense = srb.conv, pyb.pyconv.branches[-1]
        if type(conv) is not type(dense) or conv.groups != 1 or conv.padding_mode != dense.padding_mode:
            return False
        layout = ("kernel_size", "stride", "padding", "dilation")
        if any(getattr(conv, name) != getattr(dense, name) for name in layout):
            return False
    return True


def fuse_pfmdb_stages(block: PFMDB) -> FusedPFMDB:
    """An exact equivalent of ``block`` in which each SRB's 3x3 convolution and the 3x3 branch of the pyramid block
    that reads the same input are one convolution (64 -> 96 channels in RMISR), the pyramid blocks merged as by
    :func:`merge_pyramid_branches`.

    One wider call is faster than two: 7.5 against 8.7 ms through NNPACK on a 64 x 128 x 128 input, 9.0 against 9.6
    in bfloat16 (one thread, AMD EPYC with AVX-512, ``benchmarks/cpu_kernels.py``).

    Args:
        block: a PFMDB of plain convolutions as :class:`PFMDB` builds it; it is not changed.

    Returns:
        A new :class:`FusedPFMDB` (sharing no tensors with ``block``) whose output equals ``block``'s up to float
        rounding.

    Raises:
        ValueError: ``block`` is not a PFMDB this rewrite applies to (see :func:`_fusable_pfmdb`).
    """
    if not _fusable_pfmdb(block):
        raise ValueError(f"fuse_pfmdb_stages: not a fusable PFMDB of plain convolutions: {block}")
    stages = []
    for srb, pyb in zip(block.cascade, block.distill):
        merged = merge_pyramid_branches(pyb)
        conv, dense = srb.conv, merged.dense
        weight = torch.cat([conv.weight.detach(), dense.weight.detach()])
        bias = [
            b.detach() if b is not None else conv.weight.new_zeros(c.out_channels)
            for b, c in ((conv.bias, conv), (dense.bias, dense))
        ]
        fused = type(conv)(
            conv.in_channels,
            conv.out_channels + dense.out_channels,
            conv.kernel_size,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            padding_mode=conv.padding_mode,
            device=weight.device,
            dtype=weight.dtype,
        )
        with torch.no_grad():
            fused.weight.copy_(weight)
            fused.bias.copy_(torch.cat(bias))
        # the SRB's activation reads the sum of the convolution and the input, a tensor of its own
        stage = FusedCascadeStage(
            conv.out_channels, fused, _in_place_copy(srb.act), merged.grouped, merged.act, merged.project
        )
        stages.append(stage.train(srb.training))
    return FusedPFMDB(block, stages).train(block.training)


class PointwiseConv(nn.Module):
    """A 1x1 convolution (stride 1, no padding, one group) computed as a batched matrix product.

    On the CPU, oneDNN's 1x1 convolution in contiguous memory is slow next to a matrix product of the same
    numbers in bfloat16: on a 64 x 128 x 128 input, 0.89 against 0.34 ms (64 -> 16 channels) and 5.6 against 3.1 ms
    (256 -> 64); in float32 about the same (0.56 against 0.52 ms for 64 -> 16; one thread, AMD EPYC with AVX-512,
    ``benchmarks/cpu_kernels.py``).
    Made from a convolution by :func:`regroup_convolutions`; same output up to float rounding, in the input's memory
    format (a channels-last input, as the bfloat16 form on a CPU with AMX passes, is one matrix product with no
    copy); batched input only ((B, C, *spatial), as every network here passes).

    Args:
        conv: a plain ``nn.Conv1d/2d/3d`` with kernel 1, stride 1, no padding, one group; its weights are copied.
    """

    def __init__(self, conv: _ConvNd):
        super().__init__()
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.weight = copied_parameter(conv.weight, conv.weight.flatten(1))
        self.bias = None
        if conv.bias is not None:
            self.bias = copied_parameter(conv.bias)
        self.train(conv.training)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, in_channels, *spatial). Returns (B, out_channels, *spatial), in ``x``'s memory format."""
        if x.stride(1) == 1 and not x.is_contiguous():
            # channels-last: the channels are each pixel's row already, so one matrix product with no copy
            return F.linear(x.movedim(1, -1), self.weight, self.bias).movedim(-1, 1)
        batch = x.shape[0]
        weight = self.weight.expand(batch, -1, -1)
        flat = x.flatten(2)
        if self.bias is None:
            out = torch.bmm(weight, flat)
        else:
            out = torch.baddbmm(self.bias[:, None].expand(batch, -1, 1), weight, flat)
        return out.view([batch, self.out_channels] + list(x.shape[2:]))


def _pointwise(conv: nn.Module) -> bool:
    """Whether ``conv`` is a plain 1x1 convolution :class:`PointwiseConv` computes."""
    return (
        type(conv) in _PLAIN_CONVOLUTIONS
        and set(conv.kernel_size) == {1}
        and set(conv.stride) == {1}
        and set(conv.dilation) == {1}
        and conv.groups == 1
        and (conv.padding == "valid" or set(conv.padding) == {0})
    )


def _rewrite_of(module: nn.Module) -> Callable[[nn.Module], nn.Module] | None:
    """How :func:`regroup_convolutions` rewrites ``module`` (a function of it), or None to look inside it."""
    if _fusable_pfmdb(module):
        return fuse_pfmdb_stages
    if _mergeable_pyramid(module):
        return merge_pyramid_branches
    if _pointwise(module):
        return PointwiseConv
    groups = _merged_groups(module)
    return None if groups is None else partial(merge_conv_groups, groups=groups)


def regroup_convolutions(network: nn.Module) -> nn.Module:
    """``network`` in its CPU inference form: every exact rewrite of this module applied.

    Args:
        network: any module; it is not changed.

    Returns:
        ``network`` itself when there is nothing to rewrite (so a second call is free), else a copy in which each
        mergeable :class:`PyramidBlock` is a :class:`MergedPyramidBlock` (:func:`merge_pyramid_branches`), each
        plain 1x1 convolution a :class:`PointwiseConv`, and each other grouped convolution with fewer than
        :data:`MIN_GROUP_OUT_CHANNELS` output channels per group has the largest group count that gives it at least
        that many (:func:`merge_conv_groups`); each fusable :class:`PFMDB` (a mergeable one: the merge included) is
        a :class:`FusedPFMDB` (:func:`fuse_pfmdb_stages`). Same outputs up to float rounding; its ``state_dict`` has
        other names and shapes, so save the original.
    """
    return rewritten_copy(network, _rewrite_of)


def cpu_inference_network(network: nn.Module, compute_dtype: torch.dtype = torch.float32) -> tuple[nn.Module, bool]:
    """The form of ``network`` the inference paths run on a CPU in ``compute_dtype``, and whether to feed it
    channels-last input.

    A network with grouped convolutions that are not depthwise (RMISR's PyConv-3) runs as a rewritten copy
    (:func:`regroup_convolutions`) in contiguous memory, where oneDNN's float32 grouped kernels are fastest, its
    float32 3x3 / 5x5 / 7x7 convolutions through NNPACK (:func:`~monai_rmisr.networks.nnpack.nnpack_convolutions`).
    In bfloat16 on a CPU with AMX (:func:`~monai_rmisr.hardware.cpu_has_amx`) the same copy of a 2-D network runs in
    channels-last memory instead, its weights too (oneDNN's AMX kernels need them in that layout): ``rmisr_bl_x4``
    on a 256 x 256 input under a bfloat16 autocast took 379 ms so, 786 ms in contiguous memory (one thread, Intel
    Xeon with AMX, 2026-12-05; ``python benchmarks/cpu_inference.py --size 256 --repeats 3``, its ``bfloat16`` row
    after and before this choice). Any other network runs in channels-last memory (plain convolutions are as fast
    or faster there), its float32 convolutions through NNPACK where that is faster. Calling it again on the module
    it returned, with the same ``compute_dtype``, returns that module; a form made for another dtype is copied, not
    converted in place.

    Args:
        network: the network as trained, or a form this function returned.
        compute_dtype: ``torch.float32`` or ``torch.bfloat16`` (the dtype of the autocast it will run under,
            :func:`~monai_rmisr.inference.settings.check_precision`).

    Returns:
        ``(module, channels_last)``: for a network with such grouped convolutions a rewritten copy and whether its
        input goes in channels-last memory; for any other 2-D network a copy of ``network`` in channels-last memory
        (``network`` itself when its weights are laid out so already; values unchanged), or (with NNPACK) a
        rewritten copy of it, and True; for any
        other 3-D network, and a TorchScript module, ``network`` as it is and False.
    """
    if isinstance(network, torch.jit.ScriptModule):  # compiled already: its modules are not rewritten or copied
        return network, False
    grouped = any(
        isinstance(module, (_ConvNd, NNPACKConv2d)) and 1 < module.groups < module.in_channels
        for module in network.modules()
    )
    planar = is_planar(network)
    if not grouped and not planar:
        return network, False
    if not grouped:
        if not _weights_in(network, torch.channels_last):
            network = copy.deepcopy(network)  # the caller's module keeps its layout (a model passed to super_resolve)
        return nnpack_convolutions(network.to(memory_format=torch.channels_last)), True
    channels_last = compute_dtype == torch.bfloat16 and planar and cpu_has_amx()
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    form = nnpack_convolutions(regroup_convolutions(network))
    if form is network and not _weights_in(form, memory_format):
        form = copy.deepcopy(form)  # the caller's form for the other dtype stays as it is
    return form.to(memory_format=memory_format), channels_last


def _weights_in(network: nn.Module, memory_format: torch.memory_format) -> bool:
    """Whether every 4-D parameter of ``network`` is laid out in ``memory_format``."""
    return all(p.is_contiguous(memory_format=memory_format) for p in network.parameters() if p.dim() == 4)


def inference_network(
    network: nn.Module, device: str | torch.device, compute_dtype: torch.dtype = torch.float32
) -> tuple[nn.Module, bool]:
    """The form of ``network`` the inference paths run on ``device`` in ``compute_dtype``, and whether to feed it
    channels-last input: :func:`cpu_inference_network` on a CPU; elsewhere ``network`` as it is, with contiguous
    input."""
    if torch.device(device).type == "cpu":
        return cpu_inference_network(network, compute_dtype)
    return network, False
