"""``cli manifest ...`` output: the check's problems or summary, and an adapter's report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from commandline.guard import console, out


def print_manifest_check(manifest: Path, as_json: bool) -> int:
    """Validate ``manifest`` and print every problem at once (1) or its summary (0)."""
    from pipeline.cache_inventory import streams_per_modality
    from pipeline.errors import ManifestError
    from pipeline.manifest import load_manifest

    try:
        m = load_manifest(manifest)
    except ManifestError as e:
        if as_json:
            out.print_json(json.dumps({"ok": False, "problems": e.problems}))
        else:
            console.print(f"[bold red]{e.source}: {len(e.problems)} problem(s)[/]")
            for p in e.problems:
                console.print(f"  - {p}", highlight=False, soft_wrap=True)
        return 1
    kinds = streams_per_modality(m)
    summary = {"ok": True, "recordings": len(m.recordings), "subjects": len(m.subjects()), "streams": kinds,
               "cache": str(m.cache)}
    if as_json:
        out.print_json(json.dumps(summary))
    else:
        out.print(f"{manifest}: OK, {summary['recordings']} recordings, {summary['subjects']} subjects, streams {kinds}")
    return 0


def print_adapter_report(report: Any, output: Path, as_json: bool) -> None:
    """What ``cli manifest from`` wrote, skipped and excluded, and the adapter's notes."""
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    else:
        out.print(f"wrote {output}: {report.recordings} recordings; {len(report.skipped)} skipped, "
                  f"{len(report.excluded)} excluded by the dataset's own documentation")
        for s in report.skipped:
            console.print(f"  - skipped: {s}", highlight=False, soft_wrap=True)
        for s in report.excluded:
            console.print(f"  - excluded: {s}", highlight=False, soft_wrap=True)
        for s in report.notes:
            console.print(f"  - note: {s}", highlight=False, soft_wrap=True)
