"""Activations, their Hermite coefficients and the NT kernel functions.

docs/theory.md, section 2 (Montanari & Zhong 2022, section 2). For an activation
``sigma`` and a standard Gaussian ``G`` (probabilists' Hermite polynomials
``He_j``):

- ``mu_j = E[sigma'(G) He_j(G)]`` and ``c_j = E[sigma(G) He_j(G)]``
  (Gaussian integration by parts gives ``c_j = mu_{j-1}`` for ``j >= 1``),
- ``h(t) = E[sigma'(G) sigma'(G')] = sum_j mu_j^2 t^j / j!`` for a Gaussian pair
  with correlation ``t``,
- first-layer NT kernel function ``H(t) = t h(t)``; second-layer (random
  features) kernel function ``g(t) = E[sigma(G) sigma(G')] = sum_j c_j^2 t^j/j!``,
- ``gamma_l = sum_{j >= l} mu_j^2 / j! = E[sigma'(G)^2] - sum_{j<l} mu_j^2/j!``.

Numerics (all float64): closed forms for ``relu`` (arc-cosine kernels) and
``erf`` (arcsine kernels). Otherwise the normalized coefficients
``mu_j / sqrt(j!)`` come from composite Gauss-Legendre quadrature on Hermite
functions (:mod:`ntphase.activations.hermite`) and the kernel functions from their
power series, truncated per band of ``|t|`` (:mod:`ntphase.activations.kernel_functions`).
This module holds the :class:`Activation` object, the built-in registry and
:func:`get_activation`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

from ntphase._util.validation import check_choice, check_int
from ntphase.activations.hermite import (
    PHI0,
    endpoint_values,
    erf_normalized,
    normalized_coefficients,
    relu_normalized,
    sqrt_factorials,
)
from ntphase.activations.kernel_functions import erf_g, erf_h, kernel_values, relu_from_gaps, relu_g, relu_h
from ntphase.conventions import CORRELATION_SLACK, LAYERS

__all__ = ["ACTIVATIONS", "Activation", "ClosedForm", "get_activation"]

_OF = ("derivative", "activation")

#: Range of the finiteness check of user-supplied sigma / sigma'.
_CHECK_RANGE = 60.0


def _namespace(x: Any) -> tuple[Any, Any, bool]:
    """Return ``(xp, x, is_numpy)``; non-arrays become float64 NumPy arrays."""
    import array_api_compat

    if isinstance(x, np.ndarray) or np.isscalar(x) or isinstance(x, (list, tuple)):
        arr = np.asarray(x)
        if not np.issubdtype(arr.dtype, np.floating):
            arr = arr.astype(np.float64)
        return np, arr, True
    try:
        xp = array_api_compat.array_namespace(x)
    except TypeError:
        return np, np.asarray(x, dtype=np.float64), True
    return xp, x, array_api_compat.is_numpy_array(x)


def _to_numpy(x: Any) -> np.ndarray:
    try:
        return np.asarray(x)
    except Exception:  # pragma: no cover - e.g. GPU arrays
        import array_api_compat

        return np.asarray(array_api_compat.to_device(x, "cpu"))


def _back(xp: Any, like: Any, out: np.ndarray, is_numpy: bool) -> Any:
    if is_numpy:
        return out
    import array_api_compat

    return xp.asarray(out, dtype=like.dtype, device=array_api_compat.device(like))


# --------------------------------------------------------------------------
# elementwise definitions (array API; erf goes through NumPy/SciPy)
# --------------------------------------------------------------------------
def _relu(x, xp):
    return xp.where(x > 0, x, xp.zeros_like(x))


def _drelu(x, xp):
    # ReLU'(0) := 0 (a null set: no expectation depends on it).
    # A cast of the comparison (one pass) rather than where(ones, zeros): ~16x faster
    # on kernel-sized blocks, the same values.
    return xp.astype(x > 0, x.dtype)


def _tanh(x, xp):
    return xp.tanh(x)


def _dtanh(x, xp):
    e = xp.exp(-2.0 * xp.abs(x))
    return 4.0 * e / (1.0 + e) ** 2


def _sigmoid(x, xp):
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _dsigmoid(x, xp):
    e = xp.exp(-xp.abs(x))
    return e / (1.0 + e) ** 2


def _softplus(x, xp):
    return xp.where(x > 0, x, xp.zeros_like(x)) + xp.log1p(xp.exp(-xp.abs(x)))


def _erf_np(x):
    return special.erf(x)


def _derf_np(x):
    return (2.0 / math.sqrt(math.pi)) * np.exp(-np.square(x))


def _gelu_np(x):
    return x * special.ndtr(x)


def _dgelu_np(x):
    return special.ndtr(x) + x * np.exp(-0.5 * np.square(x)) * PHI0


# --------------------------------------------------------------------------
# closed forms as data
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class ClosedForm:
    """Closed forms of an activation, used instead of quadrature and power series.

    Attributes
    ----------
    name : str
        Label of the family (``"relu"``, ``"erf"``).
    normalized : callable ``(jmax, of) -> ndarray``
        ``mu_j / sqrt(j!)`` (``of="derivative"``) or ``c_j / sqrt(j!)``
        (``of="activation"``) for ``j = 0..jmax``, float64.
    endpoints : mapping
        ``of -> (E[f(G)^2], E[f(G) f(-G)])`` with ``f = sigma'`` or ``sigma``: the
        kernel functions' values at ``t = 1`` and ``t = -1``.
    h, g : callable ``ndarray -> ndarray``
        ``h(t) = E[sigma'(G) sigma'(G')]`` and ``g(t) = E[sigma(G) sigma(G')]`` on a
        float64 array of correlations already clipped to ``[-1, 1]``.
    from_gaps : callable ``(t, 1 - t, 1 + t, layers) -> ndarray``, optional
        The kernel function evaluated from the gaps ``1 - t = |x - x'|^2 / (2d)`` and
        ``1 + t = |x + x'|^2 / (2d)`` when the points are known, for kernels whose
        derivative is singular at ``|t| = 1`` (ReLU's ``arccos``: a rounding of
        ``1e-16`` in ``t`` is an error of ``1e-8`` in ``H``). ``None``: smooth kernels,
        evaluated from ``t`` (error ``|H'| 1e-16``).
    """

    name: str
    normalized: Callable[[int, str], np.ndarray]
    endpoints: Mapping[str, tuple[float, float]]
    h: Callable[[np.ndarray], np.ndarray]
    g: Callable[[np.ndarray], np.ndarray]
    from_gaps: Callable[[np.ndarray, np.ndarray, np.ndarray, str], np.ndarray] | None = None


_ERF_H1 = (4.0 / math.pi) / math.sqrt(5.0)
_ERF_G1 = (2.0 / math.pi) * math.asin(2.0 / 3.0)

#: ReLU: arc-cosine kernels (Cho & Saul 2009); ``E[f(G)^2] = 1/2`` and
#: ``f(G) f(-G) = 0`` for ``f`` = step or relu.
RELU = ClosedForm("relu", relu_normalized, {"derivative": (0.5, 0.0), "activation": (0.5, 0.0)},
                  relu_h, relu_g, relu_from_gaps)
#: ``sigma = erf``: arcsine kernels (Williams 1997).
ERF = ClosedForm("erf", erf_normalized, {"derivative": (_ERF_H1, _ERF_H1), "activation": (_ERF_G1, -_ERF_G1)},
                 erf_h, erf_g)


# --------------------------------------------------------------------------
# the Activation object
# --------------------------------------------------------------------------
def _check_elementwise(label: str, fn: Callable, grid: np.ndarray, vals: np.ndarray) -> None:
    """``fn`` must act entry by entry: on a reversed grid and on single points it must give
    the same values (to 1e-12 relative) as on the whole grid; a shape check alone
    accepts ``np.sort`` or ``x - x.mean()``."""
    scale = 1e-12 * max(1.0, float(np.max(np.abs(vals))))
    picks = np.linspace(0, grid.size - 1, 9).astype(int)
    with np.errstate(all="ignore"):
        try:
            reversed_vals = np.asarray(fn(grid[::-1].copy()), dtype=np.float64)[::-1]
            single = np.array([np.asarray(fn(grid[i : i + 1].copy()), dtype=np.float64).reshape(-1)[0]
                               for i in picks])
        except Exception as exc:  # report the user's error
            raise ValueError(f"{label} failed on a float64 NumPy array: {exc}") from exc
    worst = max(float(np.max(np.abs(reversed_vals - vals), initial=0.0)),
                float(np.max(np.abs(single - vals[picks]), initial=0.0)))
    if not worst <= scale:
        raise ValueError(
            f"{label} must be elementwise (each output depends only on its own input): its values "
            f"change by up to {worst:.3g} when the same points are reordered or passed one at a time"
        )


@dataclass(frozen=True, eq=False)
class Activation:
    """An activation ``sigma`` with its derivative and Gaussian statistics.

    Use :func:`get_activation` (``"relu"``, ``"tanh"``, ``"erf"``, ``"sigmoid"``,
    ``"softplus"``, ``"gelu"``) or :meth:`from_callables`. Objects are immutable,
    compared and hashed by identity, and cache their Hermite coefficients.

    Attributes
    ----------
    name : str
        Name (``"relu"``, ..., or the user's name).
    closed_form : ClosedForm or None
        Closed forms of the Hermite coefficients and kernel functions; None for
        activations computed by quadrature and series.
    breakpoints : tuple of float
        Points where ``sigma'`` may be non-smooth; quadrature panels break there.

    Notes
    -----
    ``relu'(0) = 0`` (any value on a null set gives the same expectations).
    ``erf`` means ``sigma(x) = erf(x)`` (not rescaled).
    """

    name: str
    closed_form: ClosedForm | None = None
    breakpoints: tuple[float, ...] = (0.0,)
    _sigma_xp: Callable | None = field(default=None, repr=False)
    _dsigma_xp: Callable | None = field(default=None, repr=False)
    _sigma_np: Callable | None = field(default=None, repr=False)
    _dsigma_np: Callable | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        """``"numeric"`` (quadrature and series) or the name of the closed form."""
        return "numeric" if self.closed_form is None else self.closed_form.name

    def __reduce__(self):
        # Built-ins unpickle to the registry object (shared caches, e.g. on Dask workers).
        if ACTIVATIONS.get(self.name) is self:
            return (get_activation, (self.name,))
        return super().__reduce__()

    # -- construction ---------------------------------------------------------
    @classmethod
    def from_callables(
        cls,
        sigma: Callable[[np.ndarray], np.ndarray],
        dsigma: Callable[[np.ndarray], np.ndarray],
        name: str = "custom",
        breakpoints: tuple[float, ...] = (0.0,),
    ) -> Activation:
        """Activation from NumPy callables ``sigma(x)`` and ``dsigma(x) = sigma'(x)``.

        Both must be elementwise on float64 NumPy arrays and finite on
        ``[-60, 60]`` (checked on a grid; ``ValueError`` otherwise). Everything
        else (``mu_j``, ``h``, kernels) is computed by quadrature and series.

        Parameters
        ----------
        sigma, dsigma : callable
            The activation and its derivative.
        name : str
            Label used in reports.
        breakpoints : tuple of float
            Points where ``dsigma`` jumps or kinks (quadrature panels break there).

        Examples
        --------
        >>> import numpy as np
        >>> act = Activation.from_callables(np.sin, np.cos, name="sin")
        >>> bool(abs(act.second_moment() - (1 + np.exp(-2)) / 2) < 1e-14)
        True
        """
        if not callable(sigma):
            raise TypeError(f"sigma must be callable, got {sigma!r}")
        if not callable(dsigma):
            raise TypeError(f"dsigma must be callable, got {dsigma!r}")
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        bps = tuple(float(b) for b in breakpoints)
        if not all(np.isfinite(bps)):
            raise ValueError(f"breakpoints must be finite, got {breakpoints!r}")
        grid = np.concatenate([np.linspace(-_CHECK_RANGE, _CHECK_RANGE, 4001), np.asarray(bps)])
        for label, fn in (("sigma", sigma), ("dsigma", dsigma)):
            with np.errstate(all="ignore"):
                try:
                    vals = np.asarray(fn(grid.copy()), dtype=np.float64)
                except Exception as exc:  # noqa: BLE001 - report the user's error
                    raise ValueError(f"{label} failed on a float64 NumPy array: {exc}") from exc
            if vals.shape != grid.shape:
                raise ValueError(
                    f"{label} must be elementwise: input shape {grid.shape} gave output shape {vals.shape}"
                )
            bad = ~np.isfinite(vals)
            if bad.any():
                raise ValueError(
                    f"{label} must be finite on [-{_CHECK_RANGE:g}, {_CHECK_RANGE:g}]; "
                    f"got {vals[bad][0]} at x = {grid[bad][0]:g} (and {int(bad.sum()) - 1} more)"
                )
            _check_elementwise(label, fn, grid, vals)
        return cls(name=name, closed_form=None, breakpoints=bps, _sigma_np=sigma, _dsigma_np=dsigma)

    # -- elementwise ----------------------------------------------------------
    def _apply(self, x: Any, fxp: Callable | None, fnp: Callable | None) -> Any:
        xp, arr, is_np = _namespace(x)
        if fxp is not None:
            return fxp(arr, xp)
        assert fnp is not None  # every Activation has an array-API or a NumPy definition
        out = np.asarray(fnp(np.asarray(_to_numpy(arr), dtype=np.float64)), dtype=np.float64)
        if is_np:
            return out.astype(arr.dtype, copy=False) if arr.dtype == np.float32 else out
        return _back(xp, arr, out, False)

    def sigma(self, x: Any) -> Any:
        """``sigma(x)`` elementwise; same array type as ``x`` (lists -> float64 NumPy)."""
        return self._apply(x, self._sigma_xp, self._sigma_np)

    def dsigma(self, x: Any) -> Any:
        """``sigma'(x)`` elementwise; same array type as ``x``."""
        return self._apply(x, self._dsigma_xp, self._dsigma_np)

    def _sigma_numpy(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.sigma(x), dtype=np.float64)

    def _dsigma_numpy(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.dsigma(x), dtype=np.float64)

    # -- Hermite coefficients ---------------------------------------------------
    def _normalized(self, jmax: int, of: str) -> np.ndarray:
        return normalized_coefficients(self, jmax, of)

    def hermite_coefficients(self, jmax: int, of: str = "derivative", normalized: bool = False) -> np.ndarray:
        """Hermite coefficients ``mu_j = E[sigma'(G) He_j(G)]`` (or ``c_j = E[sigma(G) He_j(G)]``).

        Parameters
        ----------
        jmax : int
            Largest index (>= 0).
        of : {"derivative", "activation"}
            ``mu_j`` of ``sigma'`` (default) or ``c_j`` of ``sigma``.
        normalized : bool
            Return ``mu_j / sqrt(j!)`` instead (no overflow for any ``jmax``;
            ``h(t) = sum_j (mu_j/sqrt(j!))^2 t^j``).

        Returns
        -------
        ndarray, shape (jmax + 1,), float64
            ``He_j`` are probabilists' Hermite polynomials. Closed forms for relu
            (``mu_0 = 1/2``, ``mu_j = phi(0) He_{j-1}(0)``) and erf; quadrature
            (absolute error ~1e-16 on the normalized scale) otherwise. Unnormalized
            values overflow beyond ``jmax ~ 300``. Cost: ``O(jmax^2)`` once, then cached.

        Examples
        --------
        >>> get_activation("relu").hermite_coefficients(3)
        array([ 0.5       ,  0.39894228,  0.        , -0.39894228])
        """
        jmax = check_int("jmax", jmax, minimum=0)
        check_choice("of", of, _OF)
        out = np.array(self._normalized(jmax, of))
        if not normalized:
            out *= sqrt_factorials(jmax)
        return out

    # -- kernel functions -------------------------------------------------------
    def second_moment(self) -> float:
        """``E[sigma'(G)^2] = h(1) = sum_j mu_j^2/j!`` (relu 1/2, erf 4/(pi sqrt 5))."""
        return endpoint_values(self, "derivative")[0]

    def gamma(self, l: int) -> float:  # noqa: E741 - the paper's symbol
        """``gamma_l = sum_{j>=l} mu_j^2/j!``, computed as ``E[sigma'(G)^2] - sum_{j<l} mu_j^2/j!``.

        The self-induced ridge at ``d = infinity`` (docs/theory.md, section 3); ``gamma_0 = E[sigma'^2]``.
        """
        l = check_int("l", l, minimum=0)  # noqa: E741
        head = float(np.sum(self._normalized(max(l - 1, 0), "derivative")[:l] ** 2)) if l else 0.0
        return self.second_moment() - head

    def power_series(self, kmax: int, layers: str = "first") -> np.ndarray:
        """Coefficients ``a_k``, ``k <= kmax``, of ``kernel_function(t) = sum_k a_k t^k``.

        first: ``a_0 = 0``, ``a_k = mu_{k-1}^2/(k-1)!``; second: ``a_k = c_k^2/k!``;
        both: their sum. All ``a_k >= 0``.
        """
        kmax = check_int("kmax", kmax, minimum=0)
        check_choice("layers", layers, LAYERS)
        out = np.zeros(kmax + 1)
        if layers in ("first", "both"):
            out[1:] += self._normalized(max(kmax - 1, 0), "derivative")[:kmax] ** 2
        if layers in ("second", "both"):
            out += self._normalized(kmax, "activation") ** 2
        return out

    def h(self, t: Any) -> Any:
        """``h(t) = E[sigma'(G) sigma'(G')]``, ``corr(G, G') = t``, elementwise.

        Parameters
        ----------
        t : array_like
            Correlations in ``[-1, 1]`` (values within ``1e-6`` outside are clipped;
            further out is a ValueError). Any shape; NumPy or array-API array.

        Returns
        -------
        array, float64, same shape. relu: ``(pi - arccos t)/(2 pi)``; erf:
        ``(4/pi)/sqrt(9 - 4 t^2)``; otherwise the Hermite series with controlled
        truncation (relative error ~1e-15). Cost: ``O(size(t) * terms)``, the
        number of terms adapting to ``|t|``.
        """
        return self._kernel(t, "h")

    def H(self, t: Any) -> Any:  # noqa: N802 - the paper's symbol
        """First-layer NT kernel function ``H(t) = t h(t)`` (see :meth:`kernel_function`)."""
        return self._kernel(t, "first")

    def kernel_function(self, t: Any, layers: str = "first") -> Any:
        """Kernel function of the correlation ``t = <x, x'>/d``.

        ``"first"``: ``H(t) = t h(t) = sum_{k>=1} mu_{k-1}^2 t^k/(k-1)!``;
        ``"second"``: ``g(t) = E[sigma(G) sigma(G')] = sum_k c_k^2 t^k/k!``
        (relu: ``(sqrt(1-t^2) + (pi - arccos t) t)/(2 pi)``; erf: ``(2/pi) arcsin(2t/3)``);
        ``"both"``: ``H + g``. Vectorized and float64; see :meth:`h` for accuracy and cost.
        """
        check_choice("layers", layers, LAYERS)
        return self._kernel(t, layers)

    def _kernel(self, t: Any, which: str) -> Any:
        xp, arr, is_np = _namespace(t)
        tn = np.array(_to_numpy(arr), dtype=np.float64)
        if not np.all(np.isfinite(tn)):
            raise ValueError("t must contain only finite values (found NaN or inf)")
        if tn.size and np.max(np.abs(tn)) > 1.0 + CORRELATION_SLACK:
            raise ValueError(
                f"t must be a correlation in [-1, 1] (data on the sphere of radius sqrt(d)); "
                f"got max |t| = {np.max(np.abs(tn)):.6g}"
            )
        np.clip(tn, -1.0, 1.0, out=tn)
        out = kernel_values(self, which, tn)
        if is_np:
            return out
        import array_api_compat

        return xp.asarray(out, device=array_api_compat.device(arr))


# --------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------
ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", RELU, (0.0,), _relu, _drelu),
    "tanh": Activation("tanh", None, (0.0,), _tanh, _dtanh),
    "erf": Activation("erf", ERF, (0.0,), None, None, _erf_np, _derf_np),
    "sigmoid": Activation("sigmoid", None, (0.0,), _sigmoid, _dsigmoid),
    "softplus": Activation("softplus", None, (0.0,), _softplus, _sigmoid),  # softplus' = sigmoid
    "gelu": Activation("gelu", None, (0.0,), None, None, _gelu_np, _dgelu_np),
}


def get_activation(spec: str | Activation) -> Activation:
    """Resolve an activation name (case-insensitive) or return an :class:`Activation`.

    Parameters
    ----------
    spec : str or Activation
        One of ``relu, tanh, erf, sigmoid, softplus, gelu``, or an Activation
        (e.g. from :meth:`Activation.from_callables`).

    Raises
    ------
    ValueError
        Unknown name (the message lists the allowed names).
    TypeError
        Anything else.

    Examples
    --------
    >>> get_activation("ReLU").second_moment()
    0.5
    """
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {', '.join(ACTIVATIONS)} (or an Activation); got {spec!r}"
            )
        return ACTIVATIONS[key]
    raise TypeError(f"activation must be a name or an Activation, got {spec!r} ({type(spec).__name__})")
