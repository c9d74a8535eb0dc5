"""The one runner for every extractor: plan, skip what is cached, map over Dask, log failures.

The extractor only maps a recording stream to arrays. The runner owns the rest: the group
fingerprint, resume (complete entries whose input hash still matches are skipped), parallelism
(Dask: an in-process local cluster by default, a ``distributed`` scheduler when given an address),
the failure log, and the summary whose ``failed`` count becomes the exit code.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from pipeline.cache import FeatureCache
from pipeline.claims import EntryClaims
from pipeline.current import current_groups, mark_current  # noqa: F401  (current_groups re-exported)
from pipeline.derived import LINEAGE_KEY, lineage, plan_derived, resolve_upstream, upstream_identity
from pipeline.errors import PipelineError
from pipeline.extractors.base import get_extractor
from pipeline.fingerprint import InputHasher, canonical_json, group_identity
from pipeline.inputs import entry_matches, hash_memo_path, input_files, stream_key, stream_settings
from pipeline.manifest import Manifest, Recording, Stream

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """How to run an extraction (not what to compute: that is the extractor's config)."""

    cache: str
    scheduler: str | None = None      # None: local in-process cluster; "sync": no Dask; else tcp://HOST:PORT
    workers: int = 2                  # local workers (threads, or processes with ``processes``)
    processes: bool = False           # local cluster of worker processes (GIL-bound extractors scale)
    recordings: tuple[str, ...] | None = None
    command: str = ""                 # the CLI command that built the group, shown when it is missing


@dataclass
class ExtractSummary:
    """What one extraction did; ``failed > 0`` means a non-zero exit."""

    extractor: str
    group: str
    done: int = 0
    skipped: int = 0
    claimed_elsewhere: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)
    failure_log: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Task:
    recording: Recording
    stream: Stream
    input_hash: str       # content hash of the input files; with stream_key(stream), the entry's key
    sources: dict[str, tuple[str, str] | None] | None = None   # derived extractors: upstream entries read


ProgressFn = Callable[[int, int, dict[str, Any]], None]


def failure_log_path(cache_location: str) -> Path:
    """The failure log sits next to the cache: ``cache.zarr`` -> ``cache.failures.jsonl``."""
    p = Path(cache_location)
    return p.with_name(p.name.removesuffix(".zarr") + ".failures.jsonl")


def weights_location(config: Any) -> str | None:
    """Absolute path of a local ``weights`` folder, recorded (outside the fingerprint) so that
    ``explain_rebuild`` can look for a relative ``--weights`` path from any working directory."""
    weights = getattr(config, "weights", None)
    if not weights:
        return None
    path = Path(weights).expanduser()
    return str(path.resolve()) if path.exists() else None


def build_extractor(name: str, config: Any = None):
    """Instantiate a registered extractor (cheap: models load lazily on first extract)."""
    cls = get_extractor(name)
    return cls(config if config is not None else cls.config_type())


def plan_identity(extractor) -> dict[str, Any]:
    """The readable identity whose hash is the group fingerprint."""
    return group_identity(extractor.name, extractor.version, extractor.config,
                          extractor.weights_identity(), extractor.libraries)


# ----------------------------------------------------------------------- worker side
_WORKER_EXTRACTORS: dict[str, Any] = {}
_WORKER_LOCK = threading.Lock()
_WARM: set[str] = set()
_FIRST_CALL_LOCK = threading.Lock()


def _worker_extractor(name: str, config: Any) -> tuple[Any, str]:
    """One extractor instance (one model) per worker process, shared by its threads, and its key."""
    key = name + canonical_json(asdict(config))
    with _WORKER_LOCK:
        if key not in _WORKER_EXTRACTORS:
            _WORKER_EXTRACTORS[key] = build_extractor(name, config)
        return _WORKER_EXTRACTORS[key], key


def _run_extractor(name: str, config: Any, task: Task, cache_location: str):
    """Call the extractor; its first call in this process runs alone, so the lazy imports and model
    loads inside it never race between threads (later calls run concurrently). A derived extractor
    gets the upstream cache entries instead of a raw stream (``extract_derived``)."""
    extractor, key = _worker_extractor(name, config)

    def call():
        if task.sources is not None:
            return extractor.extract_derived(task.recording, task.stream, FeatureCache(cache_location), task.sources)
        return extractor.extract(task.recording, task.stream)

    if key in _WARM:
        return call()
    with _FIRST_CALL_LOCK:
        if key not in _WARM:
            try:
                return call()
            finally:
                _WARM.add(key)
    return call()


