"""Precision choice on CPU: bf16 autocast only where bf16 measures faster than fp32."""

from __future__ import annotations

import pytest
import torch

from masque.models import device


@pytest.fixture(autouse=True)
def _fresh_probe():
    device.cpu_bf16_pays.cache_clear()
    yield
    device.cpu_bf16_pays.cache_clear()


def _fake_cpu(monkeypatch: pytest.MonkeyPatch, flags: set[str], fp32_s: float, bf16_s: float) -> list[torch.dtype]:
    calls: list[torch.dtype] = []

    def seconds(dtype: torch.dtype, n: int = 384, reps: int = 5) -> float:
        calls.append(dtype)
        return bf16_s if dtype == torch.bfloat16 else fp32_s

    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.setattr(device, "matmul_seconds", seconds)
    return calls


def test_bf16_slower_than_fp32_means_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    # an Intel CPU with AVX512-BF16 and no AMX: bf16 GEMM at about half the fp32 rate
    _fake_cpu(monkeypatch, {"avx512f", "avx512_bf16"}, fp32_s=0.6e-3, bf16_s=1.1e-3)
    assert device.amp_dtype(torch.device("cpu")) is None
    assert "slower than fp32" in device.describe(torch.device("cpu"))


def test_bf16_twice_as_fast_means_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cpu(monkeypatch, {"avx512f", "avx512_bf16"}, fp32_s=1.0e-3, bf16_s=0.5e-3)
    assert device.amp_dtype(torch.device("cpu")) == torch.bfloat16


def test_no_bf16_instructions_means_no_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_cpu(monkeypatch, {"avx2"}, fp32_s=1.0e-3, bf16_s=0.1e-3)
    assert device.amp_dtype(torch.device("cpu")) is None
    assert calls == []


def test_probe_runs_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_cpu(monkeypatch, {"avx512_bf16"}, fp32_s=1.0e-3, bf16_s=0.5e-3)
    for _ in range(3):
        device.amp_dtype(torch.device("cpu"))
    assert len(calls) == 6  # three alternating rounds of fp32 and bf16, then cached


def test_matmul_seconds_is_a_real_positive_time() -> None:
    assert 0 < device.matmul_seconds(torch.float32, n=64, reps=2) < 1
