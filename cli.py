"""eegavi command line: parse flags, build a frozen config, call one library function, print.

Stage one (`synth`, `manifest`, `extract`, `cache`) lives in `pipeline/`; stage two (`train`,
`eval`) in `fusion/`. What the commands share (the error guard, printing, `--config` files, the
extraction progress bar) is in `commandline/`. Every command is decorated with `@command`: it
returns its exit code, and a library error is one sentence and exit 2 (`--debug` shows tracebacks).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Optional

import typer

from commandline.config_file import read_config_section
from commandline.extraction import eeg_extractor_name, extract_every_modality, extract_from_options, video_extractor_name
from commandline.guard import Settings, command, console, out, require_manifest
from commandline.manifest_views import print_adapter_report, print_manifest_check
from commandline.options import (CacheOpt, ConfigOpt, JsonOpt, ManifestOpt, OptionalManifestOpt, ProcessesOpt,
                                 RecordingsOpt, SchedulerOpt, SetOpt, WorkersOpt)
from commandline.results_views import print_comparison, print_evaluation, print_json, print_summary, training_progress
from fusion.splits import SPLITS

app = typer.Typer(help="eegavi: cache frozen video/audio/ECG/EEG features once, train EEG fusion models on them.",
                  no_args_is_help=True, add_completion=False)
synth_app = typer.Typer(help="Generate the bundled synthetic demo dataset.", no_args_is_help=True)
manifest_app = typer.Typer(help="Check a manifest or build one from a dataset's own layout.", no_args_is_help=True)
extract_app = typer.Typer(help="Stage one: run frozen extractors once and write the feature cache.", no_args_is_help=True)
cache_app = typer.Typer(help="Inspect, verify and garbage-collect the feature cache.", no_args_is_help=True)
train_app = typer.Typer(help="Stage two: train fusion models on the cached features.", no_args_is_help=True)
for _name, _group in (("synth", synth_app), ("manifest", manifest_app), ("extract", extract_app),
                      ("cache", cache_app), ("train", train_app)):
    app.add_typer(_group, name=_name)

@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks."),
          verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details.")) -> None:
    Settings.debug = debug
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


# ------------------------------------------------------------------------------------ synth
@synth_app.command("demo")
@command
def synth_demo(out_dir: Path = typer.Option(Path("data/demo"), "--out", help="Output folder."),
               subjects: int = typer.Option(6, help="Number of subjects."),
               trials: int = typer.Option(4, help="Trials per subject."),
               duration_s: float = typer.Option(20.0, "--duration-s", help="Seconds per trial."),
               seed: int = typer.Option(0, help="Random seed (same seed, same files).")) -> None:
    """Write the deterministic demo dataset (EDF, MP4, WAV) and its data_manifest.yaml."""
    from pipeline.synth.demo import generate_demo

    t0 = time.perf_counter()
    with console.status(f"writing demo dataset to {out_dir} ..."):
        manifest = generate_demo(out_dir, subjects=subjects, trials=trials, duration_s=duration_s, seed=seed)
    out.print(f"demo dataset: {subjects} subjects x {trials} trials x {duration_s:g} s -> {manifest} "
              f"({time.perf_counter() - t0:.1f} s)")


# ------------------------------------------------------------------------------------ manifest
@manifest_app.command("check")
@command
def manifest_check(manifest: Path = ManifestOpt, as_json: bool = JsonOpt) -> int:
    """Validate a manifest and report every problem at once."""
    require_manifest(manifest)  # a missing file is a usage error (2), not a manifest with problems (1)
    return print_manifest_check(manifest, as_json)


@manifest_app.command("from")
@command
def manifest_from(dataset: str = typer.Argument(..., help="deap | dreamer | amigos | mahnob | bids"),
                  root: Path = typer.Argument(..., help="The dataset's root folder as downloaded."),
                  output: Path = typer.Option(Path("data_manifest.yaml"), "-o", "--output", help="Manifest to write."),
                  trial_type: Optional[list[str]] = typer.Option(None, "--trial-type", help="BIDS: event types that are trials (repeatable)."),
                  label_column: Optional[list[str]] = typer.Option(None, "--label-column", help="BIDS: events.tsv columns that are labels (repeatable)."),
                  label_scale: Optional[list[str]] = typer.Option(None, "--label-scale", help="BIDS: NAME=MIN:MAX[:THRESHOLD] (repeatable)."),
                  threshold: Optional[float] = typer.Option(None, "--threshold", help="Low/high split of every label scale (default: the dataset's midpoint, e.g. 3 for DREAMER)."),
                  threshold_inclusive: Optional[bool] = typer.Option(None, "--threshold-inclusive/--threshold-exclusive", help="A rating equal to the threshold is high (>=) or low (>, the default)."),
                  as_json: bool = JsonOpt) -> int:
    """Build a manifest from a public dataset's own layout."""
    from pipeline.adapters import build_manifest
    from pipeline.adapters.bids import bids_options

    options = bids_options(trial_type, label_column, label_scale) if dataset == "bids" else {}
    report = build_manifest(dataset, root, output, threshold=threshold, threshold_inclusive=threshold_inclusive,
                            **options)
    print_adapter_report(report, output, as_json)
    return 1 if report.skipped else 0


