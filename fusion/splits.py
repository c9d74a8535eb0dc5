"""Train/validation/test splits by subject or by trial; never by window.

Windows of one trial in both train and test is the best known source of inflated results in
affective EEG, so every split here assigns whole recordings, and subject splits assign whole
subjects. Validation (for early stopping) is carved out the same way, from the training side.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from pipeline.errors import ConfigError
from pipeline.manifest import Recording


@dataclass(frozen=True)
class Fold:
    """Recording ids of one fold's train, validation and test sides."""

    index: int
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"index": self.index, "train": list(self.train), "val": list(self.val), "test": list(self.test)}

    @classmethod
    def from_dict(cls, d: dict) -> "Fold":
        return cls(index=int(d["index"]), train=tuple(d["train"]), val=tuple(d["val"]), test=tuple(d["test"]))


def _by_subject(recordings: list[Recording]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for r in recordings:
        out[r.subject].append(r.id)
    return dict(sorted(out.items()))


def _subject_fold(index: int, test_subj: list[str], rest: list[str], by_subj: dict[str, list[str]],
                  val_subjects: int, rng: np.random.Generator) -> Fold:
    rest = list(rng.permutation(rest)) if rest else []
    n_val = val_subjects if len(rest) > val_subjects else 0
    val_subj, train_subj = rest[:n_val], rest[n_val:]

    def ids(subjects: list[str]) -> tuple[str, ...]:
        return tuple(rid for s in sorted(subjects) for rid in by_subj[s])

    return Fold(index=index, train=ids(train_subj), val=ids(val_subj), test=ids(test_subj))


def make_folds(recordings: list[Recording] | tuple[Recording, ...], split: str, folds: int, seed: int,
               val_subjects: int = 1) -> list[Fold]:
    """Folds for ``split``: "loso" (one per subject), "subject-kfold" (k groups of subjects) or
    "trial" (k groups of trials within every subject). Deterministic given ``seed``."""
    recordings = list(recordings)
    by_subj = _by_subject(recordings)
    subjects = list(by_subj)
    if split in ("loso", "subject-kfold") and len(subjects) < 2:
        raise ConfigError(f"split={split} needs at least 2 subjects; the manifest has {len(subjects)}. "
                          "Use --split trial.")
    if split == "loso":
        return [_subject_fold(i, [s], [o for o in subjects if o != s], by_subj, val_subjects,
                              np.random.default_rng([seed, i]))
                for i, s in enumerate(subjects)]
    if split == "subject-kfold":
        if folds > len(subjects):
            raise ConfigError(f"split=subject-kfold with folds={folds} but only {len(subjects)} subjects. "
                              "Lower --folds.")
        order = list(np.random.default_rng(seed).permutation(subjects))
        groups = [list(g) for g in np.array_split(np.array(order, dtype=object), folds)]
        return [_subject_fold(i, g, [s for s in subjects if s not in g], by_subj, val_subjects,
                              np.random.default_rng([seed, i]))
                for i, g in enumerate(groups)]
    if split == "trial":
        return _trial_folds(recordings, folds, seed)
    raise ConfigError(f"unknown split '{split}'. Use loso, subject-kfold or trial.")


def _trial_folds(recordings: list[Recording], folds: int, seed: int) -> list[Fold]:
    """Within each subject, trials are dealt round-robin (after a seeded shuffle) into k groups;
    fold i tests on group i, validates on group i+1 and trains on the rest (with k = 2 there is
    no validation group: training keeps its last epoch)."""
    assign: dict[str, int] = {}
    by_subj_trial: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for r in recordings:
        by_subj_trial[r.subject][r.trial if r.trial is not None else r.id].append(r.id)
    for s_i, subj in enumerate(sorted(by_subj_trial)):
        trials = sorted(by_subj_trial[subj])
        order = np.random.default_rng([seed, s_i]).permutation(len(trials))
        for pos, t_idx in enumerate(order):
            for rid in by_subj_trial[subj][trials[t_idx]]:
                assign[rid] = pos % folds
    out = []
    ids = sorted(assign)
    for i in range(folds):
        v = (i + 1) % folds if folds >= 3 else -1
        out.append(Fold(index=i, test=tuple(r for r in ids if assign[r] == i),
                        val=tuple(r for r in ids if assign[r] == v),
                        train=tuple(r for r in ids if assign[r] not in (i, v))))
    return out
