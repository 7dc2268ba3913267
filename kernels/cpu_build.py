"""Compile-on-first-use of the CPU fast paths: plain C, ``cc``, loaded with :mod:`ctypes`.

Why this design: the C files include no torch headers, so the first use compiles them in a
few seconds with the system C compiler, where a ``torch.utils.cpp_extension`` build takes
tens of seconds and needs ``ninja``; nothing is built at ``pip install`` time (no build
isolation pulling another torch), and no GPU toolchain is involved. The C lives in real
``.c`` files shipped as package data next to the Python they accelerate
(:func:`source_file` reads one and expands its local includes). The dense recurrent matmul
calls the BLAS that torch itself exports (``sgemm_``/``dgemm_`` and MKL's packed
``sgemm_pack``/``sgemm_compute`` from ``libtorch_cpu``), so it runs at MKL speed and follows
``torch.set_num_threads``; gate nonlinearities and state updates are fused into one
vectorised C loop per step. ``qrnn bench classical`` measures the result against
``torch.nn``.

The shared object is cached under ``$QRNN_KERNEL_CACHE`` (default
``~/.cache/qrnn/kernels``), keyed by a hash of the source, the flags, the compiler and the
CPU's feature flags (``-march=native``, dropped if the compiler rejects it); a concurrent
first use by several processes is safe (atomic rename). Each C library is a :class:`Library`
(:data:`CELLS` here, the ADC readout of :mod:`analog.readout`, the Pauli kernels of
:mod:`qrnn.sim.pauli_kernel`): if no compiler is found or the build fails, its ``load()`` returns
``None`` and its ``error`` says why; the callers then warn once (:func:`warn_once`) and run
their torch reference (:mod:`kernels.fused` runs :mod:`kernels.reference`).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import torch

FLAGS = ["-O3", "-fPIC", "-shared", "-fno-math-errno", "-fno-trapping-math", "-fno-signed-zeros",
         "-fassociative-math"]
NATIVE = "-march=native"  # tried first; dropped if the compiler rejects it


_INCLUDE = re.compile(r'^#include "([\w./]+)"\s*$', re.MULTILINE)


def source_file(path: str | Path) -> str:
    """The text of the C file ``path`` (shipped as package data) with its quoted includes
    (paths relative to its folder, e.g. ``"../kernels/fastmath.h"`` from a sibling package)
    expanded in place, so the compiled unit and the cache key hold all of it."""
    path = Path(path)
    return _INCLUDE.sub(lambda m: source_file(path.parent / m.group(1)), path.read_text())


def cache_dir() -> Path:
    """Where the compiled library is kept (``$QRNN_KERNEL_CACHE`` or ``~/.cache/qrnn/kernels``)."""
    env = os.environ.get("QRNN_KERNEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "qrnn" / "kernels"


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _compile(cc: str, target: Path, source: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        src = Path(tmp) / f"{target.stem}.c"
        src.write_text(source)
        out = Path(tmp) / target.name
        for flags in ([NATIVE, *FLAGS], FLAGS):
            proc = subprocess.run([cc, *flags, str(src), "-o", str(out), "-lm"],
                                  capture_output=True, text=True, timeout=300)
            if proc.returncode == 0:
                os.replace(out, target)
                return
        lines = proc.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"exit status {proc.returncode}")


def _machine() -> str:
    """What ``-march=native`` depends on: the CPU's feature flags where Linux lists them."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        return platform.processor()


def _build(cc: str, name: str, source: str) -> ctypes.CDLL:
    """Load ``qrnn_<name>_<hash>.so`` from :func:`cache_dir`, compiling ``source`` first if
    absent; raises ``OSError``, ``RuntimeError`` or ``subprocess.SubprocessError`` on failure."""
    parts = [source, NATIVE, *FLAGS, cc, sys.platform, platform.machine(), _machine()]
    key = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    target = cache_dir() / f"qrnn_{name}_{key[:16]}.so"
    if not target.exists():
        _compile(cc, target, source)
    return ctypes.CDLL(str(target))


PRECISIONS = {torch.float32: "f32", torch.float64: "f64"}
"""The dtypes a kernel compiled once per precision takes, and the suffixes of its instances."""


def per_precision(signatures: dict[str, list], restype=ctypes.c_int) -> dict:
    """The :class:`Library` signature table of kernels compiled once per precision:
    ``{f"{name}_{suffix}": (argtypes, restype)}`` for every function of ``signatures``
    (``{name: argtypes}``) and every suffix of :data:`PRECISIONS`."""
    return {f"{name}_{suffix}": (argtypes, restype)
            for name, argtypes in signatures.items() for suffix in PRECISIONS.values()}


