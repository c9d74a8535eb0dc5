"""Find the cache group stage two must read, and refuse a stale or incomplete one.

Training never guesses: it takes the group that the last ``cli extract`` marked current for the
modality, recomputes that group's fingerprint from its stored config with today's library versions
and weights, and compares. Any difference, or missing entries, stops training with the command
that rebuilds the group.
"""

from __future__ import annotations

import logging

from pipeline.cache import FeatureCache, GroupInfo
from pipeline.errors import CacheError
from pipeline.fingerprint import fingerprint, group_identity
from pipeline.manifest import Manifest

_log = logging.getLogger(__name__)

DEFAULT_EXTRACTORS = {"eeg": "eeg", "ecg": "ecg", "audio": "audio", "video": "vivit"}


def build_command(modality: str, extractor: str | None, group: GroupInfo | None = None) -> str:
    """The command that (re)builds a group: the recorded one, else the default for the modality."""
    if group is not None and group.attrs.get("command"):
        return group.attrs["command"]
    if modality == "video":
        enc = extractor or DEFAULT_EXTRACTORS["video"]
        return f"cli extract video --encoder {enc}"
    return f"cli extract {modality}"


def recompute_fingerprint(group: GroupInfo) -> tuple[str, list[str]]:
    """Fingerprint the group would have today, and what differs from its stored identity."""
    from pipeline.extractors.base import get_extractor

    stored = group.identity
    cls = get_extractor(group.extractor)
    try:
        config = cls.config_type(**_tuples(stored["config"]))  # runtime-only fields take their defaults
    except TypeError as e:
        return "", [f"config fields changed ({e})"]
    extractor = cls(config)
    now = group_identity(cls.name, cls.version, config, extractor.weights_identity(), cls.libraries)
    changed = [k for k in ("version", "config", "weights", "libraries") if now[k] != stored.get(k)]
    detail = []
    for k in changed:
        if k == "libraries":
            diff = {n: f"{stored['libraries'].get(n)} -> {v}" for n, v in now["libraries"].items()
                    if stored["libraries"].get(n) != v}
            detail.append(f"library versions changed {diff}")
        else:
            detail.append(f"{k} changed")
    return fingerprint(now), detail


def _tuples(cfg: dict) -> dict:
    """JSON turned tuples into lists; frozen configs want tuples back for hashability."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()}


def _default_input(extractor: str) -> bool:
    from pipeline.extractors.base import get_extractor

    try:
        return bool(getattr(get_extractor(extractor), "fusion_input", True))
    except Exception:  # an extractor unknown today: let the stale check below name the problem
        return True


def resolve_group(cache: FeatureCache, modality: str, extractor: str | None = None,
                  manifest: Manifest | None = None, streams: list[str] | None = None) -> GroupInfo:
    """The current, fresh and complete group for a modality; CacheError naming the fix otherwise."""
    from pipeline.run import current_groups

    current = current_groups(cache).get(modality, {})
    if extractor is None:  # windowed feature groups (eeg-bands) are read only when asked for by name
        current = {name: path for name, path in current.items() if _default_input(name)}
    if extractor is not None:
        path = current.get(extractor)
    else:
        path = next(iter(current.values()), None)
        if len(current) > 1:
            _log.info("%s: several extractors cached (%s); using the most recent, '%s'",
                      modality, ", ".join(current), path)
    if path is None:
        raise CacheError(f"{cache.location}: no {modality} features cached"
                         f"{f' for extractor {extractor!r}' if extractor else ''}. "
                         f"Build them with `{build_command(modality, extractor)}`.")
    group = cache.group(path)
    fp_now, changed = recompute_fingerprint(group)
    if fp_now != group.fingerprint:
        raise CacheError(f"{cache.location}: {path} is stale ({'; '.join(changed) or 'fingerprint changed'}). "
                         f"Rebuild with `{build_command(modality, group.extractor, group)}`.")
    if manifest is not None:
        expected = {(r.id, s.name) for r in manifest.recordings for s in r.streams_of(modality)
                    if streams is None or s.name in streams}
        missing = expected - set(cache.complete_entries(path))
        if missing:
            example = ", ".join(f"{r}/{s}" for r, s in sorted(missing)[:3])
            raise CacheError(f"{cache.location}: {path} is incomplete: {len(missing)} of {len(expected)} "
                             f"recording streams missing (e.g. {example}). "
                             f"Finish it with `{build_command(modality, group.extractor, group)}` "
                             "and check the failure log.")
    return group
