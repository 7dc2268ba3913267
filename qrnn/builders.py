"""Builders of the quantum entries of the model registry (``experiments.models``).

Each has the registry's signature ``build(input_size, hidden_size, *, backend, num_layers,
seed, **options)`` and returns a body; the noise options (``noise``, ``noise_p1``,
``noise_p2``, ``noise_readout``) become one :class:`~qrnn.noise.NoiseConfig` for
``qiskit.aer``. :func:`check_backend` accepts ``"fast"`` and any installed PennyLane device.
"""

from __future__ import annotations

from qrnn.noise import NoiseConfig

MAX_DEFAULT_QUBITS = 12
"""Largest ``input_size + hidden_size`` taken as the qubit count without an explicit
``n_qubits`` (beyond it a run is almost surely a forgotten ``--hidden-size``)."""


def check_backend(name: str) -> None:
    """A one-line error unless ``name`` is ``"fast"`` or an installed PennyLane device."""
    from qrnn.execute import Backend

    Backend(name)


def _common(input_size: int, hidden_size: int, options: dict) -> dict:
    noise = options.pop("noise", False)
    p1, p2, readout = (options.pop(k, d) for k, d in
                       (("noise_p1", 1e-3), ("noise_p2", 1e-2), ("noise_readout", 2e-2)))
    if noise:
        options["noise"] = NoiseConfig(p1=p1, p2=p2, readout=readout)
    if options.get("n_qubits", 0) is None:
        options.pop("n_qubits")
        if input_size + hidden_size > MAX_DEFAULT_QUBITS:
            raise ValueError(
                f"input_size + hidden_size = {input_size} + {hidden_size} qubits per circuit "
                f"(more than {MAX_DEFAULT_QUBITS}); give a small --hidden-size (the papers "
                "use 3) or set n_qubits explicitly")
    return options


def build_qlstm(input_size, hidden_size, *, backend="fast", num_layers=1, seed=0, **options):
    """:class:`~qrnn.qlstm.QLSTM` from registry options."""
    from qrnn.qlstm import QLSTM

    options = _common(input_size, hidden_size, options)
    return QLSTM(input_size, hidden_size, backend=backend, num_layers=num_layers, seed=seed,
                 **options)


def build_qgru(input_size, hidden_size, *, backend="fast", num_layers=1, seed=0, **options):
    """:class:`~qrnn.qgru.QGRU` from registry options."""
    from qrnn.qgru import QGRU

    options = _common(input_size, hidden_size, options)
    return QGRU(input_size, hidden_size, backend=backend, num_layers=num_layers, seed=seed,
                **options)


def build_qrnn(input_size, hidden_size, *, backend="fast", num_layers=1, seed=0, **options):
    """:class:`~qrnn.qgru.QRNN` from registry options."""
    from qrnn.qgru import QRNN

    options = _common(input_size, hidden_size, options)
    return QRNN(input_size, hidden_size, backend=backend, num_layers=num_layers, seed=seed,
                **options)


def build_qreservoir(input_size, hidden_size, *, backend="fast", num_layers=1, seed=0,
                     **options):
    """:class:`~qrnn.reservoir.QuantumReservoir` from registry options."""
    from qrnn.reservoir import QuantumReservoir

    options = _common(input_size, hidden_size, options)
    return QuantumReservoir(input_size, hidden_size, backend=backend, num_layers=num_layers,
                            seed=seed, **options)


def build_qfwp(input_size, hidden_size, *, backend="fast", num_layers=1, seed=0, **options):
    """:class:`~qrnn.qfwp.QFWP` from registry options (``hidden_size`` is the latent width)."""
    from qrnn.qfwp import QFWP

    options = _common(input_size, hidden_size, options)
    return QFWP(input_size, hidden_size, backend=backend, num_layers=num_layers, seed=seed,
                **options)
