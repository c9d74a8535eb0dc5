"""Loading frozen transformers models, shared by the video and speech stages.

transformers is imported inside functions only, so importing an extractor (as the registry does)
never pulls in the model zoo. Random-init weights go through ``save_pretrained`` +
``from_pretrained`` like real ones, so the loading path a real run uses is the one tests exercise.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.errors import WeightsError


def transformers_attr(name: str) -> Any:
    """A class of the transformers package by name (e.g. "HubertModel"), imported on first use."""
    return getattr(importlib.import_module("transformers"), name)


@contextlib.contextmanager
def quiet_progress() -> Iterator[None]:
    """Silence transformers' save/load progress bars: library code stays quiet (the runner has its own)."""
    bars = importlib.import_module("transformers.utils.logging")
    was_enabled = bars.is_progress_bar_enabled()
    bars.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            bars.enable_progress_bar()


def load_pretrained(class_name: str, folder: Path, fix: str, **kwargs: Any) -> tuple[Any, list[str]]:
    """``<class_name>.from_pretrained(folder)`` offline in fp32 -> (model, missing parameter names).

    Any loading failure becomes a WeightsError naming the folder, the class and ``fix`` (what to pass
    instead). The caller decides which missing parameters matter (transformers fills them randomly).
    """
    import torch

    try:
        model, info = transformers_attr(class_name).from_pretrained(
            folder, local_files_only=True, dtype=torch.float32, output_loading_info=True, **kwargs)
    except Exception as e:  # noqa: BLE001  (safetensors, OSError, ValueError...: all mean unusable weights)
        raise WeightsError(f"{folder}: cannot load {class_name} weights ({e.__class__.__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else ''}). {fix}") from e
    return model, sorted(info.get("missing_keys", ()))
