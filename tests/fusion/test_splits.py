"""The stimulus, subject-stimulus and within-subject splits keep their non-overlap guarantees."""

from __future__ import annotations

import pytest

from fusion.splits import Fold, check_fold, make_folds
from pipeline.errors import ConfigError
from pipeline.manifest import Recording


def _recs(n_subj: int, n_trial: int, stimuli: bool = True) -> list[Recording]:
    """Every subject watches the same clips: trial t shows clip t (as in DEAP)."""
    return [Recording(id=f"s{s}t{t}", dataset="d", subject=f"S{s}", trial=f"T{t}", streams={},
                      stimulus=f"clip{t}" if stimuli else None)
            for s in range(n_subj) for t in range(n_trial)]


def _sides(fold: Fold, key: dict[str, object]) -> tuple[set, set, set]:
    return tuple({key[i] for i in side} for side in (fold.train, fold.val, fold.test))  # type: ignore[return-value]


def test_stimulus_split_holds_out_whole_clips_for_every_subject() -> None:
    recs = _recs(4, 6)
    stim = {r.id: r.stimulus for r in recs}
    folds = make_folds(recs, "stimulus", 3, seed=0)
    assert len(folds) == 3
    for f in folds:
        train, val, test = _sides(f, stim)
        assert test and not (test & train) and not (test & val) and not (train & val)
        # every subject's recordings of a test clip are all in test
        assert {i for i in f.test} == {r.id for r in recs if r.stimulus in test}
    assert sorted(i for f in folds for i in f.test) == sorted(r.id for r in recs)


def test_subject_stimulus_split_trains_only_on_unseen_subjects_and_unseen_clips() -> None:
    recs = _recs(6, 6)
    subj = {r.id: r.subject for r in recs}
    stim = {r.id: r.stimulus for r in recs}
    folds = make_folds(recs, "subject-stimulus", 3, seed=2, val_subjects=1)
    tested: list[str] = []
    for f in folds:
        for key in (subj, stim):
            train, val, test = _sides(f, key)
            assert test and not (test & train) and not (test & val)
        assert f.train and f.val
        assert not ({subj[i] for i in f.train} & {subj[i] for i in f.val})
        tested += f.test
    assert len(tested) == len(set(tested)) == 6 * 6 // 3  # the diagonal blocks, each tested once


def test_within_subject_split_is_one_subject_per_fold_and_never_shares_trials() -> None:
    recs = _recs(3, 6)
    subj = {r.id: r.subject for r in recs}
    trial = {r.id: r.trial for r in recs}
    folds = make_folds(recs, "within-subject", 3, seed=0)
    assert len(folds) == 3 * 3 and [f.index for f in folds] == list(range(9))
    for f in folds:
        assert len({subj[i] for i in (*f.train, *f.val, *f.test)}) == 1
        train, val, test = _sides(f, trial)
        assert test and not (test & train) and not (test & val)
    assert sorted(i for f in folds for i in f.test) == sorted(r.id for r in recs)


@pytest.mark.parametrize("split", ["stimulus", "subject-stimulus"])
def test_stimulus_splits_name_recordings_without_a_stimulus(split: str) -> None:
    with pytest.raises(ConfigError, match=r"needs a 'stimulus'.*s0t0"):
        make_folds(_recs(4, 4, stimuli=False), split, 2, seed=0)


def test_too_many_folds_for_the_stimuli_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"--folds 5 does not fit 3 stimuli"):
        make_folds(_recs(3, 3), "stimulus", 5, seed=0)
    with pytest.raises(ConfigError, match=r"subject 'S0' has only 2 trials"):
        make_folds(_recs(3, 2), "within-subject", 3, seed=0)


def test_check_fold_catches_each_kind_of_leak() -> None:
    recs = _recs(3, 3)
    leak_stim = Fold(0, train=("s1t0",), val=(), test=("s0t0",))       # clip0 on both sides
    check_fold(leak_stim, recs, "loso")                                   # different subjects: fine for loso
    with pytest.raises(RuntimeError, match=r"stimulus \['clip0'\] in both test and train"):
        check_fold(leak_stim, recs, "stimulus")
    with pytest.raises(RuntimeError, match=r"subject \['S0'\] in both test and train"):
        check_fold(Fold(0, train=("s0t1",), val=(), test=("s0t0",)), recs, "subject-stimulus")
    with pytest.raises(RuntimeError, match=r"in both train and test"):
        check_fold(Fold(0, train=("s0t0",), val=(), test=("s0t0",)), recs, "trial")
    with pytest.raises(RuntimeError, match=r"more than one subject"):
        check_fold(Fold(0, train=("s1t1",), val=(), test=("s0t0",)), recs, "within-subject")


def test_existing_splits_still_deterministic_and_checked() -> None:
    recs = _recs(5, 4)
    for split in ("loso", "subject-kfold", "trial"):
        assert make_folds(recs, split, 2, seed=3) == make_folds(recs, split, 2, seed=3)


def test_demo_subjects_share_stimuli_so_every_protocol_runs_on_it() -> None:
    from pathlib import Path

    from pipeline.manifest import load_manifest

    demo = load_manifest(Path(__file__).resolve().parents[2] / "data_manifest.yaml", check_files=False)
    by_stim: dict[str, set[str]] = {}
    for r in demo.recordings:
        by_stim.setdefault(str(r.stimulus), set()).add(r.subject)
    assert len(by_stim) == 4 and all(len(s) == 6 for s in by_stim.values())
    for split in ("stimulus", "subject-stimulus", "within-subject"):
        assert make_folds(demo.recordings, split, 2, seed=0)