# ------------------------------------------------------------------------------------ extract
# Each extract command's parameters are named after its extractor's config fields (see
# commandline/extraction.py); where README cites a shorter option, it stays as a second name.
@extract_app.command("eeg")
@command
def extract_eeg(manifest: Path = ManifestOpt, cache: Optional[str] = CacheOpt,
                features: str = typer.Option("signal", "--features", help="signal: the preprocessed continuous EEG (stage two's input); bands: band differential entropy per window (extractor eeg-bands, TorchEEG's BandDifferentialEntropy)."),
                sfreq: Optional[float] = typer.Option(None, help="signal: target rate in Hz (default 128)."),
                l_freq: Optional[float] = typer.Option(None, "--l-freq", help="signal: high-pass edge in Hz (default 0.5)."),
                h_freq: Optional[float] = typer.Option(None, "--h-freq", help="signal: low-pass edge in Hz (default 45)."),
                notch_hz: Optional[str] = typer.Option(None, "--notch-hz", "--notch", help="signal: notch frequencies, comma-separated (default 50)."),
                reference: Optional[str] = typer.Option(None, help="signal: 'average', 'none' or a channel name."),
                nan_policy: Optional[str] = typer.Option(None, "--nan-policy", help="signal: interpolate | reject"),
                flat_policy: Optional[str] = typer.Option(None, "--flat-policy", help="signal: reject | keep"),
                min_duration_s: Optional[float] = typer.Option(None, "--min-duration-s", help="signal: shortest usable recording."),
                bands: Optional[str] = typer.Option(None, help="bands: NAME:LOW-HIGH,... in Hz (default theta:4-8,alpha:8-14,beta:14-31,gamma:31-49)."),
                window_s: Optional[float] = typer.Option(None, "--window-s", help="bands: window length, s (default 1)."),
                hop_s: Optional[float] = typer.Option(None, "--hop-s", help="bands: window hop, s (default 1: no overlap)."),
                order: Optional[int] = typer.Option(None, help="bands: Butterworth order (default 5)."),
                filter: Optional[str] = typer.Option(None, "--filter", help="bands: window-lfilter (TorchEEG's) | trial-sosfiltfilt"),
                log: Optional[str] = typer.Option(None, help="bands: log2 (TorchEEG's) | ln"),
                config: Optional[Path] = ConfigOpt, set_: Optional[list[str]] = SetOpt,
                scheduler: Optional[str] = SchedulerOpt, workers: int = WorkersOpt, processes: bool = ProcessesOpt,
                recording: Optional[list[str]] = RecordingsOpt, as_json: bool = JsonOpt) -> int:
    """Preprocess EEG with MNE (filter, notch, re-reference, resample), or band DE per window (--features bands), into the cache."""
    return extract_from_options(eeg_extractor_name(features), "eeg", locals())


