"""train(cfg): build -> loop -> validate -> checkpoint, once per fold; a run is a folder.

Run folder: ``config.json``/``config.yaml`` (resolved), ``fingerprints.json`` (per input: the cache
group, fingerprint and extractor read; ``cli eval`` of a checkpoint reads those), ``folds.json``,
``summary.json``, and per fold ``fold<i>/`` with ``metrics.jsonl``, ``last.pt``/``best.pt``,
``model.safetensors`` + ``model_config.json`` (shareable without pickle), ``predictions.csv``
(``fusion/predictions.py``), ``result.json`` and PNG plots. ``--fusion classic`` fits the
band-power baseline per fold instead of a network and writes the same predictions and results.
The folder is created only once config, manifest, labels, cache groups and inputs are validated,
so a configuration error leaves nothing behind. Seeds are set here and only here. Progress goes
to an optional callback (``FoldProgress`` per epoch and fold), which the CLI renders.
Under torchrun every rank runs this loop on its share of each batch; only rank 0 writes the run
folder (see ``fusion/distributed.py``).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from fusion import distributed as ddp
from fusion.batches import BatchOrder, encode_labels
from fusion.classic_fold import classic_fold
from fusion.device import peak_memory_gb, resolve_amp, resolve_device
from fusion.checkpoint import export_model, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from fusion.data import Prepared, prepare_data
from fusion.distributed import DistributedContext
from fusion.ema import EmaTeacher
from fusion.fold_results import run_summary, write_fold_result
from fusion.loop_state import FoldProgress, LoopState, ProgressCallback, truncate_metrics_log
from fusion.memory import probe_peak_gb
from fusion.metrics import compute_metrics
from fusion.model import FusionModel
from fusion.normalise import cache_baseline_reader, fit_normaliser
from fusion.plots import plot_fold
from fusion.splits import Fold, make_folds
from fusion.train_config import OptimisationConfig, TrainConfig
from fusion.steps import autocast, compute_losses, model_inputs, predict, teacher_dim, training_batch
from pipeline.cache import FeatureCache
from pipeline.errors import ConfigError, TrainingError
from pipeline.manifest import load_manifest

_log = logging.getLogger(__name__)


def warmup_cosine(total: int, warmup_frac: float):
    """LR multiplier: linear warm-up over ``warmup_frac`` of the steps, then cosine to 0."""
    warm = max(1, int(round(total * warmup_frac)))

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))

    return f


def make_optimizer(model: FusionModel, cfg: OptimisationConfig) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases, norms and gates (1-D or scalar parameters). The tanh gates
    start at 0 and Adam moves a parameter by about lr per step, so with the few hundred steps of a
    small affective dataset they would barely open; they get ``gate_lr_scale`` times the rate."""
    gates = [p for n, p in model.named_parameters() if n.endswith("_gate")]
    gate_ids = {id(p) for p in gates}
    decay = [p for p in model.parameters() if p.ndim >= 2 and id(p) not in gate_ids]
    rest = [p for p in model.parameters() if p.ndim < 2 and id(p) not in gate_ids]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    if gates:
        groups.append({"params": gates, "weight_decay": 0.0, "lr": cfg.lr * cfg.gate_lr_scale})
    return torch.optim.AdamW(groups, lr=cfg.lr)


def val_score(pred: dict, cfg: TrainConfig) -> float:
    """Early-stopping score (higher is better): mean balanced accuracy (binary) or CCC (regression)
    over labels, minus a tiny multiple of the loss to break ties between equal metrics."""
    m = compute_metrics(pred["y"], pred["mask"], pred["score"], pred["subjects"], cfg.data.labels, cfg.data.task)
    key = "balanced_accuracy" if cfg.data.task == "binary" else "ccc"
    vals = [v.get(key, float("nan")) for v in m["overall"].values()]
    vals = [v for v in vals if not math.isnan(v)]
    return (float(np.mean(vals)) if vals else 0.0) - 1e-3 * pred["loss"]


