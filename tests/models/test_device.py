"""Precision choice on CPU: bf16 autocast only where bf16 runs faster than fp32, decided from the CPU."""

from __future__ import annotations

import pytest
import torch

from masque.models import device


def _fake_cpu(monkeypatch: pytest.MonkeyPatch, flags: set[str], vendor: str) -> None:
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.setattr(device, "cpu_vendor", lambda: vendor)


def test_intel_avx512_bf16_without_amx_means_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    # bf16 GEMM at about half the fp32 rate there
    _fake_cpu(monkeypatch, {"avx512f", "avx512_bf16"}, "GenuineIntel")
    assert device.amp_dtype(torch.device("cpu")) is None
    assert "slower than fp32" in device.describe(torch.device("cpu"))


@pytest.mark.parametrize(("flags", "vendor"), [({"avx512_bf16"}, "AuthenticAMD"),
                                                ({"avx512_bf16", "amx_bf16", "amx_tile"}, "GenuineIntel")])
def test_zen4_or_amx_means_bf16(monkeypatch: pytest.MonkeyPatch, flags: set[str], vendor: str) -> None:
    _fake_cpu(monkeypatch, flags, vendor)
    assert device.amp_dtype(torch.device("cpu")) == torch.bfloat16


def test_no_bf16_instructions_means_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cpu(monkeypatch, {"avx2"}, "AuthenticAMD")
    assert device.amp_dtype(torch.device("cpu")) is None


def test_the_choice_is_the_same_in_every_process() -> None:
    import subprocess
    import sys

    code = "from masque.models.device import cpu_bf16_pays; print(cpu_bf16_pays())"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(3)}
    assert len(runs) == 1


def test_matmul_seconds_is_a_real_positive_time() -> None:
    assert 0 < device.matmul_seconds(torch.float32, n=64, reps=2) < 1
