"""The documentation stays true: every command it shows parses, every page is reachable.

(a) Each fenced line of README.md and docs/**/*.md that runs the command line (``cli ...``,
``python cli.py ...``, ``torchrun ... cli.py ...``) is checked against the real Typer app without
running it: the sub-command must exist, every ``--option`` must exist on it, an option that takes a
value must get one, and there may be no more positional words than the command has arguments.
Values are not checked, so placeholders such as ``ROOT`` or ``RUN_DIR`` are fine.
(b) Every docs page is linked from README.md, and every relative link points to a file (and
heading) that exists. ``docs/_incoming/`` is a staging area for other branches' text and is left out.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import typer

import cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
STAGING = DOCS / "_incoming"
LAUNCHERS = {"python", "python3", "torchrun", ".venv/bin/python"}
SEPARATORS = {"&&", "||", ";"}


def doc_pages() -> list[Path]:
    """README.md and every docs page except the staging area."""
    pages = sorted(p for p in DOCS.rglob("*.md") if STAGING not in p.parents)
    return [ROOT / "README.md", *pages]


def fenced_lines(text: str) -> list[tuple[int, str]]:
    """(line number, logical line) inside ``` / ~~~ fences; backslash continuations are joined."""
    lines: list[tuple[int, str]] = []
    fence: str | None = None
    pending: tuple[int, str] | None = None
    for no, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        marker = re.match(r"^(`{3,}|~{3,})", stripped)
        if marker and (fence is None or stripped.startswith(fence)):
            fence = marker.group(1) if fence is None else None
            pending = None
            continue
        if fence is None:
            continue
        start, body = pending if pending else (no, "")
        if stripped.endswith("\\"):
            pending = (start, body + stripped[:-1].rstrip() + " ")
            continue
        pending = None
        lines.append((start, body + stripped))
    return lines


def cli_invocations(line: str) -> list[list[str]]:
    """The argument lists after ``cli`` / ``cli.py`` of each command in one shell line."""
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError:
        return []
    commands: list[list[str]] = [[]]
    for tok in tokens:
        if tok in SEPARATORS:
            commands.append([])
        else:
            commands[-1].append(tok)
    found = []
    for words in commands:
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):  # VAR=value prefixes
            words = words[1:]
        if not words:
            continue
        if words[0] == "cli":
            found.append(words[1:])
        elif words[0] in LAUNCHERS:
            at = next((i for i, w in enumerate(words) if w.endswith("cli.py")), None)
            if at is not None:
                found.append(words[at + 1:])
    return found


# Typer ships its own copy of click (typer._click), so commands and parameters are told apart by
# duck typing, not by isinstance checks against the click package.
HELP = object()


def _is_group(command: Any) -> bool:
    return isinstance(getattr(command, "commands", None), dict)


def _options(command: Any) -> dict[str, Any]:
    opts: dict[str, Any] = {"--help": HELP}
    for p in command.params:
        if p.param_type_name == "option":
            for name in [*p.opts, *p.secondary_opts]:
                opts[name] = p
    return opts


def _check_options(command: Any, path: str, words: list[str], leaf: bool) -> list[str]:
    """Consume options of ``command`` from ``words``; return the positional words left over.

    A group stops at its first positional word (the sub-command); a leaf takes them all.
    """
    opts = _options(command)
    positional: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            positional.extend(words[i + 1:])
            break
        if word.startswith("-") and len(word) > 1 and not re.fullmatch(r"-[\d.]+", word):
            name, eq, _ = word.partition("=")
            param = opts.get(name)
            if param is None:
                known = ", ".join(sorted(o for o in opts if o.startswith("--")))
                raise ValueError(f"'{path}' has no option '{name}' (it has: {known})")
            takes_value = param is not HELP and not (param.is_flag or param.count)
            if takes_value and not eq:
                if i + 1 >= len(words):
                    raise ValueError(f"'{path}': option '{name}' needs a value")
                i += 1
            i += 1
            continue
        if not leaf:
            return words[i:]
        positional.append(word)
        i += 1
    return positional


def check_command(app_command: Any, words: list[str]) -> None:
    """Raise ValueError when ``cli <words>`` names an unknown command or option (nothing runs)."""
    command, path = app_command, "cli"
    while _is_group(command):
        rest = _check_options(command, path, words, leaf=False)
        if not rest:
            if "--help" in words:
                return
            raise ValueError(f"'{path}' needs a sub-command ({', '.join(sorted(command.commands))})")
        name, words = rest[0], rest[1:]
        sub = command.commands.get(name)
        if sub is None:
            raise ValueError(f"'{path}' has no sub-command '{name}' (it has: {', '.join(sorted(command.commands))})")
        command, path = sub, f"{path} {name}"
    positional = _check_options(command, path, words, leaf=True)
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    if any(p.nargs == -1 for p in arguments):
        return
    allowed = sum(p.nargs for p in arguments)
    if len(positional) > allowed:
        raise ValueError(f"'{path}' takes {allowed} argument(s), got {positional}")


@pytest.fixture(scope="module")
def app_command() -> Any:
    return typer.main.get_command(cli.app)


