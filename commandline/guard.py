"""One error guard for every command: a ``PipelineError`` is one red line and exit 2.

A command body returns its exit code (None or 0 for success), so "failed recordings mean a
non-zero exit" is a ``return 1`` instead of a ``typer.Exit`` in every command. ``--debug`` lets
the exception through with its traceback.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

import typer
from rich.console import Console

from pipeline.errors import PipelineError

console = Console(stderr=True)   # messages, progress bars, errors
out = Console()                  # results (tables, JSON) that users pipe


class Settings:
    """Global flags set by the app's callback (``--debug``)."""

    debug: bool = False


def fail(error: BaseException, code: int = 2) -> None:
    """Print ``error`` as one line and exit with ``code`` (re-raise it under ``--debug``)."""
    if Settings.debug:
        raise error
    msg = str(error).strip() or type(error).__name__
    console.print(f"[bold red]error:[/] {msg}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def command(fn: Callable[..., int | None]) -> Callable[..., None]:
    """Decorate a command body: its return value is the exit code; library errors become one line."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            code = fn(*args, **kwargs)
        except PipelineError as e:
            fail(e)
        except KeyboardInterrupt:
            console.print("interrupted")
            raise typer.Exit(130) from None
        if code:
            raise typer.Exit(code)

    return run


def require_manifest(path: Path | None) -> None:
    """A ``--manifest`` that was given must exist: say so (exit 2) before any other work."""
    from pipeline.errors import ManifestError

    if path is not None and not Path(path).is_file():
        raise ManifestError(["file not found. Pass --manifest PATH (cli synth demo or cli manifest from "
                             "writes one)."], str(path))
