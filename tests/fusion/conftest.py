"""Fusion test fixtures.

Torch runs on one thread: on the shared 2-core CI machine, OpenMP threads that spin-wait against
other processes make tiny models 10-20x slower than a single thread. The stand-in extractors of
``tests/fusion/synthetic.py`` are registered only while a fusion test module runs.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module", autouse=True)
def _stand_in_extractors():
    from tests.fusion import synthetic

    synthetic.register_test_extractors()
    yield
    synthetic.unregister_test_extractors()