class Library:
    """A C library compiled from ``source`` on first use (:func:`load_library`), then kept.

    Args:
        name: names the cached shared object (``qrnn_<name>_<hash>.so``).
        source: the C text, or a function returning it (called on first use).
        what: what the library is, for the error of :meth:`require`.
        signatures: ``{function name: (argtypes, restype)}`` set on the loaded library.

    :meth:`load` returns the ``ctypes.CDLL``, or None if no compiler is found or the build
    fails; :attr:`error` then says why. One attempt per process (tests simulate a missing
    compiler by setting :attr:`tried`, :attr:`lib` and :attr:`error`).
    """

    def __init__(self, name: str, source, what: str, signatures: dict | None = None) -> None:
        self.name, self._source, self.what = name, source, what
        self._signatures = signatures or {}
        self.tried, self.lib, self.error = False, None, None

    def load(self) -> ctypes.CDLL | None:
        """The loaded library (compiled on first call), or None; see :attr:`error`."""
        if not self.tried:
            self.tried = True
            source = self._source() if callable(self._source) else self._source
            self.lib, self.error = load_library(self.name, source)
            for fn_name, (argtypes, restype) in self._signatures.items() if self.lib else ():
                fn = getattr(self.lib, fn_name)
                fn.argtypes, fn.restype = argtypes, restype
        return self.lib

    def available(self) -> bool:
        """Whether the library is (or can be) compiled and loaded."""
        return self.load() is not None

    def require(self) -> ctypes.CDLL:
        """The loaded library, or a RuntimeError saying what is unavailable and why."""
        lib = self.load()
        if lib is None:
            raise RuntimeError(f"{self.what} unavailable: {self.error}")
        return lib

    def function(self, name: str, dtype: torch.dtype):
        """Function ``name`` for ``dtype``: ``<name>_f32`` or ``<name>_f64`` (:meth:`require`)."""
        return getattr(self.require(), f"{name}_{PRECISIONS.get(dtype, 'f64')}")


CELLS = Library("cells", lambda: source_file(Path(__file__).with_name("cells.c")), "CPU kernels")
"""The recurrent-cell kernels of :mod:`kernels.cpu` (``kernels/cells.c``)."""


def load_library(name: str, source: str) -> tuple[ctypes.CDLL | None, str | None]:
    """Compile (on first use), cache and load the C library ``name`` from ``source`` with the
    flags above: ``(library, None)``, or ``(None, reason)`` if no compiler is found or the
    build fails. Not memoized: :class:`Library` keeps the result."""
    cc = _compiler()
    if cc is None:
        return None, "no C compiler found (tried $CC, cc, gcc, clang)"
    try:
        return _build(cc, name, source), None
    except (OSError, RuntimeError, subprocess.SubprocessError) as err:
        return None, f"compiling the {name} kernels with {cc} failed: {err}"


def mkl_local_threads():
    """MKL's C-interface ``MKL_Set_Num_Threads_Local(n) -> previous`` (by value; the
    lower-case export is the Fortran one, by pointer) from ``libtorch_cpu``, or ``None``."""
    for path in sorted((Path(torch.__file__).parent / "lib").glob("libtorch_cpu*")):
        try:
            fn = ctypes.CDLL(str(path)).MKL_Set_Num_Threads_Local
        except (OSError, AttributeError):
            continue
        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
        return fn
    return None


class Blas(ctypes.Structure):
    """Pointers to torch's exported Fortran BLAS (``blas_t`` in the C source); 0 = absent."""

    _fields_ = [("gemm", ctypes.c_void_p), ("pack_size", ctypes.c_void_p),
                ("pack", ctypes.c_void_p), ("compute", ctypes.c_void_p)]


_BLAS: dict[torch.dtype, Blas | None] = {}


def blas(dtype: torch.dtype) -> Blas | None:
    """torch's ``sgemm_``/``dgemm_`` (and, for float32 with MKL, ``sgemm_pack_get_size``,
    ``sgemm_pack``, ``sgemm_compute``), or ``None`` when torch exports no such BLAS."""
    if dtype not in _BLAS:
        prefix = "s" if dtype == torch.float32 else "d"
        names = [f"{prefix}gemm_"]
        if prefix == "s":
            names += ["sgemm_pack_get_size_", "sgemm_pack_", "sgemm_compute_"]
        found = None
        for path in sorted((Path(torch.__file__).parent / "lib").glob("libtorch_cpu*")):
            try:
                lib = ctypes.CDLL(str(path))
            except OSError:
                continue
            ptrs = [ctypes.cast(getattr(lib, n), ctypes.c_void_p).value
                    if hasattr(lib, n) else None for n in names]
            if ptrs[0]:
                if None in ptrs[1:]:
                    ptrs[1:] = [None] * (len(ptrs) - 1)
                found = Blas(*(ptrs + [None] * (4 - len(ptrs))))
                break
        _BLAS[dtype] = found
    return _BLAS[dtype]


WARNED: set[str] = set()  # keys of the fallbacks already announced in this process


def warn_once(key: str, message: str) -> None:
    """Emit ``message`` as a RuntimeWarning the first time ``key`` is seen in this process
    (a compiled library missing, its torch fallback running instead)."""
    if key not in WARNED:
        WARNED.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=4)
