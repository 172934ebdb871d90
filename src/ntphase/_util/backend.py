"""The backend seam: which array library and device ntphase computes on, at float64.

A backend is an array library (``numpy``, ``torch``, ``cupy``, ``jax``) on a
device (``"cpu"``, ``"cuda:0"``, ...). It comes either from the inputs (the
namespace ``array_api_compat.array_namespace`` finds and the arrays' device: a
PyTorch CUDA tensor is computed on its GPU and comes back as one) or from an
explicit device string resolved by :func:`resolve_device`:

* ``"cpu"``: NumPy (the default, with the NumPy fast paths);
* ``"cuda"``, ``"cuda:1"``: the first of PyTorch, CuPy, JAX that is installed
  and sees that GPU;
* ``"<library>:<device>"`` (``"jax:cpu"``, ``"torch:cuda:1"``, ``"cupy:cuda"``):
  that library. A device that is not there raises :class:`DeviceUnavailableError`
  with a one-line message naming what is missing.

:func:`use_device` makes a device the target of ntphase's array functions for a
block of code: inside it, NumPy inputs (``nt_kernel``, ``infinite_kernel``,
``eigenvalues``, ``solve_ridge``, dense ``lambda_min``, ...) are moved to the
device, computed there and the result comes back as NumPy. The target is a
context variable, set by the task that runs (the experiment runner passes the
device with the task's parameters), never by the environment.

:func:`float64_math` guarantees float64 arithmetic inside ntphase's calls on a
namespace: on PyTorch the TF32 matrix products are switched off
(``torch.backends.cuda.matmul.allow_tf32``, ``torch.backends.cudnn.allow_tf32``,
``torch.set_float32_matmul_precision("highest")``) and restored afterwards; on
JAX the 64-bit mode (``jax.enable_x64``, or ``jax.experimental.enable_x64`` on
older JAX) and the ``"highest"`` matmul precision are in force for the call
(without it JAX silently truncates float64 inputs to float32).
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

from ntphase._util.arrays import namespace

__all__ = [
    "LIBRARIES",
    "Backend",
    "DeviceUnavailableError",
    "backend_of",
    "current_backend",
    "float64_math",
    "float64_math_for",
    "offload",
    "resolve_device",
    "solve_triangular",
    "use_device",
]

#: Array libraries a device string may name (``"<library>:<device>"``).
LIBRARIES = ("numpy", "torch", "cupy", "jax")

#: Order in which ``"cuda"`` looks for a GPU library.
_GPU_LIBRARIES = ("torch", "cupy", "jax")


class DeviceUnavailableError(RuntimeError):
    """A device was asked for whose library or hardware is missing (one-line message).

    ``reason`` is the message without the leading ``"device '<spec>': "``
    (the CLI prefixes ``--device <spec>:`` instead).
    """

    def __init__(self, spec: str, reason: str) -> None:
        super().__init__(f"device {spec!r}: {reason}")
        self.spec = spec
        self.reason = reason


@dataclass(frozen=True)
class Backend:
    """An array library on a device.

    Attributes
    ----------
    library : str
        One of :data:`LIBRARIES`.
    device : str
        ``"cpu"`` or ``"cuda:<index>"``.
    xp : module
        The array-API namespace (``array_api_compat`` wrapper for torch/cupy).
    native : object
        The library's device object (``None`` for NumPy).
    """

    library: str
    device: str
    xp: Any
    native: Any = None

    @property
    def is_numpy(self) -> bool:
        return self.library == "numpy"

    def asarray(self, a: Any) -> Any:
        """NumPy array (or list) ``a`` as an array of this backend, dtype kept (float64 stays float64)."""
        a = np.asarray(a)
        if self.library == "numpy":
            return a
        with float64_math(self.xp):
            if self.library == "torch":
                torch = importlib.import_module("torch")
                return torch.as_tensor(a, device=self.native)
            if self.library == "cupy":
                cupy = importlib.import_module("cupy")
                with cupy.cuda.Device(self.native):
                    return cupy.asarray(a)
            jax = importlib.import_module("jax")
            return jax.device_put(a, self.native)

    def __str__(self) -> str:
        return f"{self.library}:{self.device}"


def _parse(spec: str) -> tuple[str | None, str, int | None]:
    """``"[library:]cpu"`` or ``"[library:]cuda[:k]"`` -> ``(library, kind, index)``."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"device must be a string such as 'cpu', 'cuda', 'cuda:1' or 'jax:cpu'; got {spec!r}")
    parts = spec.strip().lower().split(":")
    library = None
    if parts[0] in LIBRARIES:
        library, parts = parts[0], parts[1:]
        if not parts:
            parts = ["cpu"] if library == "numpy" else ["cuda"] if library == "cupy" else ["cpu"]
    kind = parts[0]
    index = None
    ok = kind in ("cpu", "cuda") and len(parts) <= 2 and not (kind == "cpu" and len(parts) == 2)
    if ok and len(parts) == 2:
        ok = parts[1].isdigit()
        index = int(parts[1]) if ok else None
    if not ok:
        raise ValueError(
            f"device must be 'cpu', 'cuda', 'cuda:<index>', optionally prefixed by a library "
            f"({', '.join(LIBRARIES)}), e.g. 'jax:cpu' or 'torch:cuda:1'; got {spec!r}"
        )
    return library, kind, index


