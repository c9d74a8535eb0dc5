"""Dataset adapters: build a valid manifest from a public dataset's own layout.

``build_manifest("deap", ROOT, OUT)`` walks the download, writes ``OUT`` (validated with
``load_manifest``) and returns an :class:`AdapterReport` listing every file it could not use. The
readers for the datasets' containers live in ``pipeline.adapters.container_readers``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from pipeline.adapters.draft import AdapterReport, ManifestDraft, check_threshold_rule
from pipeline.errors import ConfigError, ManifestError

# name -> module whose ``build(root, draft)`` fills the draft, and its ``LABEL_SCALES``.
ADAPTERS: dict[str, str] = {
    "deap": "pipeline.adapters.deap",
    "dreamer": "pipeline.adapters.dreamer",
    "amigos": "pipeline.adapters.amigos",
    "mahnob": "pipeline.adapters.mahnob",
    "bids": "pipeline.adapters.bids",
}


def build_manifest(dataset: str, root: Path, output: Path, threshold: float | None = None,
                   threshold_inclusive: bool | None = None, **options: Any) -> AdapterReport:
    """Write a manifest for the dataset at ``root`` to ``output``; report what was skipped.

    ``threshold`` / ``threshold_inclusive`` replace the adapter's low/high rule in every label scale
    (None keeps it: high = rating > threshold). ``options`` go to the adapter's ``build`` (e.g. BIDS
    ``trial_types``).
    """
    try:
        module_name = ADAPTERS[dataset]
    except KeyError:
        raise ConfigError(f"unknown dataset '{dataset}'. Valid names: {', '.join(ADAPTERS)}.") from None
    root = Path(root)
    if not root.is_dir():
        raise ManifestError(["dataset root not found or not a folder. Pass the folder you downloaded."], str(root))
    module = importlib.import_module(module_name)
    check_threshold_rule({**module.LABEL_SCALES, **options.get("label_scales", {})}, threshold)
    draft = ManifestDraft(dataset, root, {name: dict(scale) for name, scale in module.LABEL_SCALES.items()})
    module.build(root.resolve(), draft, **options)
    draft.set_threshold_rule(threshold, threshold_inclusive)
    if not draft.recordings and not draft.skipped:
        raise ManifestError([f"no {dataset} recordings found. Check ROOT against the layout in the README."],
                            str(root))
    return draft.write(Path(output))


__all__ = ["ADAPTERS", "AdapterReport", "build_manifest"]