@extract_app.command("ecg")
@command
def extract_ecg(manifest: Path = ManifestOpt, cache: Optional[str] = CacheOpt,
                method: Optional[str] = typer.Option(None, help="NeuroKit2 R-peak method (default pantompkins1985)."),
                channel: Optional[str] = typer.Option(None, "--channel", help="Lead by name or 0-based index (default: first ECG channel)."),
                pre_s: Optional[float] = typer.Option(None, "--pre-s", help="Window start before the R peak, s (default 0.25)."),
                post_s: Optional[float] = typer.Option(None, "--post-s", help="Window end after the R peak, s (default 0.45)."),
                length: Optional[int] = typer.Option(None, "--length", help="Samples per beat window after resampling (default 128)."),
                min_hr_bpm: Optional[float] = typer.Option(None, "--min-hr-bpm", help="Slowest plausible heart rate."),
                max_hr_bpm: Optional[float] = typer.Option(None, "--max-hr-bpm", help="Fastest plausible heart rate."),
                config: Optional[Path] = ConfigOpt, set_: Optional[list[str]] = SetOpt,
                scheduler: Optional[str] = SchedulerOpt, workers: int = WorkersOpt, processes: bool = ProcessesOpt,
                recording: Optional[list[str]] = RecordingsOpt, as_json: bool = JsonOpt) -> int:
    """Detect R-peaks (Pan-Tompkins) and cut heartbeat-centred windows into the cache."""
    return extract_from_options("ecg", "ecg", locals())


@extract_app.command("audio")
@command
def extract_audio(manifest: Path = ManifestOpt, cache: Optional[str] = CacheOpt,
                  extractor: Optional[str] = typer.Option(None, "--extractor", help="audio (built-in, the default) | egemaps (needs opensmile)."),
                  hop_s: Optional[float] = typer.Option(None, "--hop-s", help="Frame hop in seconds (default 0.01)."),
                  sr: Optional[int] = typer.Option(None, "--sr", help="Analysis rate in Hz (default 16000)."),
                  f0_floor_hz: Optional[float] = typer.Option(None, "--f0-floor-hz", "--f0-floor", help="Lowest F0 in Hz (default 60)."),
                  f0_ceiling_hz: Optional[float] = typer.Option(None, "--f0-ceiling-hz", "--f0-ceiling", help="Highest F0 in Hz."),
                  voicing_threshold: Optional[float] = typer.Option(None, "--voicing-threshold", help="Praat voicing threshold."),
                  level: Optional[str] = typer.Option(None, "--level", help="frame (F, K) | segment (functionals)."),
                  segment_s: Optional[float] = typer.Option(None, "--segment-s", help="Segment length in seconds for --level segment and for --encoder (default 2)."),
                  min_pause_s: Optional[float] = typer.Option(None, "--min-pause-s", help="Shortest pause in seconds."),
                  encoder: Optional[str] = typer.Option(None, "--encoder", help="hubert | wav2vec2: self-supervised speech embeddings per segment instead of paralinguistic features (config section 'speech')."),
                  weights: Optional[str] = typer.Option(None, "--weights", help="With --encoder: local path or hub id in the local HF cache."),
                  random_init: Optional[bool] = typer.Option(None, "--random-init/--pretrained", help="With --encoder: random weights (demo, tests)."),
                  size: Optional[str] = typer.Option(None, "--size", help="With --encoder --random-init: tiny (default) | base."),
                  layer: Optional[int] = typer.Option(None, "--layer", help="With --encoder: hidden_states index, 0 = input, -1 = last layer (default; torchaudio's extract_features[-1])."),
                  tokens: Optional[int] = typer.Option(None, "--tokens", help="With --encoder: also store K frame-level tokens per segment."),
                  device: Optional[str] = typer.Option(None, "--device", help="With --encoder: cpu | cuda | cuda:N (default: cuda if present)."),
                  config: Optional[Path] = ConfigOpt, set_: Optional[list[str]] = SetOpt,
                  scheduler: Optional[str] = SchedulerOpt, workers: int = WorkersOpt, processes: bool = ProcessesOpt,
                  recording: Optional[list[str]] = RecordingsOpt, as_json: bool = JsonOpt) -> int:
    """Compute paralinguistic frame features (pitch, energy, prosody), or speech embeddings (--encoder), into the cache."""
    if encoder is not None and extractor is not None:
        from pipeline.errors import ConfigError

        raise ConfigError(f"--encoder {encoder} and --extractor {extractor} exclude each other; pass one.")
    if encoder is not None:
        return extract_from_options(encoder, "speech", locals())
    return extract_from_options(extractor, "audio", locals())