def train(cfg: TrainConfig, ctx: DistributedContext | None = None,
          progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Train every fold of ``cfg`` and return the summary (trial- and window-level metrics pooled
    over folds, per-fold metrics, mean ± std, run dir). ``ctx``: this process's rank under torchrun
    (see ``fusion/distributed.py``); None = one process. Ranks other than 0 write nothing, report no
    progress and return only ``run_dir`` and ``rank``. ``progress`` receives a ``FoldProgress``
    after every epoch and fold."""
    ctx = ctx or DistributedContext()
    with ddp.process_group(ctx, resolve_device(cfg.runtime.device)) as device:
        return _train(cfg, ctx, device, progress if ctx.is_main else None)


def _train(cfg: TrainConfig, ctx: DistributedContext, device: torch.device,
           progress: ProgressCallback | None) -> dict[str, Any]:
    run = Path(cfg.runtime.out)
    # a network run leaves last.pt per fold; a finished run (classic ones write no checkpoints) summary.json
    if not cfg.runtime.resume and (any(run.glob("fold*/last.pt")) or (run / "summary.json").exists()):
        raise ConfigError(f"{run}: already holds a run. Pass --resume to continue it or choose another --out.")
    prep, folds = _validated(cfg)  # everything that can be wrong is found before anything is written
    ddp.barrier(ctx)  # every rank has checked before rank 0 writes
    if ctx.is_main:
        run.mkdir(parents=True, exist_ok=True)
        (run / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1) + "\n")
        (run / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        (run / "fingerprints.json").write_text(json.dumps(prep.fingerprints, indent=1) + "\n")
        (run / "folds.json").write_text(json.dumps([f.to_dict() for f in folds], indent=1) + "\n")
    amp = resolve_amp(cfg.optimisation.amp, device)
    results = []
    for pos, fold in enumerate(folds, 1):
        epochs = 1 if cfg.model.fusion == "classic" else cfg.optimisation.epochs  # classic: one fit
        report = _fold_reporter(progress, fold.index, pos, len(folds), epochs)
        fold_dir = run / f"fold{fold.index}"
        if cfg.model.fusion == "classic":
            results.append(classic_fold(cfg, prep, fold, fold_dir, _fold_data(cfg, prep, fold),
                                        lambda: peak_memory_gb(device))
                           if ctx.is_main else {})
        else:
            results.append(train_fold(cfg, prep, fold, fold_dir, device, amp, ctx, report))
        report(-1, None, True)
    if not ctx.is_main:
        return {"run_dir": str(run), "rank": ctx.rank}
    summary = {"run_dir": str(run), "device": str(device), "amp": amp, "fingerprints": prep.fingerprints,
               "inputs_checked": prep.inputs_checked,
               "folds": results, **run_summary(cfg, run, folds, results),
               "peak_memory_gb": max(r["peak_memory_gb"] for r in results),
               "peak_memory_kind": results[0]["peak_memory_kind"]}
    if cfg.runtime.vram_budget_gb is not None and cfg.model.fusion != "classic":  # the largest over folds
        summary.update(probe_peak_gb=max(r["probe_peak_gb"] for r in results),
                       probe_peak_kind=results[0]["probe_peak_kind"])
    (run / "summary.json").write_text(json.dumps(summary, indent=1, default=float) + "\n")
    _log.info("test metrics over %d fold(s):\n%s", len(results), summary["table"])
    return summary


def _fold_reporter(progress: ProgressCallback | None, fold: int, position: int, n_folds: int, epochs: int):
    """``report(epoch, val_score, done)`` for one fold: a ``FoldProgress`` to ``progress`` (if any);
    ``epoch=-1`` with ``done`` says the fold has finished."""
    def report(epoch: int, val_score: float | None, done: bool = False) -> None:
        if progress is not None:
            progress(FoldProgress(fold, position, n_folds, epochs if epoch < 0 else epoch, epochs, val_score, done))

    return report


def load_data(cfg: TrainConfig, recorded: dict[str, dict[str, Any]] | None = None) -> Prepared:
    """The run's manifest and cache groups read and cut into windows (shared by train and eval).

    The manifest is read without requiring its files (a cache copied without the raw data trains;
    reachable files are still checked against the entries). ``recorded``: a run's
    ``fingerprints.json``, to read exactly those groups instead of the current ones (evaluation)."""
    manifest = load_manifest(cfg.data.manifest, check_files=False)
    cache = FeatureCache(cfg.data.cache or manifest.cache)
    return prepare_data(manifest, cache, cfg.input_modalities, cfg.data.extractor_pins, cfg.losses.teacher,
                        cfg.data.window_s, cfg.data.hop_s, recorded=recorded)


def _validated(cfg: TrainConfig) -> tuple[Prepared, list[Fold]]:
    """Manifest, cache groups, input files, labels and folds checked and loaded (raises before the
    run folder exists, so a configuration error leaves nothing behind)."""
    prep = load_data(cfg)
    d = cfg.data
    encode_labels(prep.windows, d.labels, d.task, prep.manifest.label_scales, dict(d.thresholds))
    folds = make_folds([rf.rec for rf in prep.windows.features], d.split, d.folds, cfg.runtime.seed, d.val_subjects)
    return prep, folds[: d.max_folds] if d.max_folds else folds


def _restore(path: Path, model, opt, sched, scaler, gen, device, ctx: DistributedContext,
             ema: EmaTeacher | None) -> LoopState:
    """Load ``path`` into the model, optimiser, scheduler, scaler, EMA teacher and RNGs; return its loop state."""
    ck = load_checkpoint(path, device)
    model.load_state_dict(ck["model"])
    if ema is not None:
        if "ema" not in ck:
            raise ConfigError(f"{path} was written without --ema-weight; resume with the run's own settings.")
        ema.load_state_dict(ck["ema"])
    opt.load_state_dict(ck["optim"])
    sched.load_state_dict(ck["sched"])
    scaler.load_state_dict(ck["scaler"])
    set_rng_state(ddp.own_torch_rng(ck["rng"], ctx), gen)
    st = LoopState.from_dict(ck["state"])
    _log.info("resumed %s at epoch %d batch %d (step %d)", path, st.epoch, st.pos, st.step)
    return st


def _fold_data(cfg: TrainConfig, prep: Prepared, fold: Fold) -> tuple[dict, Any, dict]:
    """Window sets of the fold's sides, normaliser fitted on its training side, encoded labels."""
    ws = prep.windows
    sets = {"train": ws.subset(fold.train), "val": ws.subset(fold.val), "test": ws.subset(fold.test)}
    if len(sets["train"]) == 0:
        raise ConfigError(f"fold {fold.index}: no training windows (window_s={cfg.data.window_s} longer than the "
                          "recordings?). Lower --window-s.")
    d = cfg.data
    baseline = cache_baseline_reader(d.cache or prep.manifest.cache, prep.inputs[0]) if d.normalise == "baseline" \
        else None
    norm = fit_normaliser(sets["train"].features, prep.inputs, prep.cov_names, d.normalise, ws.features, baseline)
    labels = {k: encode_labels(w, d.labels, d.task, prep.manifest.label_scales, dict(d.thresholds))
              for k, w in sets.items()}
    return sets, norm, labels


def _optimisation(cfg: OptimisationConfig, model: FusionModel, n_batches: int, device: torch.device, amp: str):
    """AdamW, warm-up + cosine schedule over the run's optimiser steps, and the fp16 grad scaler."""
    opt = make_optimizer(model, cfg)
    total = cfg.epochs * math.ceil(n_batches / cfg.grad_accum)
    total = min(total, cfg.max_steps) if cfg.max_steps else total
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(total, cfg.warmup_frac))
    return opt, sched, torch.amp.GradScaler(device.type, enabled=amp == "fp16")


