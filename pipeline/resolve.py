"""Find the cache group stage two must read, from the cache alone.

Staleness belongs to extraction, provenance to training. ``cli extract`` decides which group of a
modality is current (it knows today's weights and library versions) and records it
(``pipeline.current``). Stage two reads that record and the group's own attributes (recorded
fingerprint, config, completion marks), so a cache copied to a machine without the encoders'
weights or libraries trains there. This module therefore never imports an extractor, a video or
audio library, or weights (an import contract keeps it so); why today's ``cli extract`` would
rebuild a group is ``pipeline.staleness``'s question.
"""

from __future__ import annotations

import logging

from pipeline.cache import FeatureCache, GroupInfo
from pipeline.current import current_pointers
from pipeline.errors import CacheError
from pipeline.fingerprint import fingerprint
from pipeline.manifest import Manifest
from pipeline.modalities import NOT_DEFAULT_INPUTS, default_extractor

_log = logging.getLogger(__name__)


def build_command(modality: str, extractor: str | None, group: GroupInfo | None = None) -> str:
    """The command that (re)builds a group: the recorded one, else the default for the modality."""
    if group is not None and group.attrs.get("command"):
        return group.attrs["command"]
    if modality == "video":
        enc = extractor or default_extractor("video")
        return f"cli extract video --encoder {enc}"
    return f"cli extract {modality}"


def read_current_group(cache: FeatureCache, modality: str, extractor: str | None = None,
                       manifest: Manifest | None = None, streams: list[str] | None = None) -> GroupInfo:
    """The group ``cli extract`` last marked current for a modality, checked against the cache only.

    Checks that the group exists, that its recorded fingerprint is the hash of its recorded identity
    (and of the pointer), and, given a manifest, that every expected recording stream has a complete
    entry. Never recomputes a fingerprint from today's extractor. Raises CacheError naming the
    ``cli extract ...`` command that builds or finishes the group.
    """
    pointers = current_pointers(cache).get(modality, {})
    if extractor is None:  # windowed features and logits are read only when asked for by name
        pointers = {name: p for name, p in pointers.items() if name not in NOT_DEFAULT_INPUTS}
    if extractor is not None:
        pointer = pointers.get(extractor)
    else:
        pointer = next(iter(pointers.values()), None)
        if len(pointers) > 1:
            _log.info("%s: several extractors cached (%s); using the most recent, '%s'",
                      modality, ", ".join(pointers), pointer["group"])
    if pointer is None:
        raise CacheError(f"{cache.location}: no {modality} features cached"
                         f"{f' for extractor {extractor!r}' if extractor else ''}. "
                         f"Build them with `{build_command(modality, extractor)}`.")
    try:
        group = cache.group(pointer["group"])
    except CacheError:
        raise CacheError(f"{cache.location}: the current {modality} group '{pointer['group']}' is gone "
                         f"(removed by hand?). Rebuild it with `{build_command(modality, extractor)}`.") from None
    _check_recorded_fingerprint(cache, group, pointer)
    if manifest is not None:
        check_complete(cache, group, manifest, streams)
    return group


def _check_recorded_fingerprint(cache: FeatureCache, group: GroupInfo, pointer: dict) -> None:
    """The group's attributes must still describe what was extracted (edited or torn metadata fails)."""
    recorded = {group.fingerprint, fingerprint(group.identity), group.path.rsplit("-", 1)[-1]}
    if pointer.get("fingerprint") is not None:
        recorded.add(pointer["fingerprint"])
    if len(recorded) != 1:
        raise CacheError(f"{cache.location}: {group.path}: its recorded fingerprint does not match its recorded "
                         "identity (attributes edited or damaged). Rebuild it with "
                         f"`{build_command(group.modality, group.extractor, group)}`.")


def check_complete(cache: FeatureCache, group: GroupInfo, manifest: Manifest,
                   streams: list[str] | None = None, recordings: set[str] | None = None) -> None:
    """CacheError unless every recording stream of the manifest (of ``streams``, of ``recordings``)
    has a complete entry."""
    expected = {(r.id, s.name) for r in manifest.recordings for s in r.streams_of(group.modality)
                if (streams is None or s.name in streams) and (recordings is None or r.id in recordings)}
    missing = expected - set(cache.complete_entries(group.path))
    if missing:
        example = ", ".join(f"{r}/{s}" for r, s in sorted(missing)[:3])
        raise CacheError(f"{cache.location}: {group.path} is incomplete: {len(missing)} of {len(expected)} "
                         f"recording streams missing (e.g. {example}). "
                         f"Finish it with `{build_command(group.modality, group.extractor, group)}` "
                         "and check the failure log.")


# The name stage two used before the cache-only reader; same arguments, same result.
resolve_group = read_current_group