@extract_app.command("video")
@command
def extract_video(manifest: Path = ManifestOpt, cache: Optional[str] = CacheOpt,
                  encoder: Optional[str] = typer.Option(None, "--encoder", help="vivit (the default) | clip | timesformer"),
                  head: str = typer.Option("tokens", "--head", help="tokens (compact tokens) | logits (Kinetics-400 class logits per segment: vivit, timesformer)."),
                  weights: Optional[str] = typer.Option(None, "--weights", help="Local path or hub id in the local HF cache."),
                  random_init: Optional[bool] = typer.Option(None, "--random-init/--pretrained", help="Random weights (demo, speed tests)."),
                  size: Optional[str] = typer.Option(None, "--size", help="With --random-init: tiny (default) | base."),
                  batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Clips per forward pass."),
                  device: Optional[str] = typer.Option(None, "--device", help="cpu | cuda | cuda:N (default: cuda if present)."),
                  segment_s: Optional[float] = typer.Option(None, "--segment-s", help="Segment length in seconds (default 2)."),
                  frames: Optional[int] = typer.Option(None, "--frames", help="Frames sampled per segment (default: the encoder's)."),
                  keep_tokens: Optional[int] = typer.Option(None, "--keep-tokens", help="Keep K evenly spaced time tokens."),
                  project_dim: Optional[int] = typer.Option(None, "--project-dim", help="Fixed orthogonal projection to this width."),
                  min_coverage: Optional[float] = typer.Option(None, "--min-coverage", help="Keep a partial last segment covering at least this fraction."),
                  seed: Optional[int] = typer.Option(None, "--seed", help="Seed of random init and of the projection."),
                  precision: Optional[str] = typer.Option(None, "--precision", help="auto (fp16 on CUDA, fp32 on CPU) | fp32 | fp16 (CUDA) | bf16 (CUDA, or a CPU with AMX/AVX512-BF16)."),
                  prefetch: Optional[int] = typer.Option(None, "--prefetch", help="Batches decoded ahead of the model."),
                  face_crop: Optional[bool] = typer.Option(None, "--face-crop/--no-face-crop", help="Detect the face (OpenCV Haar cascade) and encode a square crop of it instead of the whole frame."),
                  face_margin: Optional[float] = typer.Option(None, "--face-margin", help="With --face-crop: margin on every side of the face box, fraction of its side (default 0.25)."),
                  face_detector: Optional[str] = typer.Option(None, "--face-detector", help="With --face-crop: haar_alt (default) | haar_alt2 | haar."),
                  config: Optional[Path] = ConfigOpt, set_: Optional[list[str]] = SetOpt,
                  scheduler: Optional[str] = SchedulerOpt, workers: int = typer.Option(1, "--workers", help="Local threads (the model is shared)."),
                  processes: bool = ProcessesOpt,
                  recording: Optional[list[str]] = RecordingsOpt, as_json: bool = JsonOpt) -> int:
    """Encode face video with a frozen transformers encoder and compact its tokens into the cache."""
    return extract_from_options(video_extractor_name(encoder, head), "video", locals())