def extract_one(name: str, config: Any, task: Task, cache_location: str, group_path: str) -> dict[str, Any]:
    """Run one recording stream and write its entry. Never raises: failures come back as data."""
    t0 = time.perf_counter()
    rec, stream = task.recording, task.stream
    base = {"recording": rec.id, "stream": stream.name, "stage": name, "file": str(stream.path)}
    claims = EntryClaims(cache_location)
    if not claims.acquire(group_path, rec.id, stream.name):
        return {**base, "status": "claimed"}
    try:
        cache = FeatureCache(cache_location)
        mark = cache.entry_mark(group_path, rec.id, stream.name)
        # derived entries are keyed by their upstream entries alone (no stream settings of their own)
        done = (mark is not None and mark.get("input_hash") == task.input_hash if task.sources is not None
                else entry_matches(mark, task.input_hash, stream))
        if done:
            return {**base, "status": "claimed"}  # another process finished it while we were queued
        feats = _run_extractor(name, config, task, cache_location)
        extra = ({LINEAGE_KEY: {r: list(s) if s else None for r, s in task.sources.items()}}
                 if task.sources is not None else
                 {"input_files": [str(p) for p in input_files(stream)], "stream_key": stream_key(stream),
                  "stream_settings": stream_settings(stream)})
        cache.write_entry(group_path, rec.id, stream.name, feats, task.input_hash, extra=extra)
        return {**base, "status": "done", "seconds": time.perf_counter() - t0}
    except PipelineError as e:
        return {**base, "status": "failed", "error_type": type(e).__name__, "message": str(e)}
    except Exception as e:  # an extractor bug must not abort the other recordings either
        return {**base, "status": "failed", "error_type": type(e).__name__,
                "message": f"{stream.path}: unexpected {type(e).__name__}: {e}",
                "traceback": traceback.format_exc(limit=5)}
    finally:
        claims.release(group_path, rec.id, stream.name)


# ----------------------------------------------------------------------- driver side
def plan_tasks(manifest: Manifest, modality: str, cache: FeatureCache, group_path: str,
               only: tuple[str, ...] | None) -> tuple[list[Task], int, list[dict[str, Any]]]:
    """Tasks still to run, the number skipped (cached and unchanged), and up-front failures."""
    hasher = InputHasher(hash_memo_path(cache.location))
    complete = cache.complete_entries(group_path)
    tasks: list[Task] = []
    skipped = 0
    failures: list[dict[str, Any]] = []
    for rec in manifest.recordings:
        if only and rec.id not in only:
            continue
        for stream in rec.streams_of(modality):
            try:
                digest = hasher.files_hash(input_files(stream))
            except OSError as e:
                failures.append({"recording": rec.id, "stream": stream.name, "stage": "input", "status": "failed",
                                 "file": str(stream.path), "error_type": "ExtractionError",
                                 "message": f"{stream.path}: cannot read input ({e.strerror or e}). "
                                            "Fix the path in the manifest or remove the modality."})
                continue
            if entry_matches(complete.get((rec.id, stream.name)), digest, stream):
                skipped += 1
            else:
                tasks.append(Task(rec, stream, digest))
    hasher.save()
    return tasks, skipped, failures


def _plan(extractor: Any, manifest: Manifest, cache: FeatureCache, group_path: str, upstream: dict,
          only: tuple[str, ...] | None) -> tuple[list[Task], int, list[dict[str, Any]]]:
    """``plan_tasks`` over the manifest's files, or, for a derived extractor, over its upstream entries."""
    specs = getattr(extractor, "upstream", ())
    if not specs:
        return plan_tasks(manifest, extractor.modality, cache, group_path, only)
    planned, skipped, failures = plan_derived(manifest, cache, group_path, specs, upstream, extractor.pairing, only)
    return [Task(t.recording, t.stream, t.input_hash, t.sources) for t in planned], skipped, failures


