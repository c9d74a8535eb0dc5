"""Extractor plugins: third-party packages add extractors through the ``eegavi.extractors`` entry points.

A package declares, in its ``pyproject.toml``::

    [project.entry-points."eegavi.extractors"]
    rms = "eegavi_rms:RmsExtractor"

and, once installed, ``rms`` is an extractor like the built-in ones (``cli extract audio --extractor
rms``). The entry point may name a class (registered here) or a module whose import registers its
extractors with ``@register_extractor``. A plugin that fails to import or to register is logged by
name and remembered, so an unknown-extractor error can say why; it never stops the built-ins.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Iterable
from importlib import metadata

from pipeline.extractors.base import record_plugin_failure, register_extractor

_log = logging.getLogger(__name__)

PLUGIN_GROUP = "eegavi.extractors"


def _distribution(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else "an unknown distribution"


def load_plugin(ep: metadata.EntryPoint) -> None:
    """Import one entry point and register what it names; any failure is logged and recorded, not raised."""
    try:
        target = ep.load()
        if isinstance(target, type):
            register_extractor(target)  # refuses a name taken by a built-in or another plugin
        elif not isinstance(target, types.ModuleType):
            raise TypeError(f"'{ep.value}' is a {type(target).__name__}; name an extractor class, or a module "
                            "that registers its extractors with @register_extractor")
    except Exception as e:  # noqa: BLE001  (a plugin may raise anything on import; none may break eegavi)
        why = f"{e.__class__.__name__}: {e}"
        record_plugin_failure(ep.name, f"{why} (entry point '{ep.value}' of {_distribution(ep)})")
        _log.warning("extractor plugin '%s' (%s, from %s) failed to load and is skipped: %s. The built-in "
                     "extractors are unaffected; fix or uninstall that package.", ep.name, ep.value,
                     _distribution(ep), why)


def load_plugins(entry_points: Iterable[metadata.EntryPoint] | None = None) -> None:
    """Load every installed extractor plugin (or the given entry points), each in isolation."""
    eps = metadata.entry_points(group=PLUGIN_GROUP) if entry_points is None else entry_points
    for ep in eps:
        load_plugin(ep)
