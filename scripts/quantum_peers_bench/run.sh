#!/usr/bin/env bash
# Side-by-side timing of the fast path (qrnn's fused QLSTM and CompiledBlock) against
# PennyLane default.qubit with the JAX interface under jax.jit (broadcast and vmap),
# tensorcircuit-ng (JAX backend, jit + vmap + value_and_grad) and Catalyst qjit, on the
# 4/8/12-qubit QLSTM blocks (2 layers, batch 32, forward + backward) and one QLSTM(1, 3)
# training step; see compare.py for what is measured and how.
#
# None of the peers is a dependency of the package: this script builds its own virtual
# environment (default /tmp/qrnn-quantum-peers-venv, or the first argument) that sees the
# system site-packages (torch and the package's own dependencies), installs the peers into
# that venv only, and runs compare.py there with the repository on PYTHONPATH.
#
# Usage: scripts/quantum_peers_bench/run.sh [VENV_DIR] [compare.py options]
#   e.g. run.sh /tmp/venv --sizes 4,8 --repeats 10 --default-qubit --json /tmp/peers.json
# The jit compiles take minutes (the QLSTM step under one jit: several minutes per peer).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${1:-/tmp/qrnn-quantum-peers-venv}"
shift || true
python_bin="${PYTHON:-python3.11}"

if [ ! -x "$venv/bin/python" ]; then
    "$python_bin" -m venv --system-site-packages "$venv"
fi
if ! "$venv/bin/python" -c "import jax, catalyst, tensorcircuit" >/dev/null 2>&1; then
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet ${PIP_EXTRA_ARGS:-} \
        "pennylane==0.45.1" "pennylane-catalyst==0.15.0" "tensorcircuit-ng==1.10.0"
fi
PYTHONPATH="$repo:$here${PYTHONPATH:+:$PYTHONPATH}" "$venv/bin/python" "$here/compare.py" "$@"
