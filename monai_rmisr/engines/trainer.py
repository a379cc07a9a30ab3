"""Ignite trainer for super-resolution networks, built on MONAI's SupervisedTrainer."""

from __future__ import annotations

import copy
import gc
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.engines import IterationEvents, SupervisedTrainer
from monai.engines.workflow import Workflow
from monai.utils import CommonKeys
from torch import nn

from ..hardware import cpu_has_native_bfloat16
from ..inference.self_ensemble import DIHEDRAL_TRANSFORMS, dihedral_mean_forward
from ..losses.objective import TwoBranchLoss
from ..networks.regroup import inference_network
from ..networks.utils import accepts_scale, check_scale, forward_at_scale, in_channels_last
from ..transforms.quantize import quantize_intensity
from ..transforms.resize import imresize
from .batch import prepare_sr_batch

__all__ = ["SRTrainer", "autocast_dtype", "cpu_has_native_bfloat16", "random_scale_batch"]

AMP_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


def autocast_dtype(amp_dtype: str | torch.dtype, device: str | torch.device) -> torch.dtype:
    """The ``torch.autocast`` dtype that ``amp_dtype`` names on ``device``.

    ``"auto"`` is float16 on CUDA (with gradient scaling) and bfloat16 elsewhere;
    ``"float16"`` or ``"bfloat16"`` (or the torch dtypes) choose. bfloat16 needs no gradient
    scaling and on an H100 made an RMISR-BL step 1.6x faster than float32 (docs/training.md).

    Raises:
        ValueError: any other value, naming the setting.
    """
    if isinstance(amp_dtype, torch.dtype) and amp_dtype in AMP_DTYPES.values():
        return amp_dtype
    if amp_dtype == "auto":
        return torch.float16 if torch.device(device).type == "cuda" else torch.bfloat16
    if amp_dtype in AMP_DTYPES:
        return AMP_DTYPES[amp_dtype]
    raise ValueError(f"--amp_dtype must be one of ('auto', 'float16', 'bfloat16'), got {amp_dtype!r}.")


