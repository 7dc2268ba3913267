"""Analog tests run torch on one thread: their tensors are small, and on a shared machine
the second thread's synchronisation made a per-step cell loop ten times slower."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
