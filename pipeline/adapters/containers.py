"""Loading the datasets' container files safely and once: DEAP pickles and MATLAB .mat files.

DEAP's ``sXX.dat`` are Python pickles, and unpickling runs whatever callables the file names. The
restricted unpickler admits only what a pickled dict of numpy arrays needs (array and dtype
reconstruction) and refuses everything else, naming the file. Loaded containers are kept in a small
cache keyed by (path, mtime, size): one subject file serves its 18-40 trials without re-reading
(DREAMER.mat holds every subject in one ~400 MB file).
"""

from __future__ import annotations

import functools
import logging
import pickle
import threading
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ExtractionError

_log = logging.getLogger(__name__)

# (module, name) pairs a pickled dict of numpy arrays needs. Python-2 pickles (DEAP was written with
# cPickle, hence encoding="latin1" as in the DEAP README's loading example) name numpy.core.*; numpy 2
# writes numpy._core.*; protocol-2 pickles from Python 3 wrap bytes in _codecs.encode.
_ALLOWED_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
})


class UnsafePickleError(ExtractionError):
    """A pickle asked for something other than numpy arrays and plain containers."""


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, source: Path) -> None:
        super().__init__(file, encoding="latin1")
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"{self._source}: refused to unpickle '{module}.{name}'. A DEAP .dat file holds only numpy "
            "arrays in a dict; this file is not one (or was tampered with). Re-download it from the DEAP site.")


def load_numpy_pickle(path: Path) -> Any:
    """Unpickle a file that may contain only dicts/lists/tuples/str/numbers and numpy arrays."""
    with open(path, "rb") as f:
        try:
            return _NumpyOnlyUnpickler(f, path).load()
        except UnsafePickleError:
            raise
        except Exception as e:  # truncated or not a pickle at all
            raise ExtractionError(f"{path}: not a readable pickle ({type(e).__name__}: {e}). "
                                  "The file is corrupt or incomplete; re-download it.") from e


def load_mat(path: Path, variables: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Load a .mat file as nested dicts/lists/arrays (scipy for v5/v7, pymatreader for v7.3/HDF5)."""
    import scipy.io

    names = list(variables) if variables else None
    try:
        data = scipy.io.loadmat(path, variable_names=names, simplify_cells=True,
                                verify_compressed_data_integrity=False)
    except NotImplementedError:  # MATLAB v7.3 files are HDF5
        from pymatreader import read_mat

        data = read_mat(str(path), variable_names=names)
    except Exception as e:
        raise ExtractionError(f"{path}: not a readable MATLAB file ({type(e).__name__}: {e}). "
                              "The file is corrupt or incomplete; re-download it.") from e
    missing = [v for v in (variables or ()) if v not in data]
    if missing:
        raise ExtractionError(f"{path}: variable(s) {missing} not in the file (it has "
                              f"{sorted(k for k in data if not k.startswith('__'))}). Is this the right file?")
    return data


def as_list(value: Any) -> list[Any]:
    """A MATLAB cell array (list, object ndarray or a single squeezed element) as a Python list."""
    if isinstance(value, list):
        return value
    if isinstance(value, np.ndarray) and value.dtype == object:
        return list(value.ravel())
    return [value]


_lock = threading.Lock()


@functools.lru_cache(maxsize=2)
def _cached(kind: str, path: str, mtime_ns: int, size: int) -> Any:
    _log.info("loading %s container %s", kind, path)
    if kind == "pickle":
        return load_numpy_pickle(Path(path))
    return load_mat(Path(path))


def load_cached(path: Path, kind: str) -> Any:
    """Load (kind 'pickle' or 'mat') once per file version; threads share one copy."""
    try:
        st = path.stat()
    except OSError as e:
        raise ExtractionError(f"{path}: cannot read ({e.strerror}). Fix the manifest path.") from e
    with _lock:
        return _cached(kind, str(path), st.st_mtime_ns, st.st_size)
