#!/usr/bin/env bash
# Side-by-side timing of IBM aihwkit's pure-torch inference tile against float torch and
# this repository's analog models: "linear" (compare.py: nn.Linear 256 -> 1024, batch 64,
# against AnalogLinear) or "lstm" (lstm.py: nn.LSTM against aihwkit's AnalogRNN and
# analog.cells.AnalogLSTM with 5-bit NL-ADCs at keyword-spotting and large sizes).
#
# aihwkit is NOT a dependency of the package: this script builds its own virtual
# environment (default /tmp/qrnn-aihwkit-venv, or the first argument), installs
# aihwkit 1.1.0 (the only wheel on PyPI; 1.2.0 is source-only) with torch 2.14.1
# into that venv only, and runs the chosen script there with the repository on PYTHONPATH.
#
# Usage: scripts/aihwkit_bench/run.sh [VENV_DIR] [linear|lstm] [script options, e.g. --repeats N]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${1:-/tmp/qrnn-aihwkit-venv}"
shift || true
python_bin="${PYTHON:-python3.11}"

if [ ! -x "$venv/bin/python" ]; then
    "$python_bin" -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import aihwkit" >/dev/null 2>&1; then
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet ${PIP_EXTRA_ARGS:-} \
        "torch==2.14.1" "aihwkit==1.1.0" numpy scipy
fi
script="compare.py"
case "${1:-}" in
    linear) shift ;;
    lstm) script="lstm.py"; shift ;;
esac
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" "$venv/bin/python" "$here/$script" "$@"
