"""The command line's shared parts: the @command guard, and extract options named as config fields."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

import cli
import commandline.extraction as extraction
from commandline.guard import Settings, command
from pipeline.errors import CacheError
from pipeline.extractors.base import get_extractor
from pipeline.modalities import DEFAULT_EXTRACTORS


def _app(body) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @command
    def run(value: int = typer.Option(0, "--value")) -> int | None:
        return body(value)

    @app.command("noop")
    def noop() -> None:  # a second command, so Typer keeps command names
        pass

    return app


@pytest.mark.parametrize("returned, code", [(None, 0), (0, 0), (1, 1), (3, 3)])
def test_command_return_value_is_the_exit_code(returned, code) -> None:
    result = CliRunner().invoke(_app(lambda v: returned), ["run"])
    assert result.exit_code == code


def test_command_turns_a_pipeline_error_into_one_line_and_exit_2() -> None:
    def body(value: int) -> None:
        raise CacheError(f"c.zarr: group 'eeg/x' not found (value {value}). Run `cli cache ls`.")

    result = CliRunner().invoke(_app(body), ["run", "--value", "7"])
    assert result.exit_code == 2
    assert "error: c.zarr: group 'eeg/x' not found (value 7)" in result.output
    assert "Traceback" not in result.output


def test_command_lets_other_errors_and_debug_through(monkeypatch) -> None:
    def body(value: int) -> None:
        raise CacheError("broken")

    monkeypatch.setattr(Settings, "debug", True)
    result = CliRunner().invoke(_app(body), ["run"])
    assert isinstance(result.exception, CacheError)      # --debug: the traceback, not one line
    monkeypatch.setattr(Settings, "debug", False)
    result = CliRunner().invoke(_app(lambda v: 1 / 0), ["run"])
    assert isinstance(result.exception, ZeroDivisionError)  # a bug is never dressed as a user error


def test_command_keyboard_interrupt_exits_130() -> None:
    def body(value: int) -> None:
        raise KeyboardInterrupt

    result = CliRunner().invoke(_app(body), ["run"])
    assert result.exit_code == 130 and "interrupted" in result.output


# ------------------------------------------------------------------ options are config fields
def _extract_commands() -> dict[str, click.Command]:
    group = typer.main.get_command(cli.app).commands["extract"]
    return {name: cmd for name, cmd in group.commands.items() if name != "all"}


# The extractors each command can run: `extract audio` serves the paralinguistic extractor and,
# with --encoder, the speech encoders, so its options are the union of both configs' fields.
EXTRACTORS = {"eeg": ["eeg", "eeg-bands"], "ecg": ["ecg"], "audio": ["audio", "hubert", "wav2vec2"],
              "video": ["vivit", "clip", "timesformer", "vivit_logits"], "teacher": ["vate"]}
# Commands that build derived groups from other cache groups: `extract all` does not run them.
DERIVED_COMMANDS = {"teacher"}


@pytest.mark.parametrize("modality", sorted(EXTRACTORS))
def test_every_extract_option_is_a_config_field_or_a_run_option(modality: str) -> None:
    cmd = _extract_commands()[modality]
    fields = {f.name for name in EXTRACTORS[modality] for f in dataclasses.fields(get_extractor(name).config_type)}
    for param in cmd.params:
        if param.name in extraction.RUN_PARAMETERS:
            continue
        # the parameter is a field, and one of its option names is the field's own words
        assert param.name in fields, f"extract {modality}: parameter '{param.name}' is no config field of {EXTRACTORS[modality]}"
        words = {opt.lstrip("-").replace("-", "_") for opt in param.opts}
        assert param.name in words, f"extract {modality}: none of {param.opts} spells '{param.name}'"


def test_an_option_of_the_other_extractor_family_is_refused(tmp_path) -> None:
    """`extract audio --layer 3` without --encoder: the option belongs to the speech encoders."""
    from typer.testing import CliRunner

    result = CliRunner().invoke(cli.app, ["extract", "audio", "--manifest", str(tmp_path / "m.yaml"), "--layer", "3"])
    assert result.exit_code == 2 and "--layer does not apply to extractor 'audio'" in result.output


def test_the_extract_commands_cover_every_modality() -> None:
    assert set(_extract_commands()) == set(EXTRACTORS)
    assert set(EXTRACTORS) - DERIVED_COMMANDS == set(DEFAULT_EXTRACTORS)


@pytest.fixture
def captured_config(monkeypatch) -> list:
    """Run extract commands up to the runner; keep the config each one built."""
    seen: list = []

    def fake_run(name, manifest_path, cache, config, *rest) -> int:
        seen.append((name, config))
        return 0
    monkeypatch.setattr(extraction, "run_extraction", fake_run)
    return seen


@pytest.mark.parametrize("args", [["--notch", "60,120"], ["--notch-hz", "60,120"], ["--set", "notch_hz=60,120"]])
def test_documented_short_option_and_field_name_set_the_same_field(args, captured_config, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.app, ["extract", "eeg", "--manifest", str(tmp_path / "m.yaml"), *args])
    assert result.exit_code == 0, result.output
    (name, cfg), = captured_config
    assert name == "eeg" and cfg.notch_hz == (60.0, 120.0)


def test_config_file_uses_the_same_words(captured_config, tmp_path: Path) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text("audio:\n  f0_floor_hz: 75\n")
    result = CliRunner().invoke(cli.app, ["extract", "audio", "--config", str(conf), "--f0-ceiling", "400"])
    assert result.exit_code == 0, result.output
    (name, cfg), = captured_config
    assert (name, cfg.f0_floor_hz, cfg.f0_ceiling_hz) == ("audio", 75.0, 400.0)


def test_default_extractor_comes_from_the_one_table(captured_config) -> None:
    result = CliRunner().invoke(cli.app, ["extract", "video", "--random-init"])
    assert result.exit_code == 0, result.output
    assert captured_config[0][0] == DEFAULT_EXTRACTORS["video"]


def test_broken_config_yaml_is_one_line_naming_the_file(tmp_path: Path) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text("eeg: [unclosed\n")
    result = CliRunner().invoke(cli.app, ["extract", "eeg", "--config", str(conf)])
    assert result.exit_code == 2 and f"{conf}: not valid YAML" in " ".join(result.output.split())
