"""``cli extract ...``: build an extractor's config from its options, run it with a progress bar, print.

Option names are config field names: a command's parameter ``notch_hz`` (option ``--notch-hz``)
is ``EEGConfig.notch_hz``, as are the YAML key and ``--set notch_hz=...``. So every parameter of
an extract command that is not one of ``RUN_PARAMETERS`` is passed to the extractor's config by
its own name, and ``pipeline.config_layers.layer_config`` refuses a name the config lacks.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from commandline.config_file import read_config_section
from commandline.guard import console, out
from pipeline.config_layers import layer_config, parse_set_options
from pipeline.manifest import load_manifest
from pipeline.modalities import DEFAULT_EXTRACTORS, default_extractor

# Parameters of extract commands that say how and where to run, not what to compute. `extractor`
# and `encoder` choose the registry entry; every other parameter is a config field.
RUN_PARAMETERS = frozenset({"manifest", "cache", "config", "set_", "scheduler", "workers", "processes",
                            "recording", "as_json", "extractor", "encoder", "head", "features",
                            "teacher"})


def command_line() -> str:
    """The command as typed, recorded in the group so a missing group names its rebuild command."""
    return "cli " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def run_extraction(name: str, manifest_path: Path, cache: str | None, config: Any, scheduler: str | None,
                   workers: int, recordings: list[str] | None, as_json: bool, processes: bool = False) -> int:
    """Run one extractor over the manifest with a progress bar; print the summary; 1 if any failed."""
    from pipeline.run import RunOptions, extract

    # Structure errors stop everything; a missing file fails only its recording (failure log).
    m = load_manifest(manifest_path, check_files=False)
    opts = RunOptions(cache=cache or str(m.cache), scheduler=scheduler, workers=workers, processes=processes,
                      recordings=tuple(recordings) if recordings else None, command=command_line())
    columns = [TextColumn(f"[bold]{name}[/]"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn()]
    t0 = time.perf_counter()
    with Progress(*columns, console=console, transient=False, disable=as_json) as bar:
        task = bar.add_task(name, total=None, rate="")

        def progress(done: int, total: int, res: dict) -> None:
            rate = done / max(time.perf_counter() - t0, 1e-9)
            bar.update(task, completed=done, total=total, rate=f"{rate:.2f} rec/s")
        summary = extract(m, name, config, opts, progress=progress)
    if as_json:
        out.print_json(json.dumps({k: v for k, v in summary.to_dict().items() if k != "failures"}
                                  | {"failures": [{k: v for k, v in f.items() if k != "traceback"} for f in summary.failures]}))
    else:
        out.print(f"{name}: {summary.done} extracted, {summary.skipped} cached, {summary.failed} failed "
                  f"in {summary.seconds:.1f} s -> {summary.group}")
        for f in summary.failures:
            console.print(f"  [red]failed[/] {f['recording']}/{f['stream']}: {f['message']}", highlight=False, soft_wrap=True)
        if summary.failure_log:
            console.print(f"  failure log: {summary.failure_log}")
    return 1 if summary.failed else 0


def extract_from_options(name: str | None, section: str, params: dict[str, Any]) -> int:
    """``cli extract <modality>``: config = defaults < ``--config`` section < options < ``--set``.

    ``name`` is the extractor (None: the modality's default); ``section`` is the modality, or the
    config section of an alternative extractor family (``speech`` for ``extract audio --encoder``).
    ``params`` are the command's parameters by name (its ``locals()``, so the command body must bind
    no other name first): the run options, and one parameter per config field, None when not given.
    A command may carry options of two extractor families (audio: paralinguistic and speech); an
    option that the chosen extractor's config lacks is refused when given and ignored when not.
    """
    import dataclasses

    from pipeline.errors import ConfigError
    from pipeline.extractors.base import get_extractor

    name = name or default_extractor(section)
    config_type = get_extractor(name).config_type
    fields = {f.name for f in dataclasses.fields(config_type)}
    flags = {k: v for k, v in params.items() if k not in RUN_PARAMETERS}
    stray = sorted(k for k, v in flags.items() if k not in fields and v is not None)
    if stray:
        raise ConfigError(f"--{stray[0].replace('_', '-')} does not apply to extractor '{name}' "
                          f"(its options: {', '.join(sorted(fields))}). Drop it or choose another extractor.")
    flags = {k: v for k, v in flags.items() if k in fields}
    cfg = layer_config(config_type, read_config_section(params["config"], section), flags,
                       parse_set_options(params["set_"]))
    return run_extraction(name, params["manifest"], params["cache"], cfg, params["scheduler"], params["workers"],
                          params["recording"], params["as_json"], params["processes"])


def eeg_extractor_name(features: str) -> str:
    """``cli extract eeg --features signal|bands``: the continuous EEG or band DE per window."""
    from pipeline.errors import ConfigError

    names = {"signal": "eeg", "bands": "eeg-bands"}
    if features not in names:
        raise ConfigError(f"--features '{features}': choose {' or '.join(names)}.")
    return names[features]


def video_extractor_name(encoder: str | None, head: str) -> str:
    """The registered extractor of an encoder's output head (vivit + logits -> vivit_logits)."""
    from pipeline.extractors.video_extractor import video_extractor

    return video_extractor(encoder or default_extractor("video"), head).name


