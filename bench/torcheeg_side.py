"""The TorchEEG side of ``bench/peer_torcheeg.py``; runs in the peer venv (``make bench-peers``).

    build    DEAPDataset(root_path, offline_transform=BandDifferentialEntropy(band_dict), io_path,
             num_worker) as TorchEEG's DEAP tutorial does; prints a JSON line (seconds in the
             constructor, whether it processed or read an existing io_path, window count).
    dump     the windows an io_path returns, as an .npz (subject, trial, window k, de).
    interop  train torcheeg.models.CCNN for one epoch on eegavi's cached band DE, read through
             eegavi's public ``fusion.FeatureWindowDataset`` (no TorchEEG dataset involved).

Each command prints one JSON object on its last stdout line; the driver parses it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np



def _dataset(root: Path, io_path: Path, bands: dict, workers: int):
    from torcheeg import transforms
    from torcheeg.datasets import DEAPDataset

    return DEAPDataset(root_path=str(root / "data_preprocessed_python"),
                       offline_transform=transforms.BandDifferentialEntropy(band_dict=bands),
                       io_path=str(io_path), num_worker=workers, verbose=False)


def build(args: argparse.Namespace) -> dict:
    existed = args.io_path.exists()
    t0 = time.perf_counter()
    ds = _dataset(args.root, args.io_path, json.loads(args.bands), args.workers)
    return {"seconds": time.perf_counter() - t0, "processed": not existed, "windows": len(ds)}


def dump(args: argparse.Namespace) -> dict:
    ds = _dataset(args.root, args.io_path, json.loads(args.bands), args.workers)
    n = len(ds)
    subject, trial, k = (np.zeros(n, dtype=np.int64) for _ in range(3))
    de = np.zeros((n, 32, len(json.loads(args.bands))), dtype=np.float64)
    for i in range(n):
        info = ds.read_info(i)
        subject[i] = int(str(info["subject_id"])[1:3])
        trial[i] = int(info["trial_id"])
        k[i] = (int(info["start_at"]) - 3 * 128) // 128
        de[i] = ds.read_eeg(str(info["_record_id"]), str(info["clip_id"]))
    np.savez(args.out, subject=subject, trial=trial, k=k, de=de)
    return {"windows": n}


def interop(args: argparse.Namespace) -> dict:
    """One epoch of CCNN on eegavi's cache through ``fusion.FeatureWindowDataset``: TorchEEG users
    keep their model and transforms and read our cache instead of an io_path."""
    import torch
    from torcheeg import transforms
    from torcheeg.datasets.constants import DEAP_CHANNEL_LOCATION_DICT

    from fusion import FeatureWindowDataset

    CCNN = _ccnn_class()
    grid = transforms.ToGrid(DEAP_CHANNEL_LOCATION_DICT)
    to_grid = lambda de: torch.as_tensor(grid(eeg=de)["eeg"], dtype=torch.float32)  # (4, 9, 9)  # noqa: E731
    # one epoch over the first subjects only: CCNN on 2 shared cores is slow
    subjects = [f"deap-s{s:02d}" for s in range(1, args.subjects + 1)] if args.subjects else None
    dataset = FeatureWindowDataset(args.manifest, cache=args.cache, group=args.group, labels=("valence",),
                                   subjects=subjects, transform=to_grid)
    loader = torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=True)
    torch.manual_seed(0)
    model = CCNN(num_classes=2, in_channels=dataset.features.shape[-1], grid_size=(9, 9))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0, seen, correct, losses = time.perf_counter(), 0, 0, []
    for batch in loader:
        x, y = batch["features"], batch["labels"][:, 0].long()
        opt.zero_grad()
        logits = model(x)                                     # (B, 2)
        loss = torch.nn.functional.cross_entropy(logits, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        seen += len(y)
        correct += int((logits.argmax(1) == y).sum())
    return {"windows": seen, "batches": len(losses), "first_loss": losses[0], "last_loss": losses[-1],
            "train_accuracy": correct / max(seen, 1), "seconds": time.perf_counter() - t0,
            "group": dataset.group_path, "subjects": args.subjects}


def _ccnn_class() -> type:
    """torcheeg.models.CCNN. The package's __init__ also imports its GNN models, which need
    torch_scatter (TorchEEG's optional 'pyg' extra, not installed); then the CNN subpackage is
    imported without that __init__."""
    try:
        from torcheeg.models import CCNN
    except ImportError:
        import types

        import torcheeg

        models = types.ModuleType("torcheeg.models")
        models.__path__ = [str(Path(torcheeg.__file__).parent / "models")]
        sys.modules["torcheeg.models"] = models
        from torcheeg.models.cnn import CCNN
    return CCNN


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("build", "dump"):
        p = sub.add_parser(name)
        p.add_argument("--root", type=Path, required=True)
        p.add_argument("--io-path", type=Path, required=True)
        p.add_argument("--bands", required=True, help="JSON band_dict, e.g. {\"alpha\": [8, 14]}")
        p.add_argument("--workers", type=int, default=2)
        p.add_argument("--out", type=Path)
    p = sub.add_parser("interop")
    p.add_argument("--cache", required=True)
    p.add_argument("--manifest", type=Path, required=True)
    p.add_argument("--group", default=None, help="cache group path (default: the only eeg-bands group)")
    p.add_argument("--subjects", type=int, default=None, help="train on subjects 1..N only")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("TQDM_DISABLE", "1")
    result = {"build": build, "dump": dump, "interop": interop}[args.cmd](args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