def train_fold(cfg: TrainConfig, prep: Prepared, fold: Fold, fold_dir: Path, device: torch.device,
               amp: str, ctx: DistributedContext | None = None, report=None) -> dict[str, Any]:
    """Train one fold with early stopping; evaluate its best model on the fold's test recordings.
    Under DDP each rank trains on its slice of every global batch; only rank 0 writes and evaluates.
    ``report(epoch, val_score)`` is called after every epoch (see ``_fold_reporter``)."""
    ctx = ctx or DistributedContext()
    report = report or (lambda *a: None)
    if cfg.runtime.resume and (fold_dir / "result.json").exists():
        return json.loads((fold_dir / "result.json").read_text())
    if ctx.is_main:
        fold_dir.mkdir(parents=True, exist_ok=True)
    ws = prep.windows
    sets, norm, labels = _fold_data(cfg, prep, fold)
    seed = cfg.runtime.seed * 1000 + fold.index
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    inputs = model_inputs(ws, len(cfg.data.labels), len(prep.cov_names), teacher_dim(ws))
    model = FusionModel(cfg.model, inputs).to(device)
    ema = EmaTeacher(model, cfg.losses.ema_decay) if cfg.losses.ema_weight > 0 else None
    if ctx.rank:  # same initial weights on every rank, but each rank its own dropout masks
        torch.manual_seed(seed + 100_003 * ctx.rank)
    step = ddp.StepForward(model, lambda m, b: compute_losses(m, b, cfg), ctx, device)
    o = cfg.optimisation
    order = BatchOrder(len(sets["train"]), o.batch_size, seed)
    n_batches = order.batches_per_epoch()
    opt, sched, scaler = _optimisation(o, model, n_batches, device, amp)
    st = LoopState()
    metrics_path = fold_dir / "metrics.jsonl"
    if cfg.runtime.resume and (fold_dir / "last.pt").exists():
        st = _restore(fold_dir / "last.pt", model, opt, sched, scaler, gen, device, ctx, ema)
        if ctx.is_main:
            truncate_metrics_log(metrics_path, st)
    elif metrics_path.exists() and ctx.is_main:
        metrics_path.unlink()
    meta = {"config": cfg.to_dict(), "model_inputs": inputs, "normaliser": norm.to_state(), "fold": fold.to_dict(),
            "fingerprints": prep.fingerprints, "cov_names": prep.cov_names,
            "layout": {"pad_sizes": ws.pad_sizes, "item_shapes": ws.item_shapes}}

    def save(name: str) -> None:  # collective under DDP: every rank calls it, rank 0 writes
        rng = ddp.gather_torch_rng(rng_state(gen), ctx)
        if ctx.is_main:
            save_checkpoint(fold_dir / name, {**meta, "model": model.state_dict(), "optim": opt.state_dict(),
                                              "sched": sched.state_dict(), "scaler": scaler.state_dict(),
                                              "rng": rng, "state": st.to_dict(),
                                              **({"ema": ema.state_dict()} if ema else {})})
        ddp.barrier(ctx)

    def log(row: dict[str, Any]) -> None:
        if ctx.is_main:
            with metrics_path.open("a") as f:
                f.write(json.dumps(row, default=float) + "\n")

    tr, (y, ym) = sets["train"], labels["train"]
    probe = _check_budget(cfg, model, ema, tr, order, norm, (y, ym), prep, device, amp, ctx)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    while st.epoch < o.epochs and not st.stopped:
        model.train()
        for pos, idx in order.batches(st.epoch, st.pos):
            part, weight = ddp.shard(len(idx), ctx)
            batch = _device_batch(cfg, tr, idx, norm, (y, ym), gen, prep, part, ema, device, amp)
            accumulating = bool((pos + 1) % o.grad_accum and pos + 1 < n_batches)
            with step.accumulating(accumulating):
                with autocast(device, amp):
                    losses = step(batch)
                logged = ddp.global_losses(losses, weight, ctx)
                if not math.isfinite(logged["total"]):
                    raise TrainingError(
                        f"fold {fold.index}: loss is {logged['total']} at step {st.step} (epoch {st.epoch}, "
                        f"batch {pos}, windows {idx[:8].tolist()}...). The last good checkpoint is kept at "
                        f"{fold_dir / 'last.pt'}; lower --lr, or check those windows' inputs in the cache.")
                scaler.scale(losses["total"] * weight / o.grad_accum).backward()
            if accumulating:
                continue
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), o.grad_clip)
            scaler.step(opt)
            scaler.update()
            opt.zero_grad(set_to_none=True)
            sched.step()
            if ema is not None:
                ema.update(model)
            st.step += 1
            st.pos = pos + 1
            log({"kind": "train", "step": st.step, "epoch": st.epoch, "lr": sched.get_last_lr()[0],
                 **logged})
            if o.checkpoint_every and st.step % o.checkpoint_every == 0:
                save("last.pt")
            if o.max_steps and st.step >= o.max_steps:
                st.stopped = True
                break
        _end_epoch(cfg, model, sets, labels, norm, device, amp, st, log, save, report)
    if not (fold_dir / "best.pt").exists():
        save("best.pt")
    if not ctx.is_main:
        return {}
    export_model(fold_dir / "best.pt", fold_dir)  # model.safetensors + model_config.json: shareable without pickle
    return _finish_fold(cfg, prep, fold, fold_dir, sets, labels, norm, device, amp, model, probe)


