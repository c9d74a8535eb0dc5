"""Print what ``pipeline.cache_inventory`` found: ``cli cache ls``, ``verify`` and ``gc`` output."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from commandline.guard import console, out
from pipeline.cache_inventory import GcResult, GroupCheck, GroupSummary


WIDE = 120  # below this many columns, one group per block instead of an eight-column table


def _rebuild_text(r: GroupSummary) -> str:
    if r.rebuild is None:
        return ""
    return "; ".join(r.rebuild) if r.rebuild else "no"


def _cells(r: GroupSummary) -> dict[str, str]:
    tok = r.tokens
    return {"coverage": f"{r.complete}/{r.expected}", "size": f"{r.bytes / 1e6:.2f} MB", "created": str(r.created),
            "current": "yes" if r.current else "no", "random": "yes" if r.random_init else "no",
            "tokens": f"{tok['tokens_before']}x{tok['dim_before']} -> {tok['tokens_after']}x{tok['dim_after']}"
            if tok else "", "rebuild?": _rebuild_text(r)}


def print_groups(location: str, rows: list[GroupSummary], as_json: bool, to: Console | None = None) -> None:
    """One line of JSON per group, or a table fitted to the terminal: the full table when it is
    wide, else a two-column layout (group, then its fields wrapped) that never truncates a value."""
    to = to or out
    if as_json:
        for r in rows:
            to.print(json.dumps(r.to_dict()), soft_wrap=True, highlight=False)
        return
    if not rows:
        to.print(f"{location}: empty (run `cli extract all`)")
        return
    to.print(f"[bold]{location}[/]", highlight=False, soft_wrap=True)  # a long path wraps, never squeezes the table
    table = Table()
    if to.width >= WIDE:
        names = list(_cells(rows[0]))
        table.add_column("group", no_wrap=True)
        for col in names:
            table.add_column(col, no_wrap=col in ("created", "coverage", "size"), overflow="fold")
        for r in rows:
            table.add_row(r.group, *_cells(r).values())
    else:
        table.add_column("group", overflow="fold", ratio=2)
        table.add_column("details", overflow="fold", ratio=3)
        for r in rows:
            cells = {k: v for k, v in _cells(r).items() if v}
            table.add_row(r.group, "\n".join(f"{k}: {v}" for k, v in cells.items()))
    to.print(table)
    for r in rows:  # lineage of derived groups (e.g. the VATE teacher from the ViViT logits)
        if r.derived_from:
            to.print(f"{r.group} derived from {', '.join(r.derived_from)}", soft_wrap=True, highlight=False)


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
