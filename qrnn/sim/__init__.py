"""The fast batched statevector simulator: pure torch functions, state in and state out.

- :mod:`qrnn.sim.gates`: gate matrices, gate application, CNOT-layer permutations.
- :mod:`qrnn.sim.encode`: input encodings as product states.
- :mod:`qrnn.sim.measure`: probabilities, <Z>, seeded sampling.
- :mod:`qrnn.sim.block`: :class:`CompiledBlock`, a :class:`~qrnn.circuit.BlockSpec` with its
  weights fused once per forward pass.
- :mod:`qrnn.sim.pauli`: the Pauli-basis readout of the ``"pauli"`` method (tables, transfer
  matrices, Bloch vectors).
- :mod:`qrnn.sim.fused`: the unitary and Pauli-readout builds and the per-step kernels as
  single autograd nodes with hand-derived gradients; ``path=`` chooses compiled or torch code.
- :mod:`qrnn.sim.pauli_kernel`: the ``"pauli"`` method's compiled C (``pauli.c`` next to it,
  package data, built on first use by :class:`kernels.cpu_build.Library`).
- :mod:`qrnn.sim.pauli_nodes`: the two-layer readout build, alone and fused with a block's
  first step, as autograd nodes over the compiled kernels.
- :mod:`qrnn.sim.state_kernel`: the ``"gates"`` method's compiled state vectors for shared
  weights (``state.c``), forward and adjoint backward in one node.
- :mod:`qrnn.sim.tape`: simulate an arbitrary PennyLane tape (used by the ``qrnn.fast`` device).
"""

from qrnn.sim.block import CompiledBlock, check_shots, run_block

__all__ = ["CompiledBlock", "check_shots", "run_block"]