def _import(library: str) -> tuple[Any, str | None]:
    try:
        return importlib.import_module(library), None
    except ImportError:
        return None, f"{library} is not installed"


def _torch(kind: str, index: int | None) -> tuple[Backend | None, str | None]:
    torch, why = _import("torch")
    if torch is None:
        return None, why
    if kind == "cpu":
        return Backend("torch", "cpu", array_api_compat.array_namespace(torch.zeros(0)), torch.device("cpu")), None
    if not torch.cuda.is_available():
        return None, "torch.cuda.is_available() is False"
    i = 0 if index is None else index
    if i >= torch.cuda.device_count():
        return None, f"torch sees {torch.cuda.device_count()} CUDA device(s), no index {i}"
    dev = torch.device("cuda", i)
    return Backend("torch", f"cuda:{i}", array_api_compat.array_namespace(torch.zeros(0, device=dev)), dev), None


def _cupy(kind: str, index: int | None) -> tuple[Backend | None, str | None]:
    if kind == "cpu":
        return None, "cupy has no CPU device"
    cupy, why = _import("cupy")
    if cupy is None:
        return None, why
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing: cupy raises its own runtime error type
        return None, f"cupy finds no CUDA driver ({type(exc).__name__})"
    i = 0 if index is None else index
    if i >= count:
        return None, f"cupy sees {count} CUDA device(s), no index {i}"
    with cupy.cuda.Device(i):
        xp = array_api_compat.array_namespace(cupy.zeros(0))
    return Backend("cupy", f"cuda:{i}", xp, i), None


def _jax(kind: str, index: int | None) -> tuple[Backend | None, str | None]:
    jax, why = _import("jax")
    if jax is None:
        return None, why
    try:
        devices = jax.devices("cpu" if kind == "cpu" else "gpu")
    except RuntimeError:
        return None, "jax has no GPU backend (jax.devices('gpu') failed)"
    i = 0 if index is None else index
    if i >= len(devices):
        return None, f"jax sees {len(devices)} {kind} device(s), no index {i}"
    import jax.numpy as jnp

    return Backend("jax", "cpu" if kind == "cpu" else f"cuda:{i}", jnp, devices[i]), None