def _append_failures(path: Path, failures: list[dict[str, Any]]) -> None:
    if not failures:
        return
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with open(path, "a") as f:
        for row in failures:
            f.write(json.dumps({"time": stamp, **{k: v for k, v in row.items() if k != "status"}}) + "\n")


def _dask_client(opts: RunOptions):
    """A client of the given scheduler, or of a new local cluster (threads, or processes)."""
    from dask.distributed import Client, LocalCluster

    for noisy in ("distributed", "distributed.scheduler", "distributed.worker", "distributed.core",
                  "distributed.http.proxy", "distributed.nanny"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if opts.scheduler:
        return Client(opts.scheduler, timeout="30s"), None
    if opts.processes:
        cluster = LocalCluster(processes=True, n_workers=max(1, opts.workers), threads_per_worker=1,
                               host="127.0.0.1", dashboard_address=":0")
    else:
        cluster = LocalCluster(processes=False, n_workers=1, threads_per_worker=max(1, opts.workers),
                               dashboard_address=":0")
    return Client(cluster), cluster


def _map_tasks(name: str, config: Any, tasks: list[Task], opts: RunOptions, group_path: str,
               on_result: Callable[[dict[str, Any]], None]) -> None:
    if opts.scheduler == "sync" or not tasks:
        for t in tasks:
            on_result(extract_one(name, config, t, opts.cache, group_path))
        return
    from dask.distributed import as_completed

    client, cluster = _dask_client(opts)
    try:
        futures = [client.submit(extract_one, name, config, t, opts.cache, group_path, pure=False) for t in tasks]
        for fut in as_completed(futures):
            on_result(fut.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def extract(manifest: Manifest, name: str, config: Any = None, opts: RunOptions | None = None,
            progress: ProgressFn | None = None) -> ExtractSummary:
    """Extract one modality for every recording of the manifest into the cache.

    Validates that the extractor can run (e.g. weights present) before any work; skips complete,
    unchanged entries; runs the rest on Dask; logs failures next to the cache.
    """
    t0 = time.perf_counter()
    opts = opts or RunOptions(cache=str(manifest.cache))
    extractor = build_extractor(name, config)
    check = getattr(extractor, "check_ready", None)
    if check is not None:
        check()  # raises WeightsError/ConfigError before any recording is touched
    identity = plan_identity(extractor)
    describe = getattr(extractor, "describe", None)
    cache = FeatureCache(opts.cache)
    specs = getattr(extractor, "upstream", ())
    upstream = resolve_upstream(cache, specs, f"extractor '{name}'") if specs else {}
    derived_attrs = {LINEAGE_KEY: lineage(upstream)} if specs else {}
    if specs:  # a derived group: the upstream groups' fingerprints are part of what it is
        identity = {**identity, "upstream": upstream_identity(upstream)}
    weights = identity["weights"]
    group = cache.create_group(extractor.modality, extractor.name, identity, {
        # a derived group made from randomly initialised upstream encoders is random too
        "random_init": (bool(weights.get("random_init", False)) if isinstance(weights, dict) else False)
        or any(g.random_init for g in upstream.values()),
        "describe": describe() if describe else {}, "command": opts.command,
        "weights_location": weights_location(extractor.config), **derived_attrs})
    tasks, skipped, failures = _plan(extractor, manifest, cache, group.path, upstream, opts.recordings)
    summary = ExtractSummary(extractor=name, group=group.path, skipped=skipped)
    total = len(tasks)
    expected = skipped + total + len(failures)

    def on_result(res: dict[str, Any]) -> None:
        if res["status"] == "done":
            summary.done += 1
        elif res["status"] == "claimed":
            summary.claimed_elsewhere += 1
        else:
            failures.append(res)
            _log.warning("%s", res["message"])
        if progress:
            progress(summary.done + summary.claimed_elsewhere + len(failures) - pre_failed, total, res)

    pre_failed = len(failures)
    _map_tasks(name, extractor.config, tasks, opts, group.path, on_result)
    summary.failed = len(failures)
    summary.failures = failures
    if failures:
        log_path = failure_log_path(opts.cache)
        _append_failures(log_path, failures)
        summary.failure_log = str(log_path)
    cache.update_group_attrs(group.path, expected=expected, last_run=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    mark_current(cache, group)
    summary.seconds = time.perf_counter() - t0
    return summary
