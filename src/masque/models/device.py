"""Where models train and run, and at what precision (shared by training, convert and evaluate)."""

from __future__ import annotations

import contextlib
import functools
import platform
import time
from pathlib import Path

import torch

from masque.errors import ConfigError, UnsupportedOptionError


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.

    Raises:
        UnsupportedOptionError: CUDA was asked for and is not available.
        ConfigError: the name is unknown.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UnsupportedOptionError(f"--device {name}: this torch ({torch.__version__}) sees no CUDA GPU; "
                                         "use --device cpu or install a CUDA build of torch")
        try:
            device = torch.device(name)
        except RuntimeError:  # "cuda:x": torch's own parse error
            raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise UnsupportedOptionError(f"--device {name}: there is no such GPU; this machine has {count} "
                                         f"(cuda:0 to cuda:{count - 1})")
        return device
    raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``; empty elsewhere)."""
    return frozenset(_cpuinfo("flags").split())


@functools.lru_cache(maxsize=1)
def cpu_vendor() -> str:
    """``GenuineIntel``, ``AuthenticAMD``... (Linux ``/proc/cpuinfo``; empty elsewhere)."""
    return _cpuinfo("vendor_id").strip()


def _cpuinfo(key: str) -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1]
    except OSError:
        pass
    return ""


def cpu_has_bf16() -> bool:
    """Whether the CPU has native bf16 dot products (AVX512-BF16 or AMX), so bf16 autocast pays."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def matmul_seconds(dtype: torch.dtype, n: int = 384, reps: int = 5) -> float:
    """Best-of-``reps`` seconds of one ``n`` x ``n`` x ``n`` CPU matmul in ``dtype``."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b  # first call: oneDNN kernel generation
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return best


def cpu_bf16_pays() -> bool:
    """Whether bf16 matmuls run well above the fp32 rate on this CPU, so bf16 autocast pays.

    The bf16 instructions alone do not make bf16 faster: AMD Zen 4 and CPUs with AMX run a
    bf16 GEMM at about twice the fp32 rate, but Intel CPUs with AVX512-BF16 and no AMX (or
    with AMX hidden by the hypervisor) run it at about half (measured on a 2-core Xeon VM:
    45 against 83 GFLOP/s on one thread; a ``lightweight`` training step took 2.04 CPU-s under
    bf16 autocast and 1.65 in fp32). Decided from the CPU's flags and vendor, not timed: a
    timing probe under a varying load chose differently from one process to the next, and
    the same command then gave other pixels (:func:`matmul_seconds` measures it, for benchmarks).
    """
    flags = cpu_flags()
    return "amx_bf16" in flags or ("avx512_bf16" in flags and cpu_vendor() == "AuthenticAMD")


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype worth using on ``device``: bf16 where it pays, fp16 on older GPUs, else none.

    On CPU, bf16 only where :func:`cpu_bf16_pays` says it runs faster than fp32.
    """
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_bf16_pays():
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """``torch.autocast`` to ``dtype`` on ``device`` (what :func:`amp_dtype` chose), or nothing when ``None``."""
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def describe(device: torch.device) -> str:
    """A one-line description, e.g. ``cuda:0 (NVIDIA H100 80GB HBM3)`` or ``cpu (AMD EPYC, 2 threads)``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    extra = (", bf16" if cpu_bf16_pays() else ", AVX512-BF16 slower than fp32") if cpu_has_bf16() else ""
    return f"cpu ({name}, {torch.get_num_threads()} threads{extra})"