@extract_app.command("all")
@command
def extract_all(manifest: Path = ManifestOpt, cache: Optional[str] = CacheOpt,
                encoder: Optional[str] = typer.Option(None, "--encoder", help="Video encoder (default vivit)."),
                random_init: bool = typer.Option(False, "--random-init", help="Random video weights (demo)."),
                config: Optional[Path] = ConfigOpt,
                set_: Optional[list[str]] = typer.Option(None, "--set", help="KEY=VALUE for every extractor with that field, or MODALITY.KEY=VALUE for one (e.g. eeg.notch_hz=60); repeatable."),
                scheduler: Optional[str] = SchedulerOpt,
                workers: int = WorkersOpt, processes: bool = ProcessesOpt,
                recording: Optional[list[str]] = RecordingsOpt, as_json: bool = JsonOpt) -> int:
    """Run every extractor whose modality the manifest has (eeg, ecg, audio, video)."""
    return extract_every_modality(manifest, cache, {"video": encoder}, {"random_init": random_init or None}, config,
                                  scheduler, workers, processes, as_json, sets=set_, recordings=recording)


@extract_app.command("teacher")
@command
def extract_teacher(manifest: Path = ManifestOpt, cache: Optional[str] = CacheOpt,
                    teacher: str = typer.Option("vate", "--teacher", help="vate: VATE's contrastive heads on the cached ViViT logits (and HuBERT) groups."),
                    checkpoint: Optional[str] = typer.Option(None, "--checkpoint", help="The teacher's weights file (VATE: best_model_contrastive.pt)."),
                    audio: Optional[bool] = typer.Option(None, "--audio/--no-audio", help="Also embed the current hubert group where present (default: yes)."),
                    config: Optional[Path] = ConfigOpt, set_: Optional[list[str]] = SetOpt,
                    scheduler: Optional[str] = SchedulerOpt, workers: int = WorkersOpt, processes: bool = ProcessesOpt,
                    recording: Optional[list[str]] = RecordingsOpt, as_json: bool = JsonOpt) -> int:
    """Embed cached upstream features with a teacher model into a derived cache group (teacher/<name>-<fp>)."""
    params = dict(locals())  # before any other name is bound: the options are the config fields
    from pipeline.errors import ConfigError
    from pipeline.modalities import DERIVED_TEACHERS

    if teacher not in DERIVED_TEACHERS:
        raise ConfigError(f"--teacher {teacher}: unknown teacher. Known teachers: {', '.join(DERIVED_TEACHERS)}.")
    return extract_from_options(teacher, "teacher", params)


# ------------------------------------------------------------------------------------ cache
@cache_app.command("ls")
@command
def cache_ls(manifest: Optional[Path] = OptionalManifestOpt, cache: Optional[str] = CacheOpt, as_json: bool = JsonOpt) -> None:
    """List cache groups: coverage, size, age, random-init flag, token compaction."""
    from commandline.cache_views import print_groups
    from pipeline.cache_inventory import list_groups, locate_cache

    store, m = locate_cache(manifest, cache)
    print_groups(store.location, list_groups(store, m), as_json)


@cache_app.command("verify")
@command
def cache_verify(manifest: Optional[Path] = OptionalManifestOpt, cache: Optional[str] = CacheOpt, as_json: bool = JsonOpt) -> int:
    """Re-read every complete entry and compare its stored checksums."""
    from commandline.cache_views import print_checks
    from pipeline.cache_inventory import locate_cache, verify_groups

    checks = verify_groups(locate_cache(manifest, cache)[0])
    print_checks(checks, as_json)
    return 1 if any(c.problems for c in checks) else 0


@cache_app.command("gc")
@command
def cache_gc(manifest: Optional[Path] = OptionalManifestOpt, cache: Optional[str] = CacheOpt,
             dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed."),
             as_json: bool = JsonOpt) -> None:
    """Remove groups that no current configuration uses (superseded by a later extraction)."""
    from commandline.cache_views import print_gc
    from pipeline.cache_inventory import collect_garbage, locate_cache

    print_gc(collect_garbage(locate_cache(manifest, cache)[0], dry_run=dry_run), as_json)


