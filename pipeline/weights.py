"""Where a transformers encoder's weights come from, offline only, and their identity for the fingerprint.

Shared by every stage that loads pretrained weights (video encoders, speech encoders). Three sources:
a hub id found in the local Hugging Face cache (identity = id + commit), a local folder (identity =
sha256 of its weight and config files, not its path, so a copied folder keeps its cache), or random
init (identity = the recipe the caller passes: encoder, size, seed). Nothing here loads a model or
imports transformers, so the runner and stage two can ask for the identity cheaply.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import WeightsError

_log = logging.getLogger(__name__)

_HASHED_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".json")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_hash_memo: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


@dataclass(frozen=True)
class WeightsSource:
    """Resolved weights. kind: "hub" | "local" | "random_init"; folder is None for random_init."""

    kind: str
    folder: Path | None
    hub_id: str | None = None
    revision: str | None = None


def _missing(what: str, hub_id: str, why: str) -> WeightsError:
    return WeightsError(f"weights for {what} are not available offline: {why}. Download them once "
                        f"(hf download {hub_id}), pass --weights PATH to a local copy, "
                        "or use --random-init for a random-weight run.")


def _has_weights(folder: Path) -> bool:
    return (folder / "config.json").exists() and any(
        p.suffix in _WEIGHT_SUFFIXES for p in folder.iterdir() if p.is_file())


def find_weights(what: str, hub_id: str, weights: str | None, random_init: bool) -> WeightsSource:
    """Find weights without loading them; WeightsError naming --weights and ``hub_id`` otherwise.

    what: the model in words for the error (e.g. "video encoder 'vivit'"); hub_id: the default;
    weights: the user's hub id or local folder (None = the default).
    """
    if random_init:
        return WeightsSource(kind="random_init", folder=None)
    name = weights or hub_id
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir() or not _has_weights(path):
            raise _missing(what, hub_id, f"--weights '{name}' is not a folder with config.json and "
                                         "weight files (save_pretrained layout)")
        return WeightsSource(kind="local", folder=path.resolve())
    try:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(name, local_files_only=True))
    except Exception as e:  # LocalEntryNotFoundError, HFValidationError, offline errors
        # a relative --weights is relative to the working directory: say which folder was looked at
        why = f"'{name}' is neither a local folder (looked at {path.absolute()}) nor in the local Hugging Face cache"
        raise _missing(what, hub_id, why) from e
    if not _has_weights(folder):
        raise _missing(what, hub_id, f"the cached snapshot of '{name}' ({folder}) has no weight files")
    return WeightsSource(kind="hub", folder=folder, hub_id=name, revision=folder.name)


def hash_file(path: Path) -> str:
    """sha256 of a file, memoised in-process by (path, size, mtime) so repeated identities are cheap."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        if key in _hash_memo:
            return _hash_memo[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    with _hash_lock:
        _hash_memo[key] = h.hexdigest()
    return _hash_memo[key]


def source_identity(source: WeightsSource, random_recipe: dict[str, Any]) -> dict[str, Any]:
    """JSON-able identity of resolved weights; ``random_recipe`` (encoder, size, seed) for random init."""
    if source.kind == "random_init":
        return {"source": "random_init", "random_init": True, **random_recipe}
    if source.kind == "hub":
        return {"source": "hub", "random_init": False, "hub_id": source.hub_id, "revision": source.revision}
    files = sorted(p for p in source.folder.iterdir() if p.is_file() and p.suffix in _HASHED_SUFFIXES)
    return {"source": "local", "random_init": False, "files": {p.name: hash_file(p) for p in files}}


def weights_choice_problems(weights: str | None, random_init: bool, size: str | None, sizes: tuple[str, ...]) -> list[str]:
    """What is wrong with a model config's choice of weights (each encoder config checks the same rules)."""
    p: list[str] = []
    if size is not None and size not in sizes:
        p.append(f"size '{size}' is not one of {', '.join(sizes)}")
    if size is not None and not random_init:
        p.append("size only applies with random_init (--size needs --random-init)")
    if random_init and weights is not None:
        p.append("weights and random_init exclude each other (drop --weights or --random-init)")
    return p
