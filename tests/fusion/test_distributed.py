"""Multi-process training: torchrun with 2 CPU ranks (gloo) trains like one process with the same
global batch; per-rank sharding and random draws that stay in step across world sizes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from fusion.train_config import AugmentConfig
from fusion.distributed import DistributedContext, shard
from fusion.steps import augment_eeg, drop_modalities
from pipeline.errors import ConfigError
from tests.fusion import cli_runs


def test_context_from_torchrun_environment() -> None:
    assert DistributedContext.from_env({}) == DistributedContext(0, 1, 0)
    ctx = DistributedContext.from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.enabled, ctx.is_main) == (3, 4, 1, True, False)
    with pytest.raises(ConfigError, match="rank 4 of world size 4"):
        DistributedContext.from_env({"RANK": "4", "WORLD_SIZE": "4"})


@pytest.mark.parametrize("world", [1, 2, 3])
@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_shards_are_disjoint_cover_the_batch_and_weigh_to_its_mean(world: int, n: int) -> None:
    parts = [shard(n, DistributedContext(r, world)) for r in range(world)]
    taken = [i for s, w in parts if w > 0 for i in range(n)[s]]
    assert taken == list(range(n))                                # contiguous, disjoint, complete
    # DDP averages the ranks' gradients: sum_r w_r / world * mean_r == the global mean
    values = np.arange(n, dtype=float) ** 2
    ddp_mean = sum(w * values[s].mean() for s, w in parts) / world
    assert ddp_mean == pytest.approx(values.mean())
    assert all(len(range(n)[s]) >= 1 for s, _ in parts)           # an empty share still runs one window


def test_random_draws_of_a_share_equal_those_rows_of_the_whole_batch(tmp_path: Path) -> None:
    cfg = AugmentConfig()
    eeg = torch.randn(5, 3, 16)
    whole = augment_eeg(cfg, eeg, torch.Generator().manual_seed(7))
    share = augment_eeg(cfg, eeg[2:4], torch.Generator().manual_seed(7), 5, slice(2, 4))
    torch.testing.assert_close(share, whole[2:4], rtol=0, atol=0)

    @dataclasses.dataclass
    class _Batch:
        masks: dict
        teacher_mask: torch.Tensor | None = None

        def __len__(self) -> int:
            return len(next(iter(self.masks.values())))

    full = drop_modalities(_Batch({"a": torch.ones(5, 2, dtype=torch.bool)}), 0.5, torch.Generator().manual_seed(1),
                           None)
    part = drop_modalities(_Batch({"a": torch.ones(2, 2, dtype=torch.bool)}), 0.5, torch.Generator().manual_seed(1),
                           None, 5, slice(2, 4))
    assert torch.equal(part.masks["a"], full.masks["a"][2:4])


def test_two_processes_match_one_with_the_same_global_batch(tmp_path_factory, tmp_path: Path) -> None:
    manifest = cli_runs.demo_manifest(tmp_path_factory.getbasetemp())
    one, two = tmp_path / "one", tmp_path / "two"
    cli_runs.train(manifest, one, 1)
    out = cli_runs.train(manifest, two, 2)
    assert out.count("test metrics") == 1                         # only rank 0 prints
    ref, got = cli_runs.rows(one, "train"), cli_runs.rows(two, "train")
    assert [r["step"] for r in got] == [r["step"] for r in ref] and len(ref) == 9
    np.testing.assert_allclose([r["total"] for r in got], [r["total"] for r in ref], rtol=1e-4)
    np.testing.assert_allclose([r["task"] for r in got], [r["task"] for r in ref], rtol=1e-4)
    files = sorted(str(p.relative_to(one)) for p in one.rglob("*"))
    assert sorted(str(p.relative_to(two)) for p in two.rglob("*")) == files    # nothing extra, no *.tmp
    a, b = cli_runs.summary(one)["folds"][0]["test"], cli_runs.summary(two)["folds"][0]["test"]
    for label, m in a["overall"].items():
        for k, v in m.items():
            assert b["overall"][label][k] == pytest.approx(v, rel=1e-3, abs=1e-6, nan_ok=True), (label, k)
