"""The window bookkeeping of bench/peer_torcheeg.py: what counts as missing, duplicated, differing, stale."""

from __future__ import annotations

import numpy as np

from bench.peer_torcheeg import compare, stale_windows


def _windows(n: int) -> tuple[np.ndarray, np.ndarray]:
    keys = np.stack([np.ones(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.arange(n)], axis=1)
    return keys, np.random.default_rng(0).standard_normal((n, 32, 4))


def test_compare_counts_each_kind_of_damage() -> None:
    keys, de = _windows(10)
    assert compare(keys, de, keys, de) == {"missing": 0, "duplicated": 0, "differing": 0, "extra": 0}
    got_keys = np.concatenate([keys[:7], keys[[2]]])          # 3 lost, window 2 twice
    got = np.concatenate([de[:7], de[[2]]])
    got[4, 0, 0] += 1.0                                       # one window with other numbers
    assert compare(keys, de, got_keys, got) == {"missing": 3, "duplicated": 1, "differing": 1, "extra": 0}


def test_stale_windows_counts_windows_whose_changed_band_kept_old_values() -> None:
    keys, old = _windows(6)
    new = old.copy()
    new[:4, :, 1] += 0.5                                      # windows 0-3 recomputed with the new alpha
    new[4, 0, 1] += 0.5                                       # window 4: one channel new, so not stale
    assert stale_windows(keys, old, keys, new) == 1           # window 5 returned the old alpha


def test_targets_judge_the_no_op_by_the_repeated_measurement_when_there_is_one() -> None:
    from bench.peer_torcheeg import targets

    r = {"eegavi": {"build": {"wall_s": 1.0}, "noop": {"seconds": 1.0, "wall_s": 2.0}, "bytes": 1,
                    "changed": {"stale": 0}, "kill": {"missing": 0, "differing": 0, "duplicated": 0}},
         "torcheeg": {"build": {"wall_s": 9.0}, "noop": {"seconds": 5.0, "wall_s": 6.0}, "bytes": 2}}
    assert "whole process): MISSED" in targets(r)
    r["noop_again"] = {"times": 3, "eegavi_wall_s": 0.5, "eegavi_call_s": 0.1, "torcheeg_wall_s": 6.0,
                       "torcheeg_call_s": 5.0}
    text = targets(r)
    assert "(whole process, measured again): met" in text and "MISSED" not in text