def documented_commands() -> list[tuple[str, list[str]]]:
    found = []
    for page in doc_pages():
        for no, line in fenced_lines(page.read_text(encoding="utf-8")):
            for words in cli_invocations(line):
                found.append((f"{page.relative_to(ROOT)}:{no}: {line}", words))
    return found


def test_documented_commands_exist(app_command: Any) -> None:
    commands = documented_commands()
    # The tour alone shows more than ten; an empty harvest would mean the extraction broke.
    assert len(commands) >= 30, f"only {len(commands)} cli lines found in the docs"
    problems = []
    for where, words in commands:
        try:
            check_command(app_command, words)
        except ValueError as e:
            problems.append(f"{where}\n    -> {e}")
    assert not problems, "documented commands that would not parse:\n" + "\n".join(problems)


def test_every_leaf_command_is_documented(app_command: Any) -> None:
    """Each sub-command of the app appears in at least one documented line."""
    shown = {tuple(w[:2]) for _, w in documented_commands()} | {(w[0],) for _, w in documented_commands() if w}
    missing = []
    for name, cmd in app_command.commands.items():
        subs = cmd.commands if _is_group(cmd) else {}
        missing += [f"cli {name} {s}" for s in subs if (name, s) not in shown]
        if not subs and (name,) not in shown:
            missing.append(f"cli {name}")
    assert not missing, f"commands no docs page shows: {missing}"


@pytest.mark.parametrize("line, message", [
    ("cli extract eggs -m data_manifest.yaml", "no sub-command 'eggs'"),
    ("cli extrct eeg", "no sub-command 'extrct'"),
    ("cli extract video --encoderr vivit", "no option '--encoderr'"),
    ("cli cache ls --dry-run", "no option '--dry-run'"),
    ("cli train fusion --out", "needs a value"),
    ("cli eval runs/demo runs/other", "takes 1 argument"),
    ("cli --debugg cache ls", "no option '--debugg'"),
    ("cli manifest", "needs a sub-command"),
    ("python cli.py train fusion --windows-s 4", "no option '--windows-s'"),
    ("torchrun --nproc_per_node 2 cli.py train fusoin", "no sub-command 'fusoin'"),
    ("cli manifest check -m a.yaml && cli extract eeg --sfrq 128", "no option '--sfrq'"),
])
def test_misspelt_commands_are_caught(app_command: Any, line: str, message: str) -> None:
    invocations = cli_invocations(line)
    assert invocations, line
    with pytest.raises(ValueError, match=re.escape(message)):
        for words in invocations:
            check_command(app_command, words)


@pytest.mark.parametrize("line", [
    "cli extract video --encoder vivit --random-init   # the demo has no weights",
    "cli --debug manifest from deap /data/DEAP -o deap.yaml",
    "cli train fusion --set ema_decay=0.996 --grad-checkpoint --amp=bf16",
    "cli extract --help",
    "EEGAVI_DATA=x python cli.py eval RUN_DIR --json",
])
def test_valid_commands_pass(app_command: Any, line: str) -> None:
    invocations = cli_invocations(line)
    assert invocations, line
    for words in invocations:
        check_command(app_command, words)


def test_fenced_lines_join_continuations_and_skip_prose() -> None:
    text = "cli not-in-a-fence\n```bash\ncli train fusion \\\n  --epochs 2\n```\n"
    assert fenced_lines(text) == [(3, "cli train fusion --epochs 2")]


# ------------------------------------------------------------------------------------ links
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _prose(text: str) -> str:
    """The text without fenced blocks and inline code, where brackets are not links."""
    text = re.sub(r"^(`{3,}|~{3,}).*?^\1", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def links(page: Path) -> list[str]:
    return LINK.findall(_prose(page.read_text(encoding="utf-8")))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"^(`{3,}|~{3,}).*?^\1", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    return {slug(m) for m in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, flags=re.M)}


def test_every_docs_page_is_linked_from_readme() -> None:
    readme = ROOT / "README.md"
    linked = {(readme.parent / t.split("#")[0]).resolve() for t in links(readme) if not re.match(r"\w+:", t)}
    pages = [p for p in doc_pages()[1:]]
    assert len(pages) >= 10, "the docs/ pages are missing"
    unlinked = [str(p.relative_to(ROOT)) for p in pages if p.resolve() not in linked]
    assert not unlinked, f"docs pages README.md does not link: {unlinked}"


def test_relative_links_point_to_existing_files_and_headings() -> None:
    broken = []
    for page in doc_pages():
        for target in links(page):
            if re.match(r"\w[\w+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            dest = (page.parent / file_part).resolve() if file_part else page
            where = f"{page.relative_to(ROOT)} -> {target}"
            if not dest.exists():
                broken.append(f"{where}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{where}: no heading with anchor '#{anchor}'")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_readme_is_a_front_door() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move reference material to docs/"
    head = "\n".join(lines[:15])
    assert "make demo" in head and "make test" in head, "README.md must open with the two set-up commands"


def test_slug_matches_github() -> None:
    assert slug("Crash safety and concurrency") == "crash-safety-and-concurrency"
    assert slug("ECG: heartbeats (`cli extract ecg`)") == "ecg-heartbeats-cli-extract-ecg"