def _device_batch(cfg: TrainConfig, tr, idx: np.ndarray, norm, labels, gen: torch.Generator, prep: Prepared,
                  part: slice, ema: EmaTeacher | None, device: torch.device, amp: str):
    """One training batch on ``device``, with the EMA teacher's target when self-distilling."""
    batch = training_batch(cfg, tr, idx, norm, *labels, gen, prep.teacher, part).to(device)
    if ema is not None:
        with autocast(device, amp):
            ema.attach_target(batch)
    return batch


def _check_budget(cfg: TrainConfig, model: FusionModel, ema: EmaTeacher | None, tr, order: BatchOrder, norm, labels,
                  prep: Prepared, device: torch.device, amp: str, ctx: DistributedContext) -> dict[str, Any]:
    """With ``--vram-budget``: measure the peak of the first training steps (``fusion/memory.py``)
    before training, and refuse a configuration over the budget. Without it: measure nothing."""
    budget = cfg.runtime.vram_budget_gb
    if budget is None:
        return {}
    _, idx = next(iter(order.batches(0)))  # a full-size batch, also when resuming at an epoch's end
    part, _ = ddp.shard(len(idx), ctx)
    gen = torch.Generator().manual_seed(cfg.runtime.seed)  # the training generator is left untouched
    batch = _device_batch(cfg, tr, idx, norm, labels, gen, prep, part, ema, device, amp)
    peak, kind = probe_peak_gb(model, lambda m: make_optimizer(m, cfg.optimisation), batch,
                               lambda m, b: compute_losses(m, b, cfg)["total"], lambda: autocast(device, amp),
                               device, frozen=[ema.model] if ema else [])
    peak = ddp.max_over_ranks(peak, ctx, device)
    _log.info("first-steps peak %.3f GiB (%s, batch %d, amp %s; budget %.2f GiB)", peak, kind, len(idx), amp,
              budget)
    if peak > budget:
        raise TrainingError(f"the first training steps peak at {peak:.2f} GiB ({kind}, batch {len(idx)}, amp {amp}), "
                            f"over --vram-budget {budget} GiB; nothing was trained. Lower --batch-size "
                            "(with --grad-accum to keep the effective batch), use --amp bf16 or --grad-checkpoint, "
                            "or shrink --window-s.")
    return {"probe_peak_gb": peak, "probe_peak_kind": kind, "probe_batch": len(idx), "probe_amp": amp}