# ------------------------------------------------------------------------------------ train / eval
@train_app.command("fusion")
@command
def train_fusion(manifest: Path = ManifestOpt, cache: Optional[str] = CacheOpt,
                 out: Path = typer.Option(Path("runs/fusion"), "--out", help="Run folder (config, metrics, checkpoints, plots)."),
                 fusion: Optional[str] = typer.Option(None, "--fusion", help="gated-xattn | late | prefix | eeg-only | classic (band power + DE, logistic regression: the baseline)"),
                 classic_model: Optional[str] = typer.Option(None, "--classic-model", help="With --fusion classic: logreg (default) | svm (RBF, calibrated probabilities)."),
                 modalities: Optional[str] = typer.Option(None, "--modalities", help="Stream names or kinds, e.g. eeg,video,audio,ecg."),
                 extractors: Optional[str] = typer.Option(None, "--extractors", help="Pin cache groups per kind, e.g. video:clip."),
                 teacher: Optional[str] = typer.Option(None, "--teacher", help="Distil the EEG embedding towards e.g. video:vivit, or the VATE teacher: vate:video | vate:audio."),
                 labels: Optional[str] = typer.Option(None, "--labels", help="Labels to predict, e.g. valence,arousal."),
                 task: Optional[str] = typer.Option(None, "--task", help="binary | regression"),
                 split: Optional[str] = typer.Option(None, "--split", help=f"{' | '.join(SPLITS)} (stimulus: leave clips out; subject-stimulus: unseen subjects and clips; within-subject: one model per subject)"),
                 folds: Optional[int] = typer.Option(None, "--folds", help="k of the split (within-subject: k per subject; loso ignores it)."),
                 normalise: Optional[str] = typer.Option(None, "--normalise", help="train (training-side statistics) | subject (each subject's own, test subjects included: transductive) | baseline (each recording's pre-trial baseline)"),
                 max_folds: Optional[int] = typer.Option(None, "--max-folds", help="Run only the first N folds."),
                 epochs: Optional[int] = typer.Option(None, "--epochs"),
                 max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Stop each fold after N optimiser steps."),
                 seed: Optional[int] = typer.Option(None, "--seed"),
                 window_s: Optional[float] = typer.Option(None, "--window-s", help="Training window length, s (no cache rebuild)."),
                 hop_s: Optional[float] = typer.Option(None, "--hop-s", help="Window hop, s."),
                 batch_size: Optional[int] = typer.Option(None, "--batch-size"),
                 lr: Optional[float] = typer.Option(None, "--lr"),
                 grad_accum: Optional[int] = typer.Option(None, "--grad-accum"),
                 grad_checkpoint: Optional[bool] = typer.Option(None, "--grad-checkpoint/--no-grad-checkpoint"),
                 amp: Optional[str] = typer.Option(None, "--amp", help="auto | bf16 | fp16 | off"),
                 device: Optional[str] = typer.Option(None, "--device", help="auto | cpu | cuda | cuda:N"),
                 modality_dropout: Optional[float] = typer.Option(None, "--modality-dropout"),
                 ema_weight: Optional[float] = typer.Option(None, "--ema-weight", help="EMA self-distillation weight (0 = off; decay via --set ema_decay=...)."),
                 eeg_tokenizer: Optional[str] = typer.Option(None, "--eeg-tokenizer", help="conv | patch"),
                 checkpoint_every: Optional[int] = typer.Option(None, "--checkpoint-every", help="Steps between checkpoints."),
                 vram_budget_gb: Optional[float] = typer.Option(None, "--vram-budget-gb", "--vram-budget", help="Before training, measure the first steps' peak memory (CUDA allocator, or tensor accounting on CPU) and refuse if over this many GB."),
                 resume: Optional[bool] = typer.Option(None, "--resume", help="Continue the run in --out exactly where it stopped."),
                 config: Optional[Path] = ConfigOpt, set_: Optional[list[str]] = SetOpt,
                 as_json: bool = JsonOpt) -> None:
    """Train the EEG branch + gated cross-attention fusion on cached features (no encoder is loaded)."""
    # every parameter but the config layers and the output format is a TrainConfig leaf of the
    # same name (option --vram-budget-gb is field vram_budget_gb); from_options nests them
    flags = {k: v for k, v in locals().items() if k not in ("config", "set_", "as_json")}
    from fusion.train_config import TrainConfig
    from pipeline.config_layers import parse_set_options

    cfg = TrainConfig.from_options(read_config_section(config, "train"), flags, parse_set_options(set_))
    from fusion.distributed import DistributedContext
    from fusion.train import train

    ctx = DistributedContext.from_env(os.environ)  # torchrun sets RANK/WORLD_SIZE/LOCAL_RANK
    title = f"training {cfg.model.fusion} on {', '.join(cfg.input_modalities)} ({cfg.data.split})"
    with training_progress(title, enabled=ctx.is_main and not as_json) as progress:
        summary = train(cfg, ctx, progress=progress)
    if not ctx.is_main:  # rank 0 prints the summary
        return
    if as_json:
        print_json({k: v for k, v in summary.items() if k != "table"})
        return
    print_summary(summary)


