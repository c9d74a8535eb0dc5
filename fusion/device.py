"""Where training runs: the device, its mixed-precision mode and its peak memory (CPU or CUDA)."""

from __future__ import annotations

import resource

import torch

from pipeline.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """"auto" -> cuda when available, else cpu."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r} but CUDA is not available here. Use --device cpu or auto.")
    return torch.device(name)


def resolve_amp(amp: str, device: torch.device) -> str:
    """"auto" -> bf16 on CUDA, off on CPU (CPU autocast is slower than float32 for these sizes)."""
    return ("bf16" if device.type == "cuda" else "off") if amp == "auto" else amp


def peak_memory_gb(device: torch.device) -> tuple[float, str]:
    """Peak memory so far: CUDA max allocated on GPU, else the process's peak RSS (GiB)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30, "cuda_max_allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "peak_rss"
