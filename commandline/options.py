"""The options every command group shares, declared once (Typer reads them as parameter defaults)."""

from __future__ import annotations

from pathlib import Path

import typer

ManifestOpt = typer.Option(Path("data_manifest.yaml"), "--manifest", "-m", help="Manifest YAML.")
# cache commands also work on a cache alone (--cache); a manifest that is named must exist
OptionalManifestOpt = typer.Option(None, "--manifest", "-m", help="Manifest YAML (default: data_manifest.yaml if present).")
CacheOpt = typer.Option(None, "--cache", help="Cache store (default: the manifest's 'cache', else cache.zarr beside it).")
JsonOpt = typer.Option(False, "--json", help="Print a machine-readable JSON summary.")
ConfigOpt = typer.Option(None, "--config", help="YAML with a section per extractor/trainer; flags override it.")
SetOpt = typer.Option(None, "--set", help="Override any config field: --set KEY=VALUE (repeatable).")
SchedulerOpt = typer.Option(None, "--scheduler", help="Dask scheduler address (tcp://HOST:PORT); 'sync' runs inline; default: a local cluster.")
WorkersOpt = typer.Option(2, "--workers", help="Workers of the local Dask cluster (threads; processes with --processes).")
ProcessesOpt = typer.Option(False, "--processes", help="Local Dask workers are processes (for GIL-bound extractors).")
RecordingsOpt = typer.Option(None, "--recording", help="Only these recording ids (repeatable).")
