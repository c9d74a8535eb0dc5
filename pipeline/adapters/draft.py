"""A manifest under construction and the report an adapter hands back.

Adapters only describe what they found (recordings as plain manifest dicts, and problems). The draft
writes them with ``dump_manifest`` and validates the file with ``load_manifest``; a recording the
validator rejects is dropped *and reported*, so the written manifest is always valid and nothing is
lost silently.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ConfigError, ManifestError
from pipeline.manifest import dump_manifest, load_manifest

_log = logging.getLogger(__name__)
_RECORDING_RE = re.compile(r"^recording '([^']+)'")


@dataclass
class AdapterReport:
    """What ``cli manifest from`` prints: counts, and every file that was skipped and why.

    ``skipped``: problems (missing, corrupt or mismatched files); the CLI exits 1 when non-empty.
    ``excluded``: data the dataset itself documents as absent or unusable (not an error).
    ``notes``: facts the user should know (e.g. "DEAP has no ECG channel").
    """

    dataset: str
    root: Path
    output: Path
    recordings: int = 0
    skipped: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "root": str(self.root), "output": str(self.output),
                "recordings": self.recordings, "skipped": list(self.skipped),
                "excluded": list(self.excluded), "notes": list(self.notes)}


def rating_scales(names: Any, low: float, high: float, threshold: float) -> dict[str, dict[str, Any]]:
    """Label scales of one questionnaire, with the low/high rule written out (high = rating > threshold).

    The rule is written explicitly so a manifest says which class a rating equal to the threshold
    falls in; ``build_manifest(threshold=..., threshold_inclusive=...)`` changes it.
    """
    return {str(name): {"min": float(low), "max": float(high), "threshold": float(threshold),
                        "threshold_inclusive": False} for name in names}


def check_threshold_rule(scales: dict[str, dict[str, Any]], threshold: float | None) -> None:
    """Refuse a threshold outside any label scale's range, before the dataset is walked."""
    bad = [f"{n} [{sc['min']}, {sc['max']}]" for n, sc in scales.items()
           if threshold is not None and not sc["min"] <= threshold <= sc["max"]]
    if bad:
        raise ConfigError(f"--threshold {threshold} is outside the label scale(s) {', '.join(bad)}. "
                          "Give a threshold inside every scale's range.")


def _plain(value: Any) -> Any:
    """numpy scalars and tuples as plain YAML-safe Python values (safe_dump refuses numpy types)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class ManifestDraft:
    """Recordings collected by one adapter for one dataset root."""

    def __init__(self, dataset: str, root: Path, label_scales: dict[str, dict[str, Any]]) -> None:
        self.dataset = dataset
        self.root = root.resolve()
        self.label_scales = label_scales
        self.recordings: dict[str, dict[str, Any]] = {}
        self.skipped: list[str] = []
        self.excluded: list[str] = []
        self.notes: list[str] = []

    def rel(self, path: Path) -> str:
        """Path relative to the dataset root (the manifest stays valid if the root moves)."""
        return path.resolve().relative_to(self.root).as_posix()

    def add(self, recording: dict[str, Any]) -> None:
        rid = recording["id"]
        if rid in self.recordings:
            self.skip(f"recording '{rid}': duplicate id (second occurrence dropped). Remove the duplicate file.")
            return
        self.recordings[rid] = recording

    def skip(self, message: str) -> None:
        _log.info("skipped: %s", message)  # the CLI prints the report; no double output
        self.skipped.append(message)

    def exclude(self, message: str) -> None:
        _log.info("excluded: %s", message)
        self.excluded.append(message)

    def note(self, message: str) -> None:
        self.notes.append(message)

    def set_threshold_rule(self, threshold: float | None, inclusive: bool | None) -> None:
        """Override every label scale's threshold and/or inclusive rule (None keeps the adapter's)."""
        check_threshold_rule(self.label_scales, threshold)
        for scale in self.label_scales.values():
            if threshold is not None:
                scale["threshold"] = float(threshold)
            if inclusive is not None:
                scale["threshold_inclusive"] = bool(inclusive)
            scale.setdefault("threshold_inclusive", False)
        rules = sorted({f"high = rating {'>=' if sc['threshold_inclusive'] else '>'} {sc.get('threshold', 'midpoint')}"
                        for sc in self.label_scales.values()})
        if rules:
            self.note(f"binary labels: {'; '.join(rules)} (label_scales.*.threshold / threshold_inclusive).")

    def _data(self) -> dict[str, Any]:
        return _plain({"version": 1, "label_scales": self.label_scales,
                "datasets": [{"name": self.dataset, "root": str(self.root),
                              "recordings": list(self.recordings.values())}]})

    def write(self, output: Path) -> AdapterReport:
        """Write and validate; drop (and report) recordings the validator rejects, then rewrite."""
        output = Path(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            self._dump(output)
            try:
                load_manifest(output)
                break
            except ManifestError as e:
                bad = self._attribute(e)
                for rid, problems in bad.items():
                    self.recordings.pop(rid, None)
                    self.skip(f"recording '{rid}': invalid ({'; '.join(problems)})")
        else:  # pragma: no cover - attribution always shrinks the set
            raise ManifestError(["adapter output still invalid after dropping bad recordings"], str(output))
        return AdapterReport(dataset=self.dataset, root=self.root, output=output.resolve(),
                             recordings=len(self.recordings), skipped=list(self.skipped),
                             excluded=list(self.excluded), notes=list(self.notes))

    def _dump(self, output: Path) -> None:
        dump_manifest(self._data(), output)
        header = [f"# written by `cli manifest from {self.dataset}` from {self.root}"]
        header += [f"# note: {n}" for n in self.notes]
        output.write_text("\n".join(header) + "\n" + output.read_text())

    @staticmethod
    def _attribute(error: ManifestError) -> dict[str, list[str]]:
        """Map validation problems to recording ids; a problem outside any recording is a bug here."""
        bad: dict[str, list[str]] = {}
        for problem in error.problems:
            m = _RECORDING_RE.match(problem)
            if m is None:
                raise error
            bad.setdefault(m.group(1), []).append(problem.split(": ", 1)[-1])
        return bad
