"""What the machine can do fast: native bfloat16 on this CPU or GPU, AMX tiles on this CPU; and what a benchmark
says of the CPU it ran on."""

from __future__ import annotations

import platform

import torch

__all__ = ["cpu_description", "cpu_has_amx", "cpu_has_native_bfloat16", "native_bfloat16"]


def cpu_has_native_bfloat16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX), as PyTorch's CPU feature queries report them.

    Without them bfloat16 autocast is emulated and far slower than float32: on an AMD EPYC with
    AVX2 only, an RMISR-BL x2 step (2 LR patches of 96x96, one thread) took 34 s in bfloat16
    against 4.2 s in float32 (docs/training.md, "Speed on CPU"). oneDNN's own query
    (``torch.ops.mkldnn._is_mkldnn_bf16_supported``) says True on any AVX-512 CPU, which emulates bfloat16 (an Intel
    Xeon with AVX512F but neither AVX512-BF16 nor AMX, 2026-12-07): it is asked only where PyTorch lacks the feature
    queries; on other CPUs (ARM: its BF16 extension) oneDNN's query holds. Unknown (an old PyTorch): True.
    """
    avx512_bf16 = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    if avx512_bf16 is not None and platform.machine().lower() in ("x86_64", "amd64", "i386", "i686"):
        try:
            return bool(avx512_bf16()) or cpu_has_amx()
        except RuntimeError:
            pass
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return True


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tile instructions (Intel Xeon since Sapphire Rapids), as PyTorch reports it.

    There oneDNN computes bfloat16 convolutions in tiles when the weights are in channels-last memory
    (``cpu_inference_network`` then chooses that layout for the bfloat16 form; docs/inference.md, "On a CPU with
    AMX").
    Unknown (a PyTorch without the query): False.
    """
    query = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        return bool(query()) if query is not None else False
    except RuntimeError:
        return False


def native_bfloat16(device: str | torch.device) -> bool:
    """Whether ``device`` computes in bfloat16 natively: a CPU with AVX512-BF16 / AMX, a CUDA GPU that supports it."""
    device = torch.device(device)
    if device.type == "cpu":
        return cpu_has_native_bfloat16()
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return False


def cpu_description() -> str:
    """This CPU's model name and what decides its speed here, for a benchmark's machine line: ``"Intel(R) Xeon(R)
    Processor (AVX512, AMX, AVX512-BF16)"``: PyTorch's CPU capability, then AMX tiles and AVX512-BF16 where it has
    them (a CPU with them trains several times faster in bfloat16; one without emulates bfloat16)."""
    name = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:  # not Linux
        pass
    name = name or platform.processor() or platform.machine() or "CPU"
    features = [str(torch.backends.cpu.get_cpu_capability())]
    if cpu_has_amx():
        features.append("AMX")
    avx512_bf16 = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    try:
        if avx512_bf16 is not None and avx512_bf16():
            features.append("AVX512-BF16")
    except RuntimeError:
        pass
    return f"{name} ({', '.join(features)})"
