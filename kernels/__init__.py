"""Recurrent-cell kernels, each held to a plain reference.

- :mod:`kernels.reference`: per-step PyTorch loops (LSTM, GRU, Elman, linear recurrence),
  the definition every other path is tested against; :mod:`kernels.scan`: the log-space
  parallel scan of minGRU/minLSTM in plain torch.
- :mod:`kernels.fused`: the same functions with a BPTT backward, dispatching to the Triton
  kernels (:mod:`kernels.triton_cells`, CUDA, imported only when used) or to the compiled CPU
  fast path (:mod:`kernels.cpu`, built on first use by :mod:`kernels.cpu_build`).
- :mod:`kernels.bench`: ``run(quick)``, fused vs ``torch.nn`` vs reference timings.
"""