@app.command("eval")
@command
def eval_run(run: Path = typer.Argument(..., help="A run folder, or one checkpoint (.pt) to re-run on its test side."),
             device: str = typer.Option("auto", "--device", help="For a checkpoint only."),
             permutations: int = typer.Option(1000, "--permutations", help="Label permutations of the test against chance."),
             manifest: Optional[Path] = typer.Option(None, "--manifest", "-m", help="For a checkpoint whose run moved: its manifest (default: the recorded one)."),
             cache: Optional[str] = CacheOpt, as_json: bool = JsonOpt) -> None:
    """A run's test results from its predictions tables: trial level (the headline, with a 95 % subject-bootstrap interval and a permutation p-value against chance), window level, majority-class and chance rows."""
    require_manifest(manifest)
    if run.is_file():
        from fusion.evaluate import evaluate

        result = evaluate(run, device=device, manifest=manifest, cache=cache)
        print_json(result) if as_json else print_summary(result)
        return
    from fusion.results import evaluate_run

    result = evaluate_run(run, n_permutations=permutations)
    print_json(result) if as_json else print_evaluation(result)


@app.command("compare")
@command
def compare(run_a: Path = typer.Argument(..., help="Run folder A."), run_b: Path = typer.Argument(..., help="Run folder B."),
            metric: Optional[str] = typer.Option(None, "--metric", help="Default: balanced_accuracy (binary) or ccc (regression)."),
            level: str = typer.Option("trial", "--level", help="trial | window"),
            as_json: bool = JsonOpt) -> None:
    """Paired per-subject comparison A - B of two runs on the same folds, subjects and labels: mean difference, 95 % bootstrap interval, Wilcoxon signed-rank p-value."""
    from fusion.results import compare_run_folders

    result = compare_run_folders(run_a, run_b, metric, level)
    print_json(result) if as_json else print_comparison(result)


@app.command("report")
@command
def report(runs: list[Path] = typer.Argument(..., help="One or more run folders."),
           output: Path = typer.Option(Path("report.html"), "-o", "--output", help="HTML file to write."),
           permutations: int = typer.Option(1000, "--permutations", help="Label permutations of the test against chance.")) -> None:
    """One self-contained HTML report (no network): configuration, data, curves, trial- and window-level results with intervals, baselines, per-subject results, confusion matrices, and the paired comparison of two or more runs."""
    from fusion.report import write_report

    out.print(f"report: {write_report(list(runs), output, n_permutations=permutations)}")


def main(argv: Optional[list[str]] = None) -> None:
    """Console entry point; tests call ``main([...])``."""
    app(args=argv, prog_name="cli")


if __name__ == "__main__":
    main()
