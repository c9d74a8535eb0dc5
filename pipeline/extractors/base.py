"""The extractor contract and its registry.

An extractor turns one stream of one recording into time-indexed arrays. It knows nothing of the
cache, fingerprints, parallelism or failure logs: the runner (``pipeline.run``) owns those. Adding
an extractor means one module, one ``@register_extractor`` class and one frozen config dataclass.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Protocol, runtime_checkable

from pipeline.errors import ConfigError
from pipeline.features import FeatureArrays  # noqa: F401  (re-exported: part of the contract)
from pipeline.manifest import Recording, Stream


@runtime_checkable
class Extractor(Protocol):
    """One frozen feature extractor. Instances are built from their config by the runner."""

    name: ClassVar[str]          # registry key, e.g. "eeg", "vivit"; also the cache group prefix
    modality: ClassVar[str]      # manifest stream kind it reads: eeg | ecg | video | audio
    version: ClassVar[str]       # bump whenever the numbers it writes change
    config_type: ClassVar[type]  # a frozen dataclass; its asdict() goes into the fingerprint
    libraries: ClassVar[tuple[str, ...]]  # distributions whose versions change the numbers

    config: Any

    def weights_identity(self) -> dict[str, Any]:
        """Identity of model weights ({} when none): hub id + revision or file hashes, random_init."""
        ...

    def extract(self, recording: Recording, stream: Stream) -> FeatureArrays:
        """Compute features for one stream of one recording. Raise ExtractionError on bad input."""
        ...


class BaseExtractor:
    """Convenience base: stores the config and has no weights."""

    name: ClassVar[str] = ""
    modality: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    config_type: ClassVar[type] = object
    libraries: ClassVar[tuple[str, ...]] = ("numpy",)

    def __init__(self, config: Any = None) -> None:
        if config is None:
            config = self.config_type()
        if not isinstance(config, self.config_type):
            raise ConfigError(f"extractor '{self.name}' expects a {self.config_type.__name__}, got {type(config).__name__}")
        self.config = config

    def weights_identity(self) -> dict[str, Any]:
        return {}

    def extract(self, recording: Recording, stream: Stream) -> FeatureArrays:  # pragma: no cover
        raise NotImplementedError


_REGISTRY: dict[str, type] = {}
_PLUGIN_FAILURES: dict[str, str] = {}   # entry-point name -> why it did not load (see plugins.py)

# Extractors that need a package eegavi does not install, and how to get it: named in the error.
OPTIONAL_EXTRACTORS = {"egemaps": "pip install opensmile"}


def register_extractor(cls: type) -> type:
    """Class decorator: add an extractor to the registry; duplicate names are an error."""
    if not getattr(cls, "name", ""):
        raise ConfigError(f"{cls.__name__} has no 'name'")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ConfigError(f"extractor name '{cls.name}' is already registered by {_REGISTRY[cls.name].__name__}")
    if not dataclasses.is_dataclass(cls.config_type):
        raise ConfigError(f"{cls.__name__}.config_type must be a frozen dataclass")
    _REGISTRY[cls.name] = cls
    return cls


def get_extractor(name: str) -> type:
    """The extractor class registered under ``name``; raises with the known names otherwise."""

    try:
        return _REGISTRY[name]
    except KeyError:
        if name in OPTIONAL_EXTRACTORS:
            raise ConfigError(f"extractor '{name}' needs an optional package that is not installed: "
                              f"{OPTIONAL_EXTRACTORS[name]}.") from None
        if name in _PLUGIN_FAILURES:
            raise ConfigError(f"extractor '{name}' comes from a plugin that failed to load: {_PLUGIN_FAILURES[name]}. "
                              "Fix or reinstall that package.") from None
        broken = f" Plugins that failed to load: {', '.join(sorted(_PLUGIN_FAILURES))}." if _PLUGIN_FAILURES else ""
        raise ConfigError(f"unknown extractor '{name}'. Known extractors: {', '.join(sorted(_REGISTRY))}.{broken}") from None


def registered_extractors() -> dict[str, type]:
    """All registered extractors by name."""

    return dict(_REGISTRY)


def record_plugin_failure(name: str, why: str) -> None:
    """Remember that plugin ``name`` did not load, so a lookup of it can say why."""
    _PLUGIN_FAILURES[name] = why


def plugin_failures() -> dict[str, str]:
    """Extractor plugins that failed to load: entry-point name -> reason."""
    return dict(_PLUGIN_FAILURES)