def random_scale_batch(
    hr: torch.Tensor, lr_size: int, scale: float, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Re-pair an HR batch for scale ``s``: a random ``round(p*s)`` crop and its bicubic LR of size ``p``.

    Args:
        hr: (B, C, P, P) HR patches, ``P >= round(lr_size * scale)``.
        lr_size: LR patch size ``p``.
        scale: the SR factor for this batch.
        rng: generator for the crop corner (one corner for the whole batch).

    Returns:
        ``(hr_crop, lr)``: (B, C, round(p*s), round(p*s)) and (B, C, p, p).
    """
    size = math.floor(lr_size * scale + 0.5)
    if size > hr.shape[-1] or size > hr.shape[-2]:
        raise ValueError(f"HR patches of {tuple(hr.shape[-2:])} are too small for x{scale} with LR {lr_size}.")
    top = int(rng.integers(0, hr.shape[-2] - size + 1))
    left = int(rng.integers(0, hr.shape[-1] - size + 1))
    crop = hr[..., top : top + size, left : left + size].contiguous()
    b, c = crop.shape[:2]
    lr = imresize(crop.reshape(b * c, size, size), output_size=(lr_size, lr_size))
    return crop, torch.as_tensor(lr).reshape(b, c, lr_size, lr_size)


class _TrainingForward(nn.Module):
    """``(sr, sr_laplacian or None)`` from any SR network, with one call signature.

    Distributed data parallel only synchronises gradients of calls that go through its own
    ``forward``, so RMISR-VP's second output must come out of a ``forward``: this wrapper is
    what :class:`SRTrainer` hands to ``DistributedDataParallel``. It owns no parameters of its
    own, so the network's state dict (and every checkpoint) is unchanged.
    """

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network
        self.with_laplacian = hasattr(network, "forward_with_laplacian")

    def forward(self, x: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.with_laplacian:
            return self.network.forward_with_laplacian(x, scale)
        return forward_at_scale(self.network, x, scale), None


class SRTrainer(SupervisedTrainer):
    """MONAI/Ignite trainer for RMISR, RMISR-VP and the comparison networks.

    Batches are dictionaries ``{"hr": (B, C, P, P), "lr": (B, C, p, p)}`` (see
    :class:`~monai_rmisr.data.patches.PairedPatchDataset`). Each iteration

    * optionally draws one scale for the whole batch from ``scale_range`` (arbitrary-scale
      training: the HR patches are re-cropped to ``round(p*s)`` and degraded to ``p`` with the
      MATLAB-bicubic operator); with ``integer_scale_probability`` the draw is, that often, one of
      the whole numbers in the range instead (x2, x3, x4: the scales users ask for most),
    * optionally clips the LR batch to [0, 1] (``clip_lr``); a batch with ``"lr_bits"`` (one bit
      depth per sample, from :class:`~monai_rmisr.data.patches.PairedPatchDataset`) has each LR
      image clipped and rounded to ``2**bits`` grey levels, as a stored scan is
      (:func:`~monai_rmisr.transforms.quantize_intensity`), after any re-degradation to the
      batch's scale,
    * runs ``network.forward_with_laplacian`` when the network has it (RMISR-VP) and feeds
      both outputs to the :class:`~monai_rmisr.losses.TwoBranchLoss`, otherwise
      ``network(lr[, scale])`` and the L1 term only,
    * with a ``teacher`` (knowledge distillation), runs it on the same LR batch, without gradients,
      and trains against ``(1 - teacher_weight) * HR + teacher_weight * teacher(LR)`` instead of HR
      (every term of the loss: for RMISR-VP the Laplacian map's too; for a squared-error image term the
      same gradients as ``(1 - w) * MSE(SR, HR) + w * MSE(SR, teacher)``, the logged loss lower by
      ``w * (1 - w) * MSE(HR, teacher)``, over the images taught); with one teacher per scale, only the batches at those
      scales; with ``teacher_where_better``, per image of the batch, only where the teacher's SR image is
      closer to HR than the network's own (the others train against HR); with ``teacher_self_ensemble``
      k, the teacher's image is the mean of its outputs on k of the batch's eight flips / quarter turns,
      drawn at random each iteration (turned back first): in expectation its geometric self-ensemble,
    * seeds its own generator (:attr:`generator`, not PyTorch's global one) from ``(seed, iteration)``
      and hands it to the loss, so the contextual loss's position sampling, and so a resumed run,
      is reproducible.

    MONAI's trainer contract: the batch goes through ``prepare_batch`` (default
    :func:`prepare_sr_batch`), the forward pass through ``inferer``, and the iteration fires MONAI's
    ``IterationEvents`` (``FORWARD_COMPLETED``, ``LOSS_COMPLETED``, ``BACKWARD_COMPLETED``,
    ``MODEL_COMPLETED``). ``engine.state.output`` holds ``image`` (LR), ``label`` (HR), ``pred`` (SR),
    ``loss`` and every loss component (floats), for MONAI's stats, TensorBoard and CSV handlers; it is
    not decollated into one dictionary per image (``decollate=False`` by default).

    Args:
        device, max_epochs, train_data_loader, network, optimizer: as for ``SupervisedTrainer``.
        loss_function: a :class:`~monai_rmisr.losses.TwoBranchLoss` (or any module with
            ``components(sr, hr, sr_laplacian, generator)``).
        scale: the training scale (ignored when ``scale_range`` is given).
        scale_range: ``(min, max)`` for arbitrary-scale training, e.g. ``(1.1, 4.0)``.
        integer_scale_probability: with ``scale_range``, the share of batches whose scale is a whole
            number (2 or more) of the range (each equally likely; the rest uniform on the range). A continuous draw
            almost never lands on x2 exactly, where an arbitrary-scale network trails a dedicated one
            most; 0 (default) keeps the draw uniform.
        seed: base seed of the per-iteration generators.
        clip_lr: clip the LR input to [0, 1] before the network. The bicubic LR of an HR image in
            [0, 1] overshoots that range a little at sharp edges, but a real low-resolution image
            normalised to [0, 1] (or stored as integers) never does; training on clipped LR
            teaches the network the inputs it will see (the realistic benchmark protocol's LR).
        distributed: wrap the training forward in ``DistributedDataParallel`` (the process group
            must be initialised; see ``configs/multi_gpu_train.json``). ``network`` itself stays
            unwrapped, so checkpoints and the evaluator see plain parameter names.
        channels_last: run 2-D networks in the channels-last memory format (a 3-D network runs as it is). On
            CPU this makes the grouped 7x7 convolutions of PyConv-3 about 6x and the whole RMISR step about
            2.5x faster (measured on 2 cores); results are the same up to float rounding.
        amp_dtype: the ``torch.autocast`` dtype when ``amp`` is on: ``"auto"`` (float16 with
            gradient scaling on a GPU, bfloat16 on a CPU), ``"float16"`` or ``"bfloat16"`` (no
            scaling); see :func:`autocast_dtype`.
        teacher: a trained network whose SR images become part of the target (a larger model distilled
            into ``network``; e.g. ``load_checkpoint("rmisr_vp_x4")`` for an RMISR-BL x4), or a map from
            scales to such networks (with ``scale_range`` and ``integer_scale_probability`` > 0: experts at
            whole scales taught to an arbitrary-scale network, ``{2: x2 model, 3: x3 model}``; the other
            batches train against HR alone). A teacher must give an image of the HR patch's size at its
            scale (a lone teacher with ``scale_range``: at every scale). Teachers run as frozen copies (the
            modules given are not changed) in eval mode, under the same autocast as the network, on a CPU
            in their inference form (:func:`~monai_rmisr.networks.regroup.inference_network`); they are
            never saved in checkpoints.
        teacher_weight: the teacher's share of the target, in (0, 1] (0.5 by default; used with ``teacher``).
        teacher_where_better: a teacher-bounded target: the teacher's image enters an image's target only where
            its mean squared error to HR is below that of the network's output at this iteration (so a teacher
            worse than the network on some kinds of image, e.g. an RMISR-VP on ultrasound speckle, does not pull
            it towards its errors there). Default False: every image.
        teacher_self_ensemble: 0 (default): the teacher runs on the LR batch as it is; k in 1..8: on k of its
            eight flips / quarter turns (:data:`~monai_rmisr.inference.self_ensemble.DIHEDRAL_TRANSFORMS`),
            drawn without replacement from the iteration's seed, the outputs turned back and averaged. The
            squared-error gradient is linear in the target, so any k trains, in expectation, towards the
            teacher's self-ensemble image (8 passes; +0.1 dB for ``rmisr_bl_x4`` on the benchmark) at k
            teacher passes per iteration; a larger k only lowers the target's noise.
        kwargs: passed to ``SupervisedTrainer`` (``epoch_length``, ``train_handlers``,
            ``amp``, ``key_train_metric``, ``inferer``, ...). ``amp=True`` trains under ``torch.autocast``
            in ``amp_dtype``; validation stays float32. The ``inferer`` (default MONAI's ``SimpleInferer``)
            runs the forward pass as ``inferer(lr, forward, scale)``, where ``forward(lr, scale)`` returns
            ``(sr, sr_laplacian or None)``.
    """

    def __init__(
        self,
        device: str | torch.device,
        max_epochs: int,
        train_data_loader: Any,
        network: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_function: TwoBranchLoss,
        scale: float = 4.0,
        scale_range: Sequence[float] | None = None,
        integer_scale_probability: float = 0.0,
        seed: int = 0,
        clip_lr: bool = False,
        distributed: bool = False,
        channels_last: bool = True,
        amp_dtype: str | torch.dtype = "auto",
        teacher: nn.Module | Mapping[float, nn.Module] | None = None,
        teacher_weight: float = 0.5,
        teacher_where_better: bool = False,
        teacher_self_ensemble: int = 0,
        **kwargs: Any,
    ):
        self.amp_dtype = autocast_dtype(amp_dtype, device)
        kwargs.setdefault("prepare_batch", prepare_sr_batch)
        kwargs.setdefault("decollate", False)  # ``state.output`` stays one dictionary for the batch
        network, channels_last = in_channels_last(network, channels_last)
        super().__init__(
            device=torch.device(device),
            max_epochs=max_epochs,
            train_data_loader=train_data_loader,
            network=network,
            optimizer=optimizer,
            loss_function=loss_function,
            **kwargs,
        )
        if scale_range is not None:
            low, high = (float(v) for v in scale_range)
            if not 1.0 <= low <= high:
                raise ValueError(f"scale_range must satisfy 1 <= min <= max, got {tuple(scale_range)}.")
            self.scale_range: tuple[float, float] | None = (low, high)
            #: the whole-number scales (x2 and up) of ``scale_range``, drawn with ``integer_scale_probability``
            self.integer_scales = np.arange(max(2, math.ceil(low)), math.floor(high) + 1)
        else:
            self.scale_range = None
            self.integer_scales = np.arange(0)
        if not 0.0 <= float(integer_scale_probability) <= 1.0:
            raise ValueError(f"integer_scale_probability must be in [0, 1], got {integer_scale_probability}.")
        if integer_scale_probability > 0 and len(self.integer_scales) == 0:
            raise ValueError(
                f"integer_scale_probability needs a whole number >= 2 in scale_range, got {self.scale_range}."
            )
        self.integer_scale_probability = float(integer_scale_probability)
        self.scale = float(scale)
        self.seed = int(seed)
        #: the iteration's random draws of the loss (reseeded from ``(seed, iteration)`` every iteration)
        self.generator = torch.Generator()
        self.clip_lr = bool(clip_lr)
        if self.scale_range is not None and not accepts_scale(network):
            raise ValueError(f"{type(network).__name__} has a fixed scale and cannot train with scale_range.")
        self.channels_last = channels_last
        cpu_bfloat16 = self.amp and self.state.device.type == "cpu" and self.amp_dtype == torch.bfloat16
        if cpu_bfloat16 and not cpu_has_native_bfloat16():
            warnings.warn(
                "--amp true trains in bfloat16, but this CPU has no bfloat16 instructions (AVX512-BF16 / AMX): "
                "each step will be several times slower than float32 (6-9x measured on an AVX2 CPU); "
                "use --amp false here.",
                RuntimeWarning,
                stacklevel=2,
            )
        self.training_forward: nn.Module = _TrainingForward(network)
        self.teacher_weight = self.check_teacher_settings(
            teacher is not None, teacher_weight, teacher_where_better, teacher_self_ensemble
        )
        #: ``{scale: (teacher, channels_last)}``; the key None stands for every scale (one teacher)
        self.teachers = self._frozen_teachers(teacher, network)
        self.teacher_where_better = teacher_where_better
        self.teacher_self_ensemble = int(teacher_self_ensemble)
        if distributed:
            device_ids = [self.state.device] if self.state.device.type == "cuda" else None
            self.training_forward = nn.parallel.DistributedDataParallel(self.training_forward, device_ids=device_ids)

    @staticmethod
    def check_teacher_settings(
        has_teacher: bool, teacher_weight: Any, teacher_where_better: Any, teacher_self_ensemble: Any
    ) -> float:
        """The rules of the distillation settings (the trainer's, and the bundle's before it writes anything);
        ``teacher_weight`` as a float.

        Raises:
            ValueError: naming the setting: a weight outside (0, 1], a ``teacher_where_better`` that is not a bool,
                a ``teacher_self_ensemble`` that is not a whole number 0-8, either of those two without a teacher.
        """
        try:
            weight = float(teacher_weight)
        except (TypeError, ValueError):
            weight = math.nan
        if isinstance(teacher_weight, bool) or not 0.0 < weight <= 1.0:
            raise ValueError(f"teacher_weight must be a number in (0, 1], got {teacher_weight!r}.")
        if not isinstance(teacher_where_better, bool):
            raise ValueError(f"teacher_where_better must be True or False, got {teacher_where_better!r}.")
        if teacher_where_better and not has_teacher:
            raise ValueError("teacher_where_better needs a teacher (it chooses, per image, where the teacher is used).")
        count = len(DIHEDRAL_TRANSFORMS)
        whole = isinstance(teacher_self_ensemble, (int, np.integer)) and not isinstance(teacher_self_ensemble, bool)
        if not whole or not 0 <= teacher_self_ensemble <= count:
            raise ValueError(f"teacher_self_ensemble must be a whole number 0-{count}, got {teacher_self_ensemble!r}.")
        if teacher_self_ensemble and not has_teacher:
            raise ValueError("teacher_self_ensemble needs a teacher (it sets how the teacher runs).")
        return weight

    def _frozen_teachers(
        self, teacher: nn.Module | Mapping[float, nn.Module] | None, network: nn.Module
    ) -> dict[float | None, tuple[nn.Module, bool]]:
        """A frozen copy of each teacher on the trainer's device, in eval mode, in the form it runs fastest in
        there (the caller's modules are left as they are)."""
        if teacher is None:
            return {}
        if isinstance(teacher, Mapping):
            teachers = {check_scale(key): module for key, module in teacher.items()}
            if self.scale_range is None:
                drawn = [self.scale]
            elif self.integer_scale_probability > 0:
                drawn = [float(s) for s in self.integer_scales]
            else:  # a uniform draw never lands on a given scale
                drawn = []
            if not teachers or any(key not in drawn for key in teachers):
                listed = ", ".join(f"{s:g}" for s in drawn) or "none (a uniform draw never lands on a given scale)"
                raise ValueError(
                    f"the teachers' scales {sorted(teachers)} must be scales the training draws exactly: {listed}; "
                    "with scale_range, integer_scale_probability > 0 draws its whole numbers."
                )
        else:
            if self.scale_range is not None and not accepts_scale(teacher):
                raise ValueError(
                    f"the teacher {type(teacher).__name__} has a fixed scale and cannot teach scale_range "
                    "(give one teacher per scale: {2: x2 model, 3: x3 model})."
                )
            teachers = {None: teacher}
        trained = {id(p) for p in network.parameters()}
        if any(id(p) in trained for module in teachers.values() for p in module.parameters()):
            raise ValueError("the teacher must be another network than the one trained (a trained, larger model).")
        dtype = self.amp_dtype if self.amp else torch.float32
        frozen = {}
        for key, module in teachers.items():
            form, channels_last = inference_network(
                copy.deepcopy(module).to(self.state.device), self.state.device, dtype
            )
            frozen[key] = form.eval().requires_grad_(False), channels_last  # a rewritten form has its own parameters
        return frozen

    def teacher_transforms(self, rng: np.random.Generator) -> list[tuple[int, bool]] | None:
        """The flips / quarter turns the teacher sees this iteration (``teacher_self_ensemble`` of the eight,
        drawn from ``rng`` without replacement), or None when it sees the batch as it is."""
        if not self.teacher_self_ensemble:
            return None
        chosen = rng.choice(len(DIHEDRAL_TRANSFORMS), size=self.teacher_self_ensemble, replace=False)
        return [DIHEDRAL_TRANSFORMS[int(i)] for i in sorted(chosen)]

    def teacher_image(
        self,
        lr: torch.Tensor,
        hr: torch.Tensor,
        scale: float,
        transforms: Sequence[tuple[int, bool]] | None = None,
    ) -> torch.Tensor | None:
        """The teacher's SR image of ``lr`` (float32, no gradients), or None without a teacher for ``scale``.

        Args:
            lr: (B, C, p, p) the LR batch exactly as the network sees it (clipped, quantised).
            hr: (B, C, P, P) its HR patches (the shape the teacher's image must have).
            scale: the batch's scale.
            transforms: the teacher's image is the mean of its outputs on these flips / quarter turns of ``lr``
                (:meth:`teacher_transforms`), each turned back; None: one pass on ``lr`` as it is.

        Raises:
            ValueError: the teacher refuses the scale, or its SR image is not of the HR patches' shape (a
                teacher for another scale).
        """
        teacher, channels_last = self.teachers.get(None) or self.teachers.get(scale) or (None, False)
        if teacher is None:
            return None
        with torch.no_grad(), torch.autocast(self.state.device.type, dtype=self.amp_dtype, enabled=self.amp):
            try:
                lr_in = lr if channels_last else lr.contiguous()  # the layout its form runs fastest in
                if transforms is None:
                    taught = forward_at_scale(teacher, lr_in, scale, channels_last=channels_last).float()
                else:
                    taught = dihedral_mean_forward(teacher, lr_in.float(), scale, transforms, channels_last)
            except ValueError as e:  # a network refusing the scale
                raise ValueError(f"the teacher cannot run at x{scale:g}: {e}") from e
        if taught.shape != hr.shape:
            raise ValueError(
                f"the teacher {type(teacher).__name__} gives {tuple(taught.shape)} at x{scale:g} for LR "
                f"{tuple(lr.shape)}, but the HR patches are {tuple(hr.shape)}: a teacher for another scale?"
            )
        return taught

    def blended_target(
        self, hr: torch.Tensor, taught: torch.Tensor | None, sr: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(1 - teacher_weight) * hr + teacher_weight * taught``, or ``hr`` where ``taught`` is None; with
        ``teacher_where_better``, the blend only for the images where ``taught``'s MSE to ``hr`` is below ``sr``'s
        (a teacher image that is not finite never is), ``hr`` for the others.

        Args:
            hr: (B, C, *spatial) the HR patches.
            taught: the teacher's SR images of their LR (:meth:`teacher_image`), or None.
            sr: the network's SR images (needed with ``teacher_where_better``; not differentiated through).
        """
        if taught is None:
            return hr
        blend = torch.lerp(hr, taught, self.teacher_weight)
        if not self.teacher_where_better:
            return blend
        if sr is None:
            raise ValueError("teacher_where_better compares the teacher with the network: give its SR images.")
        dims = tuple(range(1, hr.dim()))
        teacher_error = (taught - hr).square().mean(dims)
        network_error = (sr.detach().float() - hr).square().mean(dims)
        better = (teacher_error < network_error).view(-1, *[1] * (hr.dim() - 1))  # False for NaN
        return torch.where(better, blend, hr)

    def distillation_target(
        self, lr: torch.Tensor, hr: torch.Tensor, scale: float, sr: torch.Tensor | None = None
    ) -> torch.Tensor:
        """:meth:`blended_target` of :meth:`teacher_image`: the target of a batch (float32), ``hr`` without a
        teacher for ``scale``. The trainer runs the two apart, the teacher before the network's forward pass, so
        that the two networks' activations are never held at once."""
        return self.blended_target(hr, self.teacher_image(lr, hr, scale), sr)

    def run(self) -> None:
        """Train; like MONAI's ``Trainer.run``, with the gradient scaler only where float16 needs it.

        MONAI's version makes a ``torch.cuda.amp.GradScaler`` whenever ``amp`` is on: a
        deprecated API that, on a CPU, warns and disables itself, and that bfloat16 does not need.
        """
        cuda_float16 = self.amp and self.state.device.type == "cuda" and self.amp_dtype == torch.float16
        self.scaler = torch.amp.GradScaler("cuda") if cuda_float16 else None
        Workflow.run(self)

    def release_distributed(self) -> None:
        """Drop the ``DistributedDataParallel`` wrapper, and with it its hold on the process group.

        Call it before ``torch.distributed.destroy_process_group()`` at the end of a distributed
        run (``configs/multi_gpu_train.json`` does). Otherwise the wrapper, alive as long as the
        trainer, keeps the group's gloo worker threads until interpreter shutdown, where tearing
        them down can abort the process after a run that went well. A no-op without the wrapper.
        """
        if isinstance(self.training_forward, nn.parallel.DistributedDataParallel):
            self.training_forward = self.training_forward.module
            gc.collect()  # the wrapper's hooks form reference cycles

    def _iteration(self, engine: SRTrainer, batchdata: dict[str, torch.Tensor]) -> dict[str, Any]:
        if batchdata is None:
            raise ValueError("must provide batch data for current iteration.")
        generator_seed = [engine.seed, engine.state.iteration]
        engine.generator.manual_seed(int(np.random.default_rng(generator_seed).integers(2**62)))
        batch = engine.prepare_batch(batchdata, engine.state.device, engine.non_blocking, **engine.to_kwargs)
        lr, hr = batch[0], batch[1]  # MONAI's contract: (inputs, targets) or (inputs, targets, args, kwargs)
        extra = batch[3] if len(batch) == 4 else {}
        scale = engine.scale
        if engine.scale_range is not None:
            rng = np.random.default_rng([*generator_seed, 1])
            # no extra draw at probability 0: the scales of earlier runs, and so their resumes, stay the same
            if engine.integer_scale_probability > 0 and rng.random() < engine.integer_scale_probability:
                scale = float(rng.choice(engine.integer_scales))
            else:
                scale = float(rng.uniform(*engine.scale_range))
            hr, lr = random_scale_batch(hr, lr.shape[-1], scale, rng)
            lr = lr.to(hr.device)
        if "lr_bits" in extra:
            lr = quantize_intensity(lr, extra["lr_bits"].view(-1, *[1] * (lr.dim() - 1)))
        elif engine.clip_lr:
            lr = lr.clamp(0.0, 1.0)
        if engine.channels_last and lr.dim() == 4:
            lr = lr.contiguous(memory_format=torch.channels_last)
        engine.state.output = {CommonKeys.IMAGE: lr, CommonKeys.LABEL: hr, "scale": scale}
        transforms = engine.teacher_transforms(np.random.default_rng([*generator_seed, 2]))
        taught = engine.teacher_image(lr, hr, scale, transforms)

        engine.network.train()
        engine.optimizer.zero_grad(set_to_none=engine.optim_set_to_none)
        with torch.autocast(engine.state.device.type, dtype=engine.amp_dtype, enabled=engine.amp):
            # MONAI's contract: the inferer runs the network (default SimpleInferer: training_forward(lr, scale))
            sr, sr_laplacian = engine.inferer(lr, engine.training_forward, scale)
            engine.state.output[CommonKeys.PRED] = sr
            engine.fire_event(IterationEvents.FORWARD_COMPLETED)
            target = engine.blended_target(hr, taught, sr)
            terms = engine.loss_function.components(
                sr.float(), target, None if sr_laplacian is None else sr_laplacian.float(), generator=engine.generator
            )
        loss = terms["loss"]
        engine.state.output[CommonKeys.LOSS] = loss
        engine.fire_event(IterationEvents.LOSS_COMPLETED)
        if engine.amp and engine.scaler is not None:
            engine.scaler.scale(loss).backward()
            engine.fire_event(IterationEvents.BACKWARD_COMPLETED)
            engine.scaler.step(engine.optimizer)
            engine.scaler.update()
        else:
            loss.backward()
            engine.fire_event(IterationEvents.BACKWARD_COMPLETED)
            engine.optimizer.step()
        engine.state.output[CommonKeys.PRED] = sr.detach()
        engine.state.output.update({name: value.item() for name, value in terms.items()})
        engine.fire_event(IterationEvents.MODEL_COMPLETED)
        return engine.state.output
