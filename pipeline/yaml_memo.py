"""Parse a large YAML file once: its parsed content is kept beside it, keyed by its bytes.

Why: every ``cli`` command starts by reading the manifest, and a full DEAP manifest (1,280
recordings, 550 KB) takes 0.3-0.7 s to parse even with libyaml, most of a no-op ``cli extract``
rerun. The memo is a hidden file next to the YAML (``.NAME.parsed``) holding a BLAKE2 digest of the
YAML's bytes and the parsed value in ``marshal`` form; a changed file, another Python, or an
unreadable or unwritable memo just means parsing again. Small files (< 64 KB) are always parsed.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

# libyaml's safe loader when PyYAML was built with it (the wheels are): the same documents and
# types as yaml.safe_load, parsed several times faster.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MEMO_MIN_BYTES = 64 * 1024
_FORMAT = b"eegavi-yaml-memo-1:" + f"{sys.version_info[0]}.{sys.version_info[1]}:{yaml.__version__}:".encode()


def memo_path(path: Path) -> Path:
    """The hidden memo file beside ``path``."""
    return path.with_name(f".{path.name}.parsed")


def load_yaml(path: Path) -> Any:
    """``yaml.safe_load`` of ``path``, from the memo when the file's bytes are unchanged."""
    data = path.read_bytes()
    if len(data) < MEMO_MIN_BYTES:
        return yaml.load(data, Loader=SAFE_LOADER)
    key = _FORMAT + hashlib.blake2b(data, digest_size=20).hexdigest().encode() + b"\n"
    memo = memo_path(path)
    try:
        blob = memo.read_bytes()
        if blob.startswith(key):
            return marshal.loads(blob[len(key):])
    except (OSError, ValueError, EOFError, TypeError):
        pass
    value = yaml.load(data, Loader=SAFE_LOADER)
    _write(memo, key, value)
    return value


def _write(memo: Path, key: bytes, value: Any) -> None:
    """Write the memo atomically; a value marshal cannot hold (dates) or a read-only folder: no memo."""
    try:
        body = marshal.dumps(value)
    except ValueError:
        return
    try:
        fd, tmp = tempfile.mkstemp(dir=memo.parent, prefix=memo.name, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(key + body)
        os.chmod(tmp, 0o644)                  # mkstemp makes 0600; the memo is as readable as the YAML
        os.replace(tmp, memo)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
