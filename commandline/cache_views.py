"""Print what ``pipeline.cache_inventory`` found: ``cli cache ls``, ``verify`` and ``gc`` output."""

from __future__ import annotations

import json

from rich.table import Table

from commandline.guard import console, out
from pipeline.cache_inventory import GcResult, GroupCheck, GroupSummary


def print_groups(location: str, rows: list[GroupSummary], as_json: bool) -> None:
    """One line of JSON per group, or a table."""
    if as_json:
        for r in rows:
            out.print(json.dumps(r.to_dict()), soft_wrap=True, highlight=False)
        return
    if not rows:
        out.print(f"{location}: empty (run `cli extract all`)")
        return
    table = Table(title=location)
    for col in ("group", "coverage", "size", "created", "current", "random", "tokens"):
        table.add_column(col, no_wrap=col in ("group", "created"))
    for r in rows:
        tok = r.tokens
        table.add_row(r.group, f"{r.complete}/{r.expected}", f"{r.bytes / 1e6:.2f} MB", str(r.created),
                      "yes" if r.current else "no", "yes" if r.random_init else "no",
                      f"{tok['tokens_before']}x{tok['dim_before']} -> {tok['tokens_after']}x{tok['dim_after']}"
                      if tok else "")
    out.print(table)
    for r in rows:  # lineage of derived groups (e.g. the VATE teacher from the ViViT logits)
        if r.derived_from:
            out.print(f"{r.group} derived from {', '.join(r.derived_from)}", soft_wrap=True, highlight=False)


def print_checks(checks: list[GroupCheck], as_json: bool) -> None:
    """Entries and problems per group."""
    if as_json:
        bad = sum(len(c.problems) for c in checks)
        out.print_json(json.dumps({"ok": bad == 0, "groups": {c.group: {"entries": c.entries, "problems": c.problems}
                                                               for c in checks}}))
        return
    for c in checks:
        status = "[green]ok[/]" if not c.problems else f"[red]{len(c.problems)} problem(s)[/]"
        out.print(f"{c.group}: {c.entries} entries {status}")
        for p in c.problems:
            console.print(f"  - {p}", highlight=False, soft_wrap=True)


def print_gc(result: GcResult, as_json: bool) -> None:
    """The groups removed (or that would be) and the space freed."""
    if as_json:
        out.print_json(json.dumps(result.to_dict()))
        return
    verb = "would remove" if result.dry_run else "removed"
    for path in result.removed:
        out.print(f"{verb} {path}")
    out.print(f"{verb} {len(result.removed)} group(s), {result.bytes / 1e6:.2f} MB; kept {len(result.kept)}")
