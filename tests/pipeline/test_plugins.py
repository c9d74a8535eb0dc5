"""Extractor plugins: discovered through entry points, isolated when broken."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.extractors import base
from pipeline.extractors.plugins import PLUGIN_GROUP, load_plugins

ROOT = Path(__file__).parents[2]
EXAMPLE = Path(__file__).parent / "plugin_example"


@pytest.fixture
def registry(monkeypatch):
    """A private copy of the registry and failure list: plugins loaded here do not leak into other tests."""
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))
    monkeypatch.setattr(base, "_PLUGIN_FAILURES", {})
    return base


def entry_point(name: str, value: str) -> metadata.EntryPoint:
    return metadata.EntryPoint(name=name, value=value, group=PLUGIN_GROUP)


def test_installed_plugin_is_discovered_and_extracts_through_the_cli(tmp_path):
    """pip-install the example plugin (a distribution folder) onto a temporary path, then extract with it."""
    src, site = tmp_path / "eegavi-rms", tmp_path / "site"
    shutil.copytree(EXAMPLE, src)
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                          "--target", str(site), str(src)], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from pipeline.synth.demo import generate_demo\n"
        "from pipeline.extractors import registered_extractors\n"
        "from cli import main\n"
        "assert registered_extractors()['rms'].__module__ == 'eegavi_rms'\n"
        "m = generate_demo(Path(sys.argv[1]), subjects=1, trials=1, duration_s=4.0, seed=2)\n"
        "main(['extract', 'audio', '--extractor', 'rms', '--set', 'frame_s=1.0', '--manifest', str(m),\n"
        "      '--scheduler', 'sync', '--json'])\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path / "demo")], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["group"].startswith("audio/rms-") and summary["done"] == 1 and summary["failed"] == 0

    from pipeline.cache import FeatureCache

    cache = FeatureCache(str(tmp_path / "demo" / "cache.zarr"))
    (group,) = cache.groups("audio")
    assert group.identity["config"] == {"frame_s": 1.0, "sr": 16000}
    assert group.identity["libraries"]["eegavi-rms"] == "0.1.0"
    (rec_id, stream), _ = next(iter(cache.complete_entries(group.path).items()))
    feats = cache.read_entry(group.path, rec_id, stream)
    assert feats.arrays["frames"].shape[1:] == (1,) and len(feats.times_s) >= 3
    assert (feats.arrays["frames"] < 0).all()                              # dBFS of a real signal


def test_a_plugin_whose_import_raises_is_reported_by_name_and_builtins_still_work(registry, tmp_path, monkeypatch,
                                                                                  caplog):
    (tmp_path / "boom_plugin.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="pipeline.extractors.plugins"):
        load_plugins([entry_point("boom", "boom_plugin:Thing"), entry_point("ghost", "no_such_module_xyz")])
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "plugin 'boom'" in messages and "RuntimeError: boom at import" in messages
    assert "plugin 'ghost'" in messages and "ModuleNotFoundError" in messages
    assert set(base.plugin_failures()) == {"boom", "ghost"}
    assert {"eeg", "ecg", "audio", "vivit", "hubert"} <= set(base.registered_extractors())
    assert base.get_extractor("eeg").name == "eeg"
    with pytest.raises(ConfigError, match=r"'boom' comes from a plugin that failed to load: RuntimeError: boom"):
        base.get_extractor("boom")
    with pytest.raises(ConfigError, match=r"unknown extractor 'nope'\. Known extractors: .*eeg.*"
                                          r"Plugins that failed to load: boom, ghost\."):
        base.get_extractor("nope")


def test_a_plugin_cannot_take_a_builtin_name_or_name_a_non_extractor(registry, tmp_path, monkeypatch):
    (tmp_path / "clash_plugin.py").write_text(
        "from dataclasses import dataclass\n"
        "from pipeline.extractors.base import BaseExtractor\n"
        "@dataclass(frozen=True)\nclass C:\n    pass\n"
        "class Fake(BaseExtractor):\n    name = 'eeg'\n    modality = 'eeg'\n    config_type = C\n"
        "def helper():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    eeg = base.get_extractor("eeg")
    load_plugins([entry_point("fake-eeg", "clash_plugin:Fake"), entry_point("helper", "clash_plugin:helper")])
    assert base.get_extractor("eeg") is eeg
    failures = base.plugin_failures()
    assert "already registered" in failures["fake-eeg"] and "name an extractor class" in failures["helper"]


def test_a_module_entry_point_registers_through_the_decorator(registry, tmp_path, monkeypatch):
    (tmp_path / "deco_plugin.py").write_text(
        "from dataclasses import dataclass\n"
        "from pipeline.extractors.base import BaseExtractor, register_extractor\n"
        "@dataclass(frozen=True)\nclass C:\n    pass\n"
        "@register_extractor\nclass Deco(BaseExtractor):\n    name = 'deco'\n    modality = 'audio'\n    config_type = C\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    load_plugins([entry_point("deco", "deco_plugin")])
    assert base.get_extractor("deco").__name__ == "Deco" and not base.plugin_failures()
