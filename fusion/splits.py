"""Train/validation/test splits by subject, trial or stimulus; never by window.

Windows of one trial in both train and test is the best known source of inflated results in
affective EEG, so every split here assigns whole recordings, and subject splits assign whole
subjects. In DEAP, AMIGOS and MAHNOB every subject watches the same clips, so a model can also
score by recognising the clip: the ``stimulus`` splits hold clips out. Validation (for early
stopping) is carved out the same way, from the training side. Each fold is checked against its
split's guarantees (``check_fold``) when it is made.
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


SPLITS = ("loso", "subject-kfold", "trial", "stimulus", "subject-stimulus", "within-subject")


def make_folds(recordings: list[Recording] | tuple[Recording, ...], split: str, folds: int, seed: int,
               val_subjects: int = 1) -> list[Fold]:
    """Folds for ``split`` (deterministic given ``seed``):

    - "loso": one fold per subject; "subject-kfold": k groups of subjects;
    - "trial": k groups of trials within every subject (test subjects are seen in training);
    - "stimulus": k groups of stimuli (every subject's recordings of the test clips are held out);
    - "subject-stimulus": fold i tests subject group i on stimulus group i and trains only on the
      other subjects' recordings of the other stimuli (the strictest; the rest are unused in that fold);
    - "within-subject": one model per subject, k-fold over that subject's trials (k folds per subject).
    """
    recordings = list(recordings)
    out = _folds(recordings, split, folds, seed, val_subjects)
    for fold in out:
        check_fold(fold, recordings, split)
    return out


def _folds(recordings: list[Recording], split: str, folds: int, seed: int, val_subjects: int) -> list[Fold]:
    by_subj = _by_subject(recordings)
    subjects = list(by_subj)
    if split in ("loso", "subject-kfold", "subject-stimulus") and len(subjects) < 2:
        raise ConfigError(f"split={split} needs at least 2 subjects; the manifest has {len(subjects)}. "
                          "Use --split trial.")
    if split == "loso":
        return [_subject_fold(i, [s], [o for o in subjects if o != s], by_subj, val_subjects,
                              np.random.default_rng([seed, i]))
                for i, s in enumerate(subjects)]
    if split == "subject-kfold":
        groups = _groups(subjects, folds, seed, "subjects")
        return [_subject_fold(i, g, [s for s in subjects if s not in g], by_subj, val_subjects,
                              np.random.default_rng([seed, i]))
                for i, g in enumerate(groups)]
    if split == "trial":
        return _trial_folds(recordings, folds, seed)
    if split == "stimulus":
        return _stimulus_folds(recordings, folds, seed)
    if split == "subject-stimulus":
        return _subject_stimulus_folds(recordings, folds, seed, val_subjects)
    if split == "within-subject":
        return _within_subject_folds(recordings, folds, seed)
    raise ConfigError(f"unknown split '{split}'. Use one of {', '.join(SPLITS)}.")


def _groups(items: list[str], folds: int, seed: int, what: str) -> list[list[str]]:
    """``items`` shuffled (seeded) and cut into ``folds`` near-equal groups."""
    if not 2 <= folds <= len(items):
        raise ConfigError(f"--folds {folds} does not fit {len(items)} {what}: use 2 to {len(items)} folds.")
    order = list(np.random.default_rng(seed).permutation(sorted(items)))
    return [list(g) for g in np.array_split(np.array(order, dtype=object), folds)]


def _stimuli(recordings: list[Recording], split: str) -> dict[str, str]:
    """Recording id -> stimulus; a ConfigError naming the recordings without one."""
    missing = [r.id for r in recordings if not r.stimulus]
    if missing:
        raise ConfigError(f"split={split} needs a 'stimulus' on every recording of the manifest; "
                          f"{len(missing)} have none (e.g. {missing[:3]}). Add 'stimulus:' (the clip or film "
                          "watched) to those recordings or use another --split.")
    return {r.id: str(r.stimulus) for r in recordings}


def _stimulus_folds(recordings: list[Recording], folds: int, seed: int) -> list[Fold]:
    """Fold i tests every recording of stimulus group i, validates on group i+1 (k >= 3) and
    trains on the rest."""
    stim = _stimuli(recordings, "stimulus")
    groups = _groups(sorted(set(stim.values())), folds, seed, "stimuli")
    ids = sorted(stim)
    out = []
    for i, g in enumerate(groups):
        v = groups[(i + 1) % folds] if folds >= 3 else []
        out.append(Fold(index=i, test=tuple(r for r in ids if stim[r] in g),
                        val=tuple(r for r in ids if stim[r] in v),
                        train=tuple(r for r in ids if stim[r] not in g and stim[r] not in v)))
    return out


def _subject_stimulus_folds(recordings: list[Recording], folds: int, seed: int, val_subjects: int) -> list[Fold]:
    """Fold i: test = subject group i x stimulus group i; validation = ``val_subjects`` other subjects
    on the training stimuli; training = the remaining subjects on the training stimuli. Each
    recording is tested at most once; the off-diagonal blocks are never tested."""
    stim = _stimuli(recordings, "subject-stimulus")
    subj = {r.id: r.subject for r in recordings}
    s_groups = _groups(sorted(set(subj.values())), folds, seed, "subjects")
    t_groups = _groups(sorted(set(stim.values())), folds, seed + 1, "stimuli")
    ids = sorted(subj)
    out = []
    for i, (sg, tg) in enumerate(zip(s_groups, t_groups)):
        rest = sorted(set(subj.values()) - set(sg))
        rest = list(np.random.default_rng([seed, i]).permutation(rest))
        n_val = val_subjects if len(rest) > val_subjects else 0
        val_s = set(rest[:n_val])
        seen = [r for r in ids if stim[r] not in tg and subj[r] not in sg]
        out.append(Fold(index=i, test=tuple(r for r in ids if subj[r] in sg and stim[r] in tg),
                        val=tuple(r for r in seen if subj[r] in val_s),
                        train=tuple(r for r in seen if subj[r] not in val_s)))
    return out


def _within_subject_folds(recordings: list[Recording], folds: int, seed: int) -> list[Fold]:
    """For each subject (sorted), the trial split of that subject alone; fold index runs over
    subjects x folds, so the trainer fits one model per subject and fold."""
    out: list[Fold] = []
    for s_i, (subj, _) in enumerate(_by_subject(recordings).items()):
        own = [r for r in recordings if r.subject == subj]
        n_trials = len({r.trial or r.id for r in own})
        if n_trials < folds:
            raise ConfigError(f"split=within-subject with folds={folds}, but subject '{subj}' has only {n_trials} "
                              "trials. Lower --folds.")
        for f in _trial_folds(own, folds, seed + s_i):
            out.append(Fold(index=len(out), train=f.train, val=f.val, test=f.test))
    return out


def check_fold(fold: Fold, recordings: list[Recording], split: str) -> None:
    """Assert ``split``'s guarantees for one fold; a violation is a bug, so it raises RuntimeError.

    Always: train, val and test share no recording and test is non-empty. Subject splits: no
    subject of test in train/val. Trial splits: no trial of a subject on two sides. Stimulus
    splits: no stimulus of test in train/val. Within-subject: one subject per fold.
    """
    by_id = {r.id: r for r in recordings}
    sides = {"train": set(fold.train), "val": set(fold.val), "test": set(fold.test)}
    problems = []
    if not sides["test"]:
        problems.append("test side is empty")
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        if sides[a] & sides[b]:
            problems.append(f"recordings {sorted(sides[a] & sides[b])[:3]} are in both {a} and {b}")

    def keys(side: str, key) -> set:
        return {key(by_id[r]) for r in sides[side]}

    checks = {"subject": lambda r: r.subject, "trial": lambda r: (r.subject, r.trial or r.id),
              "stimulus": lambda r: r.stimulus}
    wanted = {"loso": ["subject"], "subject-kfold": ["subject"], "trial": ["trial"], "stimulus": ["stimulus"],
              "subject-stimulus": ["subject", "stimulus"], "within-subject": ["trial"]}.get(split, [])
    for what in wanted:
        held = keys("test", checks[what])
        for side in ("train", "val"):
            if held & keys(side, checks[what]):
                problems.append(f"{what} {sorted(map(str, held & keys(side, checks[what])))[:3]} in both test "
                                f"and {side}")
    if split == "within-subject" and len(set().union(*(keys(s, checks["subject"]) for s in sides))) > 1:
        problems.append("more than one subject in a within-subject fold")
    if problems:
        raise RuntimeError(f"split={split} fold {fold.index} breaks its guarantees: {'; '.join(problems)}.")


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
