"""Bench: stage-two training from the cache vs. the same step with a frozen ViViT-B on the fly.

(a) Training samples/s of the fusion model reading cached video tokens, versus the same model
    and batch with a frozen, real-size ViViT-B (``transformers.VivitModel(VivitConfig())``,
    random weights: speed and memory do not depend on the weight values) turning raw frames into
    the same tokens inside every step. Prints the ratio and both peak memories.
(b) Loader samples/s (window gathering + padding + normalisation from an in-memory feature cache
    read through ``FeatureCache``) versus model-step samples/s; the loader must not be the
    bottleneck (ratio >= 3).
(c) The peak tensor memory of the first training steps, as ``--vram-budget`` measures it
    (``fusion/memory.py``: CUDA max allocated on a GPU, torch's MemTracker tensor accounting on
    CPU), with autocast off and bf16: the 8 GB check at batch 32 without a GPU.

Only this benchmark imports transformers; ``fusion`` never does.

    .venv/bin/python -m bench.train_step --batch 2 --steps 2 --threads 1  # CPU, shared cores
    .venv/bin/python -m bench.train_step --batch 32 --steps 10 --device cuda --amp bf16
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from fusion.batches import encode_labels, make_batch
from fusion.train_config import TrainConfig
from fusion.data import InputSpec, WindowSet, load_features
from fusion.memory import probe_peak_gb
from fusion.model import FusionModel
from fusion.normalise import fit_normaliser
from fusion.steps import autocast, compute_losses, model_inputs
from fusion.train import make_optimizer
from pipeline.cache import FeatureCache
from pipeline.extractors.base import FeatureArrays
from pipeline.manifest import LabelScale, Manifest, Recording, Stream

SFREQ, CH, SEG_S, FRAMES, TUBELETS, D = 128.0, 14, 2.0, 32, 16, 768
AUDIO_HOP, AUDIO_K, BEAT_L = 0.01, 12, 128


def peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_cache(root: Path, n_rec: int, duration_s: float) -> tuple[Manifest, FeatureCache, list[InputSpec]]:
    """A cache with the real layouts (ViViT-B tokens 1+16 x 768 per 2 s segment, 10 ms audio frames,
    128-sample beats), written through FeatureCache like stage one does."""
    rng = np.random.default_rng(0)
    cache = FeatureCache(root / "cache.zarr")
    ident = lambda n: {"extractor": n, "version": "1", "config": {}, "weights": {}, "libraries": {}}  # noqa: E731
    groups = {k: cache.create_group(k, f"bench_{k}", ident(k), {}) for k in ("eeg", "video", "audio", "ecg")}
    recs = []
    for r in range(n_rec):
        rid = f"r{r}"
        streams = {k: Stream(k, k, root / f"{rid}.{k}", "npy") for k in ("eeg", "video", "audio", "ecg")}
        recs.append(Recording(id=rid, dataset="bench", subject=f"S{r % 4}", trial=str(r), streams=streams,
                              labels={"valence": float(rng.uniform(1, 9)), "arousal": float(rng.uniform(1, 9))},
                              covariates={"age": 30.0}))
        n = int(duration_s * SFREQ)
        cache.write_entry(groups["eeg"].path, rid, "eeg", FeatureArrays(np.arange(n) / SFREQ, {
            "data": rng.normal(0, 10, (n, CH)).astype(np.float32)}, {"sfreq": SFREQ, "ch_names": [str(i) for i in range(CH)]}), "h")
        st = np.arange(0, duration_s, SEG_S)
        cache.write_entry(groups["video"].path, rid, "video", FeatureArrays(np.stack([st, st + SEG_S], 1), {
            "tokens": rng.normal(0, 1, (len(st), 1 + TUBELETS, D)).astype(np.float16)}), "h")
        ft = np.arange(0, duration_s, AUDIO_HOP)
        cache.write_entry(groups["audio"].path, rid, "audio", FeatureArrays(ft, {
            "frames": rng.normal(0, 1, (len(ft), AUDIO_K)).astype(np.float32)}), "h")
        rt = np.arange(0.4, duration_s, 0.8)
        cache.write_entry(groups["ecg"].path, rid, "ecg", FeatureArrays(rt, {
            "beats": rng.normal(0, 1, (len(rt), BEAT_L)).astype(np.float32), "rr_s": np.full(len(rt), 0.8),
            "hr_bpm": np.full(len(rt), 75.0), "quality": np.ones(len(rt))}), "h")
    scales = {"valence": LabelScale(min=1, max=9), "arousal": LabelScale(min=1, max=9)}
    manifest = Manifest(path=root / "m.yaml", recordings=tuple(recs), label_scales=scales, cache=root / "cache.zarr")
    specs = [InputSpec(k, k, groups[k]) for k in ("eeg", "video", "audio", "ecg")]
    return manifest, cache, specs


def vivit_tokens(vivit, frames: torch.Tensor) -> torch.Tensor:
    """Frozen ViViT-B on (S, 32, 3, 224, 224) -> compacted tokens (S, 1+16, 768): CLS + spatial mean
    per tubelet, exactly the cached layout."""
    with torch.no_grad():
        h = vivit(pixel_values=frames).last_hidden_state                          # (S, 1 + 16*196, 768)
        patches = h[:, 1:].reshape(h.shape[0], TUBELETS, -1, D).mean(2)            # (S, 16, 768)
        return torch.cat([h[:, :1], patches], dim=1)


def time_steps(fn, steps: int, device: torch.device) -> float:
    fn()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / steps


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--loader-batches", type=int, default=20)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--amp", default="off", choices=["off", "bf16", "fp16"])
    ap.add_argument("--skip-vivit", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 avoids OpenMP spin-waits "
                    "on a shared machine)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        manifest, cache, specs = build_cache(Path(tmp), n_rec=8, duration_s=40.0)
        t = time.perf_counter()
        feats = load_features(manifest, cache, specs)
        read_s = time.perf_counter() - t
    ws = WindowSet(feats, specs, 4.0, 2.0, SFREQ)
    cfg = TrainConfig.from_options(manifest=Path("m.yaml"), out=Path("."),
                                   modalities=("eeg", "video", "audio", "ecg"), batch_size=args.batch, amp=args.amp,
                                   device=args.device)
    norm = fit_normaliser(feats, specs, ("age",))
    y, ym = encode_labels(ws, cfg.data.labels, cfg.data.task, manifest.label_scales, {})
    rng = np.random.default_rng(0)
    idx_list = [rng.choice(len(ws), args.batch, replace=False) for _ in range(args.loader_batches)]
    t = time.perf_counter()
    for idx in idx_list:
        make_batch(ws, idx, norm, y, ym)
    loader_sps = args.batch * len(idx_list) / (time.perf_counter() - t)

    torch.manual_seed(0)
    model = FusionModel(cfg.model, model_inputs(ws, len(cfg.data.labels), 1, 0)).to(device).train()
    opt = make_optimizer(model, cfg.optimisation)
    batch = make_batch(ws, idx_list[0], norm, y, ym).to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def step_cached() -> None:
        with autocast(device, args.amp):
            loss = compute_losses(model, batch, cfg)["total"]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    cached_s = time_steps(step_cached, args.steps, device)
    cached_peak = peak_mb(device)
    res = {"device": str(device), "threads": torch.get_num_threads(), "batch": args.batch, "amp": args.amp, "cache_read_s": read_s,
           "loader_samples_per_s": loader_sps, "cached_step_s": cached_s, "cached_samples_per_s": args.batch / cached_s,
           "cached_peak_mb": cached_peak, "loader_to_step_ratio": loader_sps / (args.batch / cached_s),
           "model_params": sum(p.numel() for p in model.parameters())}
    for amp in ("off", "bf16"):  # (c) what --vram-budget measures, per autocast mode
        peak_gb, kind = probe_peak_gb(model, lambda m: make_optimizer(m, cfg.optimisation), batch,
                                      lambda m, b: compute_losses(m, b, cfg)["total"],
                                      lambda amp=amp: autocast(device, amp), device)
        res[f"probe_peak_mb_{amp}"], res["probe_kind"] = peak_gb * 1024, kind
    if not args.skip_vivit:
        from transformers import VivitConfig, VivitModel

        vivit = VivitModel(VivitConfig()).to(device).eval().requires_grad_(False)
        n_seg = batch.inputs["video"]["tokens"].shape[1]
        frames = torch.randn(args.batch * n_seg, FRAMES, 3, 224, 224, device=device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

        def step_vivit() -> None:
            with autocast(device, args.amp):
                tok = vivit_tokens(vivit, frames).float().view(args.batch, n_seg, 1 + TUBELETS, D)
            batch.inputs["video"]["tokens"] = tok
            step_cached()

        vivit_s = time_steps(step_vivit, max(1, args.steps // 2), device)
        res.update(vivit_step_s=vivit_s, vivit_samples_per_s=args.batch / vivit_s, vivit_peak_mb=peak_mb(device),
                   speedup_cached_vs_vivit=vivit_s / cached_s, segments_per_window=n_seg)
    print(json.dumps(res, indent=1))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")
    return res


if __name__ == "__main__":
    main()
