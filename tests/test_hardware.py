"""Which CPUs compute bfloat16 natively (else --precision bfloat16 is refused and training warns)."""

import platform

import pytest
import torch

from monai_rmisr.hardware import cpu_description, cpu_has_native_bfloat16, native_bfloat16


@pytest.mark.parametrize(
    ("avx512_bf16", "amx", "native"), [(False, False, False), (True, False, True), (False, True, True)]
)
def test_bfloat16_is_native_with_avx512_bf16_or_amx_only(monkeypatch, avx512_bf16, amx, native):
    # oneDNN's own query said True on an AVX-512 Xeon without either (bfloat16 emulated there, up to 4x slower than
    # float32 at inference), so --precision auto chose bfloat16 and --precision bfloat16 was not refused
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    assert cpu_has_native_bfloat16() is native and native_bfloat16("cpu") is native


def test_without_the_feature_queries_or_off_x86_onednn_is_asked(monkeypatch):
    # the x86 queries say False on every ARM CPU; oneDNN's asks ARM's BF16 extension there
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True, raising=False)
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert cpu_has_native_bfloat16() is True
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    assert cpu_has_native_bfloat16() is True


@pytest.mark.parametrize(
    ("avx512_bf16", "amx", "named"),
    [(False, False, ""), (True, False, ", AVX512-BF16"), (True, True, ", AMX, AVX512-BF16")],
)
def test_the_cpu_description_names_what_decides_its_speed(monkeypatch, avx512_bf16, amx, named):
    # a benchmark's machine line said "x86_64 CPU, 2 cores": not which CPU, nor whether it has AMX or AVX512-BF16,
    # which decide its speed in bfloat16 several times over
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    description = cpu_description()
    assert description.endswith(f"({torch.backends.cpu.get_cpu_capability()}{named})")
    assert len(description) > len(f" ({torch.backends.cpu.get_cpu_capability()}{named})")  # a name before it
