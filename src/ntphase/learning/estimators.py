"""NT, kernel and polynomial ridge regression: functional core and scikit-learn estimators.

Three models share one interface (docs/theory.md, section 5):

* **NT ridge** (finite width ``N``): the empirical NT kernel ``K_N`` of random
  first-layer weights ``W`` (``p = N d`` features for ``layers="first"``).
  Solved on the smaller side: the primal ``n x p`` features when ``p < n``
  (``N d < n``), otherwise the dual ``n x n`` kernel; never the larger one.
* **KRR**: the infinite-width kernel ``K(x, x') = H(<x, x'>/d)`` (sphere data).
* **PRR**: the degree-``<= l`` kernel ``K_{<=l}`` with the ridge increased by the
  self-induced term, ``lambda + gamma_{>l}`` (``gamma_{>l}`` =
  :func:`ntphase.sphere.gamma_above`), which KRR approximates for
  ``B(d, l) << n << B(d, l+1)``.

The functions :func:`~ntphase.learning.nt_ridge_path`, :func:`~ntphase.learning.kernel_ridge_path`
and :func:`~ntphase.learning.polynomial_ridge_path` return a whole :class:`ntphase.linalg.ridge.RidgePath`
(many ridges from one decomposition); the estimator classes :class:`NTRidge`,
:class:`KernelRidgeNT` and :class:`PolynomialRidge` are thin scikit-learn
shells around the same core (one ridge: dense Cholesky, or matrix-free
preconditioned CG / the primal polynomial solve, chosen by ``solver``); the
functions are in :mod:`ntphase.learning.paths`, the choice point and the
matrix-free solves in :mod:`ntphase.learning._matrix_free`.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ntphase._util.memory import check_memory
from ntphase._util.validation import check_choice, check_float, check_int
from ntphase.activations import get_activation
from ntphase.conventions import LAYERS, WEIGHT_DISTRIBUTIONS
from ntphase.data import as_generator, project_to_sphere, sample_weights
from ntphase.kernels import (
    HarmonicFeatures,
    cross_product,
    infinite_kernel,
    nt_features,
    nt_kernel,
    truncated_kernel,
)
from ntphase.learning import _matrix_free as mf
from ntphase.learning.paths import _polynomial_route, nt_ridge_route, polynomial_primal_fit
from ntphase.linalg.cg import DEFAULT_RTOL, CGInfo
from ntphase.linalg.ridge import primal_ridge_path, solve_ridge
from ntphase.sphere import check_degree, gamma_above
from ntphase.sphere import level as sphere_level

__all__ = ["KernelRidgeNT", "NTRidge", "PolynomialRidge"]


# --------------------------------------------------------------------------- estimators


class _NTBase(RegressorMixin, BaseEstimator):
    """Shared validation for the ntphase regressors (settings checked in ``fit``)."""

    _min_features = 2  # d >= 2: the NT kernels and the sphere need it

    def _validate_common(self) -> tuple[Any, float, str]:
        activation = get_activation(self.activation)
        ridge = check_float("ridge", self.ridge, minimum=0.0)
        layers = check_choice("layers", self.layers, LAYERS)
        return activation, ridge, layers

    def _fit_data(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_data(
            self, X, y, dtype=np.float64, y_numeric=True, ensure_min_features=self._min_features
        )
        return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def _predict_data(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return np.asarray(X, dtype=np.float64)

    def _check_iterative(self) -> tuple[str, float, int | None, str, bool]:
        """``solver``, ``rtol``, ``maxiter``, ``preconditioner``, ``verbose`` checked."""
        solver = check_choice("solver", self.solver, mf.SOLVERS)
        rtol = check_float("rtol", self.rtol, minimum=0.0, allow_equal=False)
        maxiter = None if self.maxiter is None else check_int("maxiter", self.maxiter, minimum=1)
        preconditioner = check_choice("preconditioner", self.preconditioner, mf.PRECONDITIONERS)
        if not isinstance(self.verbose, (bool, np.bool_)):
            raise TypeError(f"verbose must be a bool, got {self.verbose!r}")
        return solver, rtol, maxiter, preconditioner, bool(self.verbose)

    def _record(self, solver: str, info: CGInfo | None) -> None:
        """Set ``solver_``, ``n_iter_`` and ``residual_`` (None for direct solvers)."""
        self.solver_ = solver
        self.n_iter_ = None if info is None else int(np.max(info.iterations))
        self.residual_ = None if info is None else float(np.max(info.residuals))


class NTRidge(_NTBase):
    """Ridge regression on the empirical NT features of a random two-layer network.

    ``f_hat(x) = K_N(x, X) (K_N + ridge I)^{-1} y`` with
    ``K_N = (X X^T/d) ∘ (S S^T/N)``, ``S = sigma'(X W^T)``, ``W`` sampled in
    ``fit`` (docs/theory.md, sections 1, 5): the NT model ``<a, phi(x)>`` with
    ``a = argmin ||y - Phi a||^2 + ridge ||a||^2``. ``ridge = 0`` is the
    minimum-norm interpolator (least squares when ``p < n``).

    Dense (``solver="dense"``) on the smaller side: when ``p = N d < n``
    (``layers="first"``; see :func:`ntphase.conventions.nt_feature_count`, the
    choice of :func:`ntphase.learning.paths.nt_ridge_route`) the features ``Phi``
    (``n x p``) and a thin SVD are used and ``coef_`` is set; otherwise the kernel
    ``K_N`` (``n x n``) and a Cholesky solve, and ``dual_coef_`` is set.
    Matrix-free (``solver="cg"``): preconditioned conjugate gradients on
    :class:`ntphase.kernels.NTKernelOperator` (memory ``O(n (N + d))``), predictions
    through the feature space, never an ``n x n`` or ``n_test x n`` matrix.

    Parameters
    ----------
    activation : str or Activation, default "relu"
    width : int, default 100
        Number of hidden units ``N``.
    ridge : float, default 0.0
        ``lambda >= 0`` in kernel units.
    layers : {"first", "second", "both"}, default "first"
    weights : {"gaussian", "sphere"}, default "gaussian"
        Distribution of the rows of ``W`` (``ntphase.data.sample_weights``).
    random_state : int, numpy.random.Generator or None
        Resolved in ``fit`` with ``ntphase.data.as_generator`` (an int seed
        gives the same ``W`` at every fit).
    solver : {"auto", "dense", "cg"}, default "auto"
        ``"auto"``: dense when ``p < n`` (primal), otherwise dense or cg by the
        memory guard and a cost model (dense ``n^2 (N + d) + n^3/3`` flops against
        the preconditioner plus ~8 products of ``4 n N d``), recorded in ``solver_``.
    rtol : float, default 1e-8
        CG stopping rule: ``||y - (K_N + ridge I) alpha|| <= rtol ||y||`` (true residual).
    maxiter : int or None
        CG iteration cap (default 5000); not reaching ``rtol`` gives a
        :class:`ntphase.linalg.ConvergenceWarning` naming the residual and iterations.
    preconditioner : {"auto", "harmonic", "nystrom", "none"}, default "auto"
        ``"harmonic"`` (the infinite-width kernel's degree-``<= l`` model,
        :func:`ntphase.learning.harmonic_preconditioner`; sphere data), ``"nystrom"``
        (1,000 random centres of ``K_N``), ``"auto"``: harmonic on the sphere, else Nystrom.
    verbose : bool, default False
        Show a progress bar with the iteration and the residual (cg).

    Attributes
    ----------
    weights_ : ndarray, shape (N, d)
    coef_ : ndarray, shape (p,)
        NT coefficients ``a`` (primal route, ``p < n``), else absent.
    dual_coef_ : ndarray, shape (n,)
        ``alpha = (K_N + ridge I)^{-1} y`` (dual route, ``p >= n``), else absent.
    X_fit_ : ndarray, shape (n, d)
        Training inputs (dual route only; the cross kernel needs them).
    n_features_in_ : int
    solver_ : {"primal", "dual", "cg+harmonic", "cg+nystrom", "cg"}
        What ran: the dense routes by their side, or CG with its preconditioner.
    n_iter_ : int or None
        CG iterations (None for dense).
    residual_ : float or None
        Final true relative residual of CG (None for dense).

    Notes
    -----
    Fit cost ``O(n^2 (N + d) + n^3)`` (dual) or ``O(n p^2)`` (primal), or
    iterations times ``O(n N d)`` (cg); predict ``O(n_test n (N + d))``,
    ``O(n_test p)`` or ``O((n + n_test) N d)`` (cg). X need not be on the sphere.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((20, 5)); y = rng.standard_normal(20)
    >>> model = NTRidge("tanh", width=10, random_state=0).fit(X, y)  # p = 50 >= n = 20
    >>> model.solver_, bool(np.allclose(model.predict(X), y))
    ('dual', True)
    """

    def __init__(
        self,
        activation: Any = "relu",
        width: int = 100,
        ridge: float = 0.0,
        layers: str = "first",
        weights: str = "gaussian",
        random_state: Any = None,
        solver: str = "auto",
        rtol: float = DEFAULT_RTOL,
        maxiter: int | None = None,
        preconditioner: str = "auto",
        verbose: bool = False,
    ) -> None:
        self.activation = activation
        self.width = width
        self.ridge = ridge
        self.layers = layers
        self.weights = weights
        self.random_state = random_state
        self.solver = solver
        self.rtol = rtol
        self.maxiter = maxiter
        self.preconditioner = preconditioner
        self.verbose = verbose

    def fit(self, X: Any, y: Any) -> NTRidge:
        """Sample ``W``, then solve the ridge problem (dense on the smaller side, or cg). Returns ``self``."""
        activation, ridge, layers = self._validate_common()
        width = check_int("width", self.width, minimum=1)
        distribution = check_choice("weights", self.weights, WEIGHT_DISTRIBUTIONS)
        solver, rtol, maxiter, preconditioner, verbose = self._check_iterative()
        X, y = self._fit_data(X, y)
        n, d = X.shape
        rng = _resolve_random_state(self.random_state)
        check_memory(16.0 * width * d, f"NTRidge(width={width}) weights W of shape ({width}, {d})",
                     "use a smaller width: N d >= n already gives the interpolation regime")
        W = sample_weights(width, d, as_generator(rng), distribution=distribution)
        self.weights_ = np.asarray(W, dtype=np.float64)
        for name in ("coef_", "dual_coef_", "X_fit_"):
            self.__dict__.pop(name, None)  # a refit may switch route
        route = nt_ridge_route(n, width, d, layers)
        if solver == "auto":
            solver = "dense" if route == "primal" else mf.choose_solver(
                n, d, activation, layers, width=width, sphere=mf.on_sphere(X))
        if solver == "cg":
            with mf.progress_bar(verbose, "NTRidge (CG)", rtol) as progress:
                alpha, info, name = mf.solve_cg(
                    X, y, activation, ridge, layers, preconditioner=preconditioner, rtol=rtol,
                    maxiter=maxiter, progress=progress, W=self.weights_, rng=rng)
            self.dual_coef_ = alpha
            self.X_fit_ = X
            self._record(name, info)
        elif route == "primal":
            Phi = nt_features(X, self.weights_, activation, layers=layers)
            self.coef_ = primal_ridge_path(Phi, y, [ridge]).coef[0]
            self._record("primal", None)
        else:
            K = nt_kernel(X, self.weights_, activation, layers=layers)
            self.dual_coef_ = solve_ridge(K, y, ridge)
            self.X_fit_ = X
            self._record("dual", None)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """``K_N(X, X_fit) dual_coef_`` (dual, cg) or ``Phi(X) coef_`` (primal), shape ``(n_test,)``."""
        X = self._predict_data(X)
        activation = get_activation(self.activation)
        if self.solver_ == "primal":
            return nt_features(X, self.weights_, activation, layers=self.layers) @ self.coef_
        if self.solver_.startswith("cg"):
            return mf.nt_cross_product(X, self.X_fit_, self.weights_, activation, self.dual_coef_, self.layers)
        K = nt_kernel(X, self.weights_, activation, X2=self.X_fit_, layers=self.layers)
        return K @ self.dual_coef_


class _SphereKernelRidge(_NTBase):
    """Common settings, fit and predict for the sphere-only kernels (infinite width, truncated).

    ``fit`` solves ``(K + r I) alpha = y`` on the (projected, if ``normalize``)
    training inputs with the subclass's solver (``_solve``); a subclass supplies the
    kernel (``_kernel``) and may resolve its own settings and the ridge ``r``
    actually solved at (``_check_settings``, ``_resolve_ridge``).
    """

    def _sphere(self, X: np.ndarray) -> np.ndarray:
        if not isinstance(self.normalize, (bool, np.bool_)):
            raise TypeError(f"normalize must be a bool, got {self.normalize!r}")
        return project_to_sphere(X) if self.normalize else X

    def _check_settings(self) -> None:
        """Checks of subclass settings, run after the common ones and before the data."""

    def _resolve_ridge(self, X: np.ndarray, ridge: float, layers: str) -> float:
        """The ridge the system is solved at (default: the user ridge)."""
        return ridge

    def _solve(self, X: np.ndarray, y: np.ndarray, solve_at: float, layers: str) -> None:
        """Dense Cholesky (:func:`ntphase.linalg.ridge.solve_ridge`): sets ``dual_coef_`` and the record."""
        self.dual_coef_ = solve_ridge(self._kernel(X), y, solve_at)
        self._record("dense", None)

    def fit(self, X: Any, y: Any) -> _SphereKernelRidge:
        """Solve ``(K + r I) alpha = y``, ``r`` the solve ridge. Returns ``self``.

        ``r`` is ``ridge`` for :class:`KernelRidgeNT`, ``ridge + gamma_{>l}`` for
        :class:`PolynomialRidge` (which first resolves ``l`` and ``gamma_{>l}``).
        """
        _, ridge, layers = self._validate_common()
        self._check_settings()
        X, y = self._fit_data(X, y)
        X = self._sphere(X)
        solve_at = self._resolve_ridge(X, ridge, layers)
        for name in ("coef_", "dual_coef_"):
            self.__dict__.pop(name, None)  # a refit may switch solver
        self._solve(X, y, solve_at, layers)
        self.X_fit_ = X
        return self

    def predict(self, X: Any) -> np.ndarray:
        """``K(X, X_fit) dual_coef_``, shape ``(n_test,)``."""
        X = self._sphere(self._predict_data(X))
        return self._kernel(X, self.X_fit_) @ self.dual_coef_


class KernelRidgeNT(_SphereKernelRidge):
    """Kernel ridge regression with the infinite-width NT kernel (width ``N -> infinity``).

    ``f_hat(x) = K(x, X) (K + ridge I)^{-1} y``, ``K(x,x') = H(<x,x'>/d)``
    (``layers="first"``; docs/theory.md, sections 2, 5). The kernel is the NT limit only
    for inputs on the sphere of radius ``sqrt(d)``.

    Parameters
    ----------
    activation : str or Activation, default "relu"
    ridge : float, default 0.0
        ``lambda >= 0``; ``0`` is the minimum-norm interpolator (cg: the
        interpolator, ``K`` must be invertible).
    layers : {"first", "second", "both"}, default "first"
    normalize : bool, default False
        If True, rows are projected onto the sphere (``x sqrt(d)/||x||``,
        :func:`ntphase.data.project_to_sphere`) in ``fit`` and ``predict``, so any nonzero
        input is accepted (the model then depends on directions only). If False,
        off-sphere input raises ``ValueError`` (``ntphase.kernels.infinite_kernel``).
    solver : {"auto", "dense", "cg"}, default "auto"
        ``"dense"``: the kernel and a Cholesky solve (``O(n^3)``, ``16 n^2`` bytes).
        ``"cg"``: preconditioned conjugate gradients on the tiled operator
        (:class:`ntphase.kernels.InfiniteKernelOperator`, memory ``O(n d)`` plus the
        preconditioner), predictions by tiled cross products.
        ``"auto"``: the memory guard and a cost model (dense ``n^2 (d + 25)/2 +
        n^3/3`` flops against the preconditioner's build plus ~8 tiled products), recorded in ``solver_``.
    rtol : float, default 1e-8
        CG stopping rule on the true relative residual.
    maxiter : int or None
        CG iteration cap (default 5000); a miss warns (:class:`ntphase.linalg.ConvergenceWarning`).
    preconditioner : {"auto", "harmonic", "nystrom", "none"}, default "auto"
        ``"harmonic"``: ``K_{<=l} + (gamma_{>l} + ridge) I`` by Woodbury
        (:func:`ntphase.learning.harmonic_preconditioner`, level by its cost model);
        ``"nystrom"``: 1,000 random centres; ``"auto"``: harmonic.
    verbose : bool, default False
        Progress bar with iteration and residual (cg).

    Attributes
    ----------
    dual_coef_ : ndarray, shape (n,)
    X_fit_ : ndarray, shape (n, d)
        Training inputs (projected if ``normalize``).
    n_features_in_ : int
    solver_ : {"dense", "cg+harmonic", "cg+nystrom", "cg"}
    n_iter_ : int or None
    residual_ : float or None

    Notes
    -----
    Fit cost ``O(n^2 d + n^3)`` (dense) or iterations times ``O(n^2 d)`` (cg),
    predict ``O(n_test n d)`` (tiled for cg).
    """

    def __init__(
        self,
        activation: Any = "relu",
        ridge: float = 0.0,
        layers: str = "first",
        normalize: bool = False,
        solver: str = "auto",
        rtol: float = DEFAULT_RTOL,
        maxiter: int | None = None,
        preconditioner: str = "auto",
        verbose: bool = False,
    ) -> None:
        self.activation = activation
        self.ridge = ridge
        self.layers = layers
        self.normalize = normalize
        self.solver = solver
        self.rtol = rtol
        self.maxiter = maxiter
        self.preconditioner = preconditioner
        self.verbose = verbose

    def _kernel(self, X: np.ndarray, X2: np.ndarray | None = None) -> np.ndarray:
        return infinite_kernel(X, self.activation, X2=X2, layers=self.layers)

    def _check_settings(self) -> None:
        self._check_iterative()

    def _solve(self, X: np.ndarray, y: np.ndarray, solve_at: float, layers: str) -> None:
        solver, rtol, maxiter, preconditioner, verbose = self._check_iterative()
        if solver == "auto":
            solver = mf.choose_solver(X.shape[0], X.shape[1], self.activation, layers)
        if solver == "dense":
            super()._solve(X, y, solve_at, layers)
            return
        with mf.progress_bar(verbose, "KernelRidgeNT (CG)", rtol) as progress:
            alpha, info, name = mf.solve_cg(X, y, self.activation, solve_at, layers,
                                            preconditioner=preconditioner, rtol=rtol, maxiter=maxiter,
                                            progress=progress)
        self.dual_coef_ = alpha
        self._record(name, info)

    def predict(self, X: Any) -> np.ndarray:
        """``K(X, X_fit) dual_coef_`` (tiled cross products after a cg fit), shape ``(n_test,)``."""
        if getattr(self, "solver_", "dense") == "dense":
            return super().predict(X)
        X = self._sphere(self._predict_data(X))
        return cross_product(X, self.X_fit_, self.activation, self.dual_coef_, layers=self.layers)


class PolynomialRidge(_SphereKernelRidge):
    """Polynomial ridge regression: the degree-``<= l`` kernel with the self-induced ridge.

    ``f_hat(x) = K_{<=l}(x, X) (K_{<=l} + (ridge + gamma_{>l}) I)^{-1} y`` with
    ``K_{<=l} = sum_{k<=l} B(d,k) xi_{d,k} P_k(<x,x'>/d)`` and
    ``gamma_{>l} = H(1) - sum_{k<=l} B(d,k) xi_{d,k}`` (docs/theory.md, section 5:
    ``R_KRR(lambda) ≈ R_PRR(lambda + gamma_{>l})``).

    Parameters
    ----------
    activation : str or Activation, default "relu"
    ridge : float, default 0.0
        The user ridge ``lambda >= 0``; the solve uses ``lambda + gamma_{>l}``.
    level : int or None, default None
        ``l``; None uses ``ntphase.sphere.level(n, d, activation, layers)`` (the
        degrees the ``n`` samples can fill), resolved in ``fit``.
    layers : {"first", "second", "both"}, default "first"
    normalize : bool, default False
        As in :class:`KernelRidgeNT`.
    solver : {"auto", "dense", "primal"}, default "auto"
        ``"dense"``: the dual ``n x n`` kernel and Cholesky. ``"primal"``
        (``l <= 2``): the explicit spherical-harmonic features, ``w = (F^T F +
        (ridge + gamma_{>l}) D^{-1})^{-1} F^T y`` accumulated over row blocks
        (:func:`ntphase.learning.paths.polynomial_primal_fit`; ``O(n r^2 + r^3)``,
        ``r = sum_{k<=l} B(d,k)``, never ``n x n`` nor ``n x r``). ``"auto"``:
        primal when ``l <= 2`` and ``r < n`` or the dense kernel does not fit.

    Attributes
    ----------
    level_ : int
    gamma_ : float
        ``gamma_{>l}``.
    effective_ridge_ : float
        ``ridge + gamma_{>l}``.
    dual_coef_ : ndarray, shape (n,)
        Dense solver only.
    coef_ : ndarray, shape (r,)
        Primal solver only: weights on the harmonic features of ``degrees_``.
    degrees_ : tuple of int
        Primal solver only.
    X_fit_ : ndarray, shape (n, d)
    n_features_in_ : int
    solver_ : {"dense", "primal"}
    n_iter_, residual_ : None

    Notes
    -----
    Fit cost ``O(n^2 (d + l) + n^3)`` (dense) or ``O(n r^2 + r^3)`` (primal) plus
    ``l + 1`` quadratures for ``xi_{d,k}``.
    """

    def __init__(
        self,
        activation: Any = "relu",
        ridge: float = 0.0,
        level: int | None = None,
        layers: str = "first",
        normalize: bool = False,
        solver: str = "auto",
    ) -> None:
        self.activation = activation
        self.ridge = ridge
        self.level = level
        self.layers = layers
        self.normalize = normalize
        self.solver = solver

    def _kernel(self, X: np.ndarray, X2: np.ndarray | None = None) -> np.ndarray:
        return truncated_kernel(X, self.activation, self.level_, X2=X2, layers=self.layers)

    def _check_settings(self) -> None:
        if self.level is not None:
            check_degree("level", self.level)
        check_choice("solver", self.solver, ("auto", "dense", "primal"))

    def _resolve_ridge(self, X: np.ndarray, ridge: float, layers: str) -> float:
        """Resolve ``l`` (``level_``) and ``gamma_{>l}`` (``gamma_``); solve at ``ridge + gamma_``."""
        n, d = X.shape
        level = (
            sphere_level(n, d, self.activation, layers=layers)
            if self.level is None
            else int(self.level)
        )
        self.level_ = int(level)
        self.gamma_ = float(gamma_above(self.activation, d, self.level_, layers=layers))
        self.effective_ridge_ = ridge + self.gamma_
        return self.effective_ridge_

    def _solve(self, X: np.ndarray, y: np.ndarray, solve_at: float, layers: str) -> None:
        solver = self.solver
        if solver == "auto":
            solver = _polynomial_route(X.shape[0], X.shape[1], self.activation, self.level_, layers)
        if solver == "dense":
            super()._solve(X, y, solve_at, layers)
            return
        fit = polynomial_primal_fit(X, y, self.activation, solve_at - self.gamma_, self.level_, layers)
        self.coef_ = fit.coef
        self.degrees_ = fit.degrees
        self._record("primal", None)

    def predict(self, X: Any) -> np.ndarray:
        """``K_{<=l}(X, X_fit) dual_coef_`` (dense) or ``F(X) coef_`` (primal), shape ``(n_test,)``."""
        if getattr(self, "solver_", "dense") == "dense":
            return super().predict(X)
        X = self._sphere(self._predict_data(X))
        if not self.degrees_:
            return np.zeros(X.shape[0])
        return HarmonicFeatures(X, self.degrees_).matmat(self.coef_)


def _resolve_random_state(random_state: Any) -> Any:
    """Accept what ``as_generator`` takes, plus a legacy ``RandomState`` (seeds a Generator)."""
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    return random_state