def route_set_options(sets: dict[str, str], plan: dict[str, str]) -> dict[str, dict[str, str]]:
    """``cli extract all --set``: each KEY=VALUE to the extractors it belongs to.

    ``plan`` maps modality -> extractor name. A key prefixed by a modality or extractor name
    (``eeg.notch_hz=60``, ``vivit.batch_size=4``) goes to that one only; an unprefixed key goes to
    every planned extractor whose config has that field (``seed=1``), and one that none has is an error.
    """
    import dataclasses

    from pipeline.errors import ConfigError
    from pipeline.extractors.base import get_extractor

    fields = {m: {f.name for f in dataclasses.fields(get_extractor(n).config_type)} for m, n in plan.items()}
    routed: dict[str, dict[str, str]] = {m: {} for m in plan}
    for key, value in sets.items():
        head, _, rest = key.partition(".")
        targets = [m for m, n in plan.items() if rest and head in (m, n)]
        if targets:
            routed[targets[0]][rest] = value
            continue
        owners = [m for m in plan if key.replace("-", "_") in fields[m]]
        if not owners:
            known = ", ".join(f"{m}.{f}" for m in plan for f in sorted(fields[m]))
            raise ConfigError(f"--set {key}: no extractor of this run ({', '.join(plan.values())}) has that field. "
                              f"Prefix it with a modality, e.g. --set eeg.notch_hz=60; fields: {known}.")
        for m in owners:
            routed[m][key] = value
    return routed


def extract_every_modality(manifest_path: Path, cache: str | None, overrides: dict[str, str | None],
                           video_flags: dict[str, Any], config: Path | None, scheduler: str | None,
                           workers: int, processes: bool, as_json: bool, sets: list[str] | None = None,
                           recordings: list[str] | None = None) -> int:
    """``cli extract all``: each modality the manifest has, with its default extractor unless
    ``overrides`` names another (None: the default); ``sets`` (``--set``) are routed by
    ``route_set_options``; ``recordings`` limits every stage to those ids. Returns the worst exit code."""
    from pipeline.extractors.base import get_extractor

    m = load_manifest(manifest_path, check_files=False)
    present = {s.kind for r in m.recordings for s in r.streams.values()}
    plan = {modality: overrides.get(modality) or default for modality, default in DEFAULT_EXTRACTORS.items()
            if modality in present}
    routed = route_set_options(parse_set_options(sets), plan)  # every --set checked before any extraction
    configs = {modality: layer_config(get_extractor(name).config_type, read_config_section(config, modality),
                                      video_flags if modality == "video" else {}, routed[modality])
               for modality, name in plan.items()}
    worst = 0
    for modality, name in plan.items():
        worst = max(worst, run_extraction(name, manifest_path, cache, configs[modality], scheduler, workers,
                                          recordings, as_json, processes))
    return worst