def resolve_device(spec: str = "cpu") -> Backend:
    """The :class:`Backend` a device string names.

    Parameters
    ----------
    spec : str
        ``"cpu"`` (NumPy), ``"cuda"`` / ``"cuda:<k>"`` (the first of PyTorch,
        CuPy, JAX that sees the GPU), or ``"<library>:<device>"`` with a
        library of :data:`LIBRARIES` (``"jax:cpu"``, ``"torch:cuda:1"``).

    Raises
    ------
    ValueError
        Malformed ``spec``.
    DeviceUnavailableError
        The library is not installed or does not see the device; the one-line
        message names what is missing, e.g. ``"device 'cuda': no CUDA device:
        torch is not installed; cupy is not installed; jax has no GPU backend"``.
    """
    library, kind, index = _parse(spec)
    if library == "numpy" or (library is None and kind == "cpu"):
        if kind != "cpu":
            raise DeviceUnavailableError(spec, "NumPy computes on the CPU only")
        return Backend("numpy", "cpu", np, None)
    finders = {"torch": _torch, "cupy": _cupy, "jax": _jax}
    reasons = []
    for name in (library,) if library else _GPU_LIBRARIES:
        backend, why = finders[name](kind, index)
        if backend is not None:
            return backend
        reasons.append(why)
    what = "no CUDA device" if kind == "cuda" else f"no {library} CPU device"
    raise DeviceUnavailableError(spec, f"{what}: {'; '.join(r for r in reasons if r)}")


def backend_of(*arrays: Any) -> Backend:
    """The backend of the inputs: their common namespace and the device of the first array."""
    present = [a for a in arrays if a is not None]
    xp = namespace(*present)
    if array_api_compat.is_numpy_namespace(xp) or not present:
        return Backend("numpy", "cpu", np, None)
    dev = array_api_compat.device(present[0])
    first = present[0]
    if array_api_compat.is_torch_array(first):
        label = "cpu" if dev.type == "cpu" else f"cuda:{dev.index or 0}"
        return Backend("torch", label, xp, dev)
    if array_api_compat.is_cupy_array(first):
        return Backend("cupy", f"cuda:{dev.id}", xp, dev.id)
    if array_api_compat.is_jax_array(first):
        label = "cpu" if dev.platform == "cpu" else f"cuda:{dev.id}"
        return Backend("jax", label, xp, dev)
    label = "cpu" if "cpu" in str(dev).lower() else str(dev)  # e.g. array_api_strict's CPU_DEVICE
    return Backend(getattr(xp, "__name__", "array-api"), label, xp, dev)


# --------------------------------------------------------------------------- #
# float64 inside ntphase's calls
# --------------------------------------------------------------------------- #
@contextlib.contextmanager
def float64_math(xp: Any) -> Iterator[None]:
    """Within the block, ``xp``'s float64 math is float64: no TF32, no silent float32.

    PyTorch: ``torch.backends.cuda.matmul.allow_tf32 = False``,
    ``torch.backends.cudnn.allow_tf32 = False``,
    ``torch.set_float32_matmul_precision("highest")``, the previous values
    restored on exit (also after an exception). JAX: 64-bit mode on
    (``jax.enable_x64(True)``; ``jax.experimental.enable_x64()`` on JAX < 0.5)
    and ``jax.default_matmul_precision("highest")``, both scoped to the block.
    Other namespaces (NumPy, CuPy, ``array_api_strict``): nothing to do (CuPy
    never uses TF32 unless ``CUPY_TF32`` is set, which ntphase does not read).
    Re-entrant.
    """
    if array_api_compat.is_torch_namespace(xp):
        torch = importlib.import_module("torch")
        saved = (
            torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.allow_tf32,
            torch.get_float32_matmul_precision(),
        )
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32 = saved[0]
            torch.backends.cudnn.allow_tf32 = saved[1]
            torch.set_float32_matmul_precision(saved[2])
    elif array_api_compat.is_jax_namespace(xp):
        jax = importlib.import_module("jax")
        enable = getattr(jax, "enable_x64", None)
        x64 = enable(True) if enable is not None else importlib.import_module("jax.experimental").enable_x64()
        with x64, jax.default_matmul_precision("highest"):
            yield
    else:
        yield


def float64_math_for(*arrays: Any) -> contextlib.AbstractContextManager[None]:
    """:func:`float64_math` for the namespace of ``arrays`` (non-arrays and ``None`` ignored; NumPy: no-op)."""
    present = [a for a in arrays if a is not None and array_api_compat.is_array_api_obj(a)]
    if not present or all(isinstance(a, np.ndarray) for a in present):
        return contextlib.nullcontext()
    try:
        xp = array_api_compat.array_namespace(*present)
    except TypeError:  # mixed libraries: the caller's input check names them
        return contextlib.nullcontext()
    return float64_math(xp)