def _end_epoch(cfg: TrainConfig, model, sets, labels, norm, device, amp, st: LoopState, log, save, report) -> None:
    """Validate, log, update early stopping, write best.pt/last.pt, move to the next epoch."""
    row: dict[str, Any] = {"kind": "val", "step": st.step, "epoch": st.epoch, **{
        f"gate/{k}": v for k, v in model.gate_values().items()}}
    if len(sets["val"]):
        pred = predict(model, sets["val"], norm, *labels["val"], cfg.data.task, device, amp)
        score = val_score(pred, cfg)
        row.update(val_loss=pred["loss"], val_score=score)
    else:
        score = float(st.epoch)  # no validation side: the latest epoch is the best
    log(row)
    report(st.epoch + 1, row.get("val_score"))
    if score > st.best:
        st.best, st.bad_epochs = score, 0
        save("best.pt")
    else:
        st.bad_epochs += 1
        if st.bad_epochs >= cfg.optimisation.early_stop_patience:
            _log.info("early stop at epoch %d (no validation improvement for %d epochs)", st.epoch, st.bad_epochs)
            st.stopped = True
    st.epoch += 1
    st.pos = 0
    save("last.pt")


def _finish_fold(cfg, prep, fold, fold_dir, sets, labels, norm, device, amp, model, probe) -> dict[str, Any]:
    """Evaluate best.pt on the test side, write predictions, result.json and plots."""
    model.load_state_dict(load_checkpoint(fold_dir / "best.pt", device)["model"])
    pred = predict(model, sets["test"], norm, *labels["test"], cfg.data.task, device, amp)
    peak, kind = peak_memory_gb(device)
    result = write_fold_result(cfg, prep, fold, fold_dir, sets["test"], pred,
                               {"n_train_windows": len(sets["train"]), "peak_memory_gb": peak,
                                "peak_memory_kind": kind, **probe})
    plot_fold(fold_dir)
    return result
