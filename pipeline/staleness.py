"""Why today's ``cli extract`` would rebuild a cached group (for ``cli cache ls``).

This is stage one's question: it compares a group's recorded identity (extractor version, config,
weights, library versions) with what the installed extractor would produce today, so it imports
the extractor registry. Stage two never asks it (see ``pipeline.resolve``).
"""

from __future__ import annotations

import dataclasses
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline.cache import FeatureCache, GroupInfo
from pipeline.current import current_groups
from pipeline.derived import LINEAGE_KEY, lineage_changes
from pipeline.errors import PipelineError
from pipeline.extractors import get_extractor
from pipeline.fingerprint import canonical_json, group_identity


def explain_rebuild(cache: FeatureCache, group: GroupInfo, config: Any = None) -> list[str]:
    """Reasons today's ``cli extract`` would build a new group instead of reusing ``group``; [] if none.

    ``config`` is the extractor config the user would run today (default: the recorded one, so
    only code, weights and library changes count). Reasons read like ``transformers 5.24 -> 5.30``
    or ``weights ./myvivit not found``.
    """
    stored = group.identity
    reasons: list[str] = []
    current = current_groups(cache).get(group.modality, {}).get(group.extractor)
    if current is not None and current != group.path:
        reasons.append(f"superseded by {current}")
    try:
        cls = get_extractor(group.extractor)
    except PipelineError as e:
        return reasons + [f"extractor '{group.extractor}' is not available here ({e})"]
    if str(cls.version) != str(stored.get("version")):
        reasons.append(f"extractor version {stored.get('version')} -> {cls.version}")
    recorded = _recorded_config(cls, stored.get("config", {}), reasons)
    if recorded is None:
        return reasons
    today = config if config is not None else recorded
    reasons += _config_changes(stored.get("config", {}), today, cls)
    if group.attrs.get(LINEAGE_KEY):
        # a derived group: its upstream groups are its inputs; its checkpoint is passed on each
        # `cli extract teacher` (only its sha256 is recorded), so it is compared there, not here
        reasons += lineage_changes(cache, group)
    else:
        reasons += _weights_changes(cls, today, group, stored.get("weights"))
    # the instance's libraries: an option may add one (video's face_crop adds OpenCV)
    reasons += library_changes(stored.get("libraries", {}), cls(today).libraries)
    return reasons


def _recorded_config(cls: type, stored: dict[str, Any], reasons: list[str]) -> Any:
    """The recorded config as today's config class, or None (reason appended) when its fields changed."""
    fields = {f.name for f in dataclasses.fields(cls.config_type)}
    unknown = sorted(set(stored) - fields)
    if unknown:
        reasons.append(f"config fields {unknown} no longer exist in {cls.config_type.__name__}")
        return None
    try:  # JSON turned tuples into lists; runtime-only fields take their defaults
        return cls.config_type(**{k: tuple(v) if isinstance(v, list) else v for k, v in stored.items()})
    except (TypeError, ValueError, PipelineError) as e:
        reasons.append(f"recorded config is no longer valid ({e})")
        return None


def _config_changes(stored: dict[str, Any], config: Any, cls: type) -> list[str]:
    """``name old -> new`` per config field that differs (fields new in today's code count too)."""
    now = group_identity(cls.name, cls.version, config, {}, ())["config"]
    return [f"config {k} {stored.get(k)!r} -> {now.get(k)!r}"
            for k in sorted(set(stored) | set(now)) if canonical_json(stored.get(k)) != canonical_json(now.get(k))]


def _locate_weights(config: Any, group: GroupInfo) -> Any:
    """A relative ``weights`` path is looked up where extraction found it (recorded absolute location)."""
    weights = getattr(config, "weights", None)
    location = group.attrs.get("weights_location")
    if weights and location and not Path(weights).expanduser().is_absolute() and not Path(weights).exists():
        return dataclasses.replace(config, weights=location)
    return config


def _weights_changes(cls: type, config: Any, group: GroupInfo, stored: Any) -> list[str]:
    located = _locate_weights(config, group)
    try:
        now = cls(located).weights_identity()
    except PipelineError as e:
        weights, where = getattr(config, "weights", None), getattr(located, "weights", None)
        if weights and not Path(where).expanduser().exists():
            return [f"weights {weights} not found" + (f" (looked in {where})" if where != weights else "")]
        return [f"weights not available ({e})"]
    if canonical_json(now) == canonical_json(stored):
        return []
    if isinstance(now, dict) and isinstance(stored, dict) and "files" in now and "files" in stored:
        changed = sorted(n for n in set(now["files"]) | set(stored["files"])
                         if now["files"].get(n) != stored["files"].get(n))
        return [f"weights files changed ({', '.join(changed)})"]
    return [f"weights changed ({_short(stored)} -> {_short(now)})"]


def library_changes(stored: dict[str, str], libraries: tuple[str, ...] | list[str]) -> list[str]:
    """``name old -> new`` for each library whose installed version differs from the recorded one."""
    out = []
    for name in sorted(set(stored) | set(libraries)):
        try:
            now = metadata.version(name) if name in libraries else "not used"
        except metadata.PackageNotFoundError:
            now = "not installed"
        if stored.get(name) != now:
            out.append(f"{name} {stored.get(name, 'not recorded')} -> {now}")
    return out


def _short(identity: Any) -> str:
    text = canonical_json(identity)
    return text if len(text) <= 80 else text[:77] + "..."