# --------------------------------------------------------------------------- #
# the target device of a block of code
# --------------------------------------------------------------------------- #
_TARGET: contextvars.ContextVar[Backend | None] = contextvars.ContextVar("ntphase_device", default=None)


def current_backend() -> Backend | None:
    """The backend set by the innermost :func:`use_device` (``None``: compute where the inputs live)."""
    return _TARGET.get()


@contextlib.contextmanager
def use_device(device: str | Backend | None) -> Iterator[Backend | None]:
    """Compute ntphase's array functions on ``device`` inside the block.

    NumPy inputs are moved to the device, computed there at float64 and the
    results come back as NumPy; arrays of another library are computed where
    they live. ``None`` or ``"cpu"`` is NumPy (no change). Raises
    :class:`DeviceUnavailableError` (one line) at entry if the device is missing.

    Examples
    --------
    >>> import numpy as np
    >>> from ntphase.kernels import nt_kernel, use_device
    >>> X = np.eye(3)[:, :2] * 1.0; W = np.ones((2, 2))
    >>> with use_device("cpu"):
    ...     K = nt_kernel(X, W, "relu")
    >>> type(K).__name__
    'ndarray'
    """
    backend = device if isinstance(device, Backend) or device is None else resolve_device(device)
    token = _TARGET.set(None if backend is None or backend.is_numpy else backend)
    try:
        yield backend
    finally:
        _TARGET.reset(token)


def offload(*arrays: Any) -> tuple[Backend, list[Any]] | None:
    """Inputs moved to the :func:`use_device` target, or ``None`` when there is nothing to move.

    Only when a non-NumPy target is set and every non-``None`` input is a NumPy
    array (or a nested list); the caller then computes on the returned arrays
    inside ``float64_math(backend.xp)`` and returns ``to_numpy`` of the result.
    """
    backend = _TARGET.get()
    if backend is None:
        return None
    for a in arrays:
        if a is not None and array_api_compat.is_array_api_obj(a) and not isinstance(a, np.ndarray):
            return None
    return backend, [None if a is None else backend.asarray(a) for a in arrays]


# --------------------------------------------------------------------------- #
# what the array API lacks
# --------------------------------------------------------------------------- #
def solve_triangular(xp: Any, L: Any, B: Any, *, lower: bool = True, transpose: bool = False) -> Any:
    """Solve ``op(L) Z = B`` with ``L`` triangular (``op`` the transpose when ``transpose``).

    The array API has no triangular solve: PyTorch (``torch.linalg.solve_triangular``),
    JAX (``jax.scipy.linalg.solve_triangular``), CuPy (``cupyx.scipy.linalg``) and
    NumPy (``scipy.linalg``) use theirs (``O(n^2)`` per column); any other
    namespace falls back to ``xp.linalg.solve`` (``O(n^3)``).
    """
    if array_api_compat.is_torch_namespace(xp):
        torch = importlib.import_module("torch")
        A = L.mT if transpose else L
        B2 = B[:, None] if B.ndim == 1 else B
        Z = torch.linalg.solve_triangular(A, B2, upper=(lower == transpose))
        return Z[:, 0] if B.ndim == 1 else Z
    if array_api_compat.is_jax_namespace(xp):
        jsl = importlib.import_module("jax.scipy.linalg")
        return jsl.solve_triangular(L, B, lower=lower, trans=1 if transpose else 0)
    if array_api_compat.is_cupy_namespace(xp):
        csl = importlib.import_module("cupyx.scipy.linalg")
        return csl.solve_triangular(L, B, lower=lower, trans=1 if transpose else 0)
    if array_api_compat.is_numpy_namespace(xp):
        import scipy.linalg

        return scipy.linalg.solve_triangular(np.asarray(L), np.asarray(B), lower=lower, trans=1 if transpose else 0)
    A = xp.permute_dims(L, (1, 0)) if transpose else L
    if B.ndim == 1:
        return xp.linalg.solve(A, B[:, None])[:, 0]
    return xp.linalg.solve(A, B)
