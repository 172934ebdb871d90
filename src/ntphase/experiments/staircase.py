"""Experiment 6: the generalization staircase at large ``d`` and the distances between predictors.

docs/theory.md, section 5 (Montanari & Zhong 2022, Theorem 2): when
``sum_{k<=l} B(d,k) << n << sum_{k<=l+1} B(d,k)`` and ``N d >> n``, NT ridge, KRR with
the infinite kernel and polynomial ridge on degrees ``<= l`` with ridge
``lambda + gamma_{>l}`` give the same predictor, with test error near
``||P_{>l} f*||^2``. This experiment measures it where the theorem lives (``d = 100``
and ``500``, ``n`` up to tens of thousands): the test error of the three fits against
``n`` beside the KRR, PRR and random-features deterministic equivalents and the
asymptotic staircase (section 6), and the statement itself, the distances
``||f_NT - f_KRR||`` and ``||f_KRR - f_PRR||`` in ``L2`` of the sphere relative to
``||f*||``, which shrink inside a regime and grow near ``n ~ sum_{k<=l} B(d,k)``. Near such
a level change PRR is fitted at both adjacent levels ``l - 1`` and ``l`` (two rows, never
switched silently).

One task = one ``(activation, d, n, repeat)``: one sample, one test set, every ridge and
every model on them (so the distances compare predictors fitted on the same data).
Activations are registered names or ``"shifted_tanh"``, ``sigma(x) = tanh(x + shift)``
(``Activation.from_callables``), whose ``xi_{d,k}`` are nonzero for every ``k`` (ReLU's
vanish for odd ``k >= 3``, so its degree-3 energy is a floor). Test errors are Monte
Carlo on fresh points with the energy of degrees a fit provably lacks added exactly
(``learning.split_test_error``, docs/theory.md, section 7).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import numpy as np
import pandas as pd
from pydantic import AfterValidator, Field, field_validator, model_validator

from ntphase.activations import ACTIVATIONS, Activation, get_activation
from ntphase.conventions import nt_feature_count
from ntphase.data import HarmonicTarget, sample_sphere, sample_weights
from ntphase.experiments import plots
from ntphase.experiments.agreement import agreement_row
from ntphase.experiments.config import (
    MAX_WIDTH_RATIO,
    ExperimentConfig,
    Ridges,
    TargetCoefficients,
    WeightDistribution,
    check_sample_sizes,
    check_unique,
)
from ntphase.experiments.generalization import absent_degrees
from ntphase.learning import (
    KernelRidgeNT,
    NTRidge,
    PolynomialRidge,
    choose_solver,
    kernel_ridge_path,
    nt_ridge_path,
    split_test_error,
)
from ntphase.sphere import level, multiplicity, sphere_spectrum
from ntphase.theory import asymptotic_risk, krr_risk, nt_ridge_risk, prr_risk

NAME: Final = "staircase"
MODELS = ("NT", "KRR", "PRR")
#: Activation name of ``sigma(x) = tanh(x + shift)`` (every degree present; the shift is a config field).
SHIFTED_TANH: Final = "shifted_tanh"
#: Solver choices passed to the estimators (``"auto"``: the estimators decide and record it).
SOLVERS = ("auto", "dense", "cg")
#: Highest degree whose level change is considered for the two-level PRR rows.
MAX_LEVEL: Final = 4


def check_activation_spec(values: list[str]) -> list[str]:
    """Distinct registered activation names or ``"shifted_tanh"``."""
    allowed = sorted([*ACTIVATIONS, SHIFTED_TANH])
    for v in values:
        if not isinstance(v, str) or v not in allowed:
            raise ValueError(f"every activation must be one of {allowed}, got {v!r}")
    return check_unique(values)


def check_sizes(value: dict[int, list[int]]) -> dict[int, list[int]]:
    """``d -> n values``: at least one ``d >= 2``, each with increasing sample sizes ``n >= 2``."""
    if not value:
        raise ValueError("must map at least one dimension d to its sample sizes n")
    for d, ns in value.items():
        if d < 2:
            raise ValueError(f"every dimension d must be an integer >= 2 (key {d})")
        try:
            check_sample_sizes(ns)
        except ValueError as exc:
            raise ValueError(f"n values of d={d}: {exc}") from None
    return dict(sorted(value.items()))


class Config(ExperimentConfig):
    """Test error and predictor distances against ``n`` for NT, KRR and PRR at large ``d``.

    Attributes
    ----------
    activations : list of str
        Registered names or ``"shifted_tanh"`` (``tanh(x + shift)``).
    shift : float
        The shift of ``"shifted_tanh"`` (nonzero: ``tanh`` itself has no even degrees).
    sizes : dict of int -> list of int
        ``d -> increasing sample sizes n``.
    n_test : int
    width_ratio : float
        ``N d / n`` of the NT model.
    ridges : list of float
        ``lambda >= 0`` values (0: minimum-norm interpolation).
    target : dict of int -> float
        Degree -> coefficient ``c_k`` (energy ``c_k^2``).
    noise : float
    nt_max_n : int
        NT ridge is fitted only for ``n <= nt_max_n`` (its kernel costs ``n^2 N``).
    level_window : float
        PRR is also fitted at the two levels ``l - 1, l`` whenever
        ``S_l / level_window <= n <= S_l level_window``, ``S_l = sum_{k<=l} B(d,k)``.
    solver : {"auto", "dense", "cg"}
        Passed to the estimators (``"cg"`` is ``"primal"`` for PRR); what ran is recorded per row
        (``solver_used``, ``n_iter``, ``residual``).
    theory_points : int
        Points of the fine ``n`` grid of the theory rows (per ``d``).
    """

    experiment: Literal["staircase"] = NAME
    activations: Annotated[list[str], AfterValidator(check_activation_spec)] = Field(
        default_factory=lambda: ["relu", SHIFTED_TANH])
    shift: float = Field(0.5, ge=-10.0, le=10.0)
    sizes: Annotated[dict[int, list[int]], AfterValidator(check_sizes)] = Field(
        default_factory=lambda: {30: [30, 60, 120, 250, 500, 1000, 1500]})
    n_test: int = Field(4000, ge=10)
    width_ratio: float = Field(8.0, gt=0, le=MAX_WIDTH_RATIO)
    ridges: Ridges = Field(default_factory=lambda: [0.0, 0.1])
    target: TargetCoefficients = Field(default_factory=lambda: {1: 1.0, 2: math.sqrt(0.5), 3: 0.5})
    noise: float = Field(0.1, ge=0)
    nt_max_n: int = Field(10**9, ge=1)
    level_window: float = Field(1.6, ge=1.0, le=100.0)
    solver: Literal["auto", "dense", "cg"] = "auto"
    theory_points: int = Field(150, ge=2, le=5000)
    repeats: int = Field(3, ge=1, le=10_000, description="independent seeds per (activation, d, n)")
    weights: WeightDistribution = "gaussian"

    @field_validator("shift")
    @classmethod
    def _nonzero_shift(cls, value: float) -> float:
        if value == 0.0:
            raise ValueError("must be nonzero (tanh(x) has xi_{d,k} = 0 for every even k)")
        return value

    @model_validator(mode="after")
    def _target_degrees(self) -> Config:
        if max(self.target) > MAX_LEVEL:
            raise ValueError(f"target degrees must be <= {MAX_LEVEL}, got {max(self.target)}")
        return self


@functools.lru_cache(maxsize=16)
def shifted_tanh(shift: float) -> Activation:
    """``sigma(x) = tanh(x + shift)``, ``sigma'(x) = 1 - tanh(x + shift)^2`` (one object per shift,
    so the cached spectra and kernel functions are reused)."""
    b = float(shift)

    def sigma(x: np.ndarray) -> np.ndarray:
        return np.tanh(x + b)

    def dsigma(x: np.ndarray) -> np.ndarray:
        return 1.0 - np.tanh(x + b) ** 2

    return Activation.from_callables(sigma, dsigma, name=f"tanh(x{b:+g})", breakpoints=())


def resolve_activation(name: str, shift: float) -> Activation:
    """The activation named ``name`` (``"shifted_tanh"``: :func:`shifted_tanh` of ``shift``)."""
    return shifted_tanh(float(shift)) if name == SHIFTED_TANH else get_activation(name)


def energies(target: dict) -> dict[int, float]:
    """Degree energies ``c_k^2``."""
    return {int(k): float(c) ** 2 for k, c in target.items()}


def level_sums(d: int, activation: Any, lmax: int = MAX_LEVEL) -> dict[int, int]:
    """``S_l = sum_{k<=l, xi_{d,k}>0} B(d,k)`` for the levels ``l >= 1`` the kernel has (present degrees),
    the ``n`` at which :func:`ntphase.sphere.level` changes."""
    spec = sphere_spectrum(activation, d, lmax)
    pos = spec.positive()
    out, total = {}, 0
    for k in range(lmax + 1):
        if pos[k]:
            total += multiplicity(d, k)
            if k >= 1:
                out[k] = total
    return out


def prr_levels(n: int, d: int, activation: Any, window: float) -> list[int]:
    """The PRR levels fitted at ``n``: ``level(n, d)``, plus both levels on each side of every level
    change ``S_l`` with ``S_l / window <= n <= S_l window`` (the previous present level and ``l``)."""
    levels = {int(level(n, d, activation))}
    sums = level_sums(d, activation)
    present = [0, *sums]
    for i, (l, s) in enumerate(sums.items()):
        if s / window <= n <= s * window:
            levels |= {present[i], l}
    return sorted(levels)


def _width(n: int, d: int, ratio: float) -> int:
    return max(1, int(round(ratio * n / d)))


def tasks(config: Config) -> list[dict]:
    """One task per (activation, d, n, repeat)."""
    out = []
    for name in config.activations:
        act = resolve_activation(name, config.shift)
        for d, ns in config.sizes.items():
            for n in ns:
                for r in range(config.repeats):
                    params = {
                        "activation": name, "d": d, "n": n, "n_test": config.n_test,
                        "N": _width(n, d, config.width_ratio), "ridges": list(config.ridges),
                        "target": {str(k): v for k, v in config.target.items()}, "noise": config.noise,
                        "weights": config.weights, "fit_nt": bool(n <= config.nt_max_n),
                        "prr_levels": prr_levels(n, d, act, config.level_window), "solver": config.solver,
                        "repeat": r,
                    }
                    if name == SHIFTED_TANH:
                        params["shift"] = config.shift
                    out.append(params)
    return out


def _configure(estimator: Any, solver: str) -> Any:
    """Pass ``solver`` to the estimator (``"cg"``, matrix-free, is ``"primal"`` for :class:`PolynomialRidge`:
    its features have finite dimension ``S_l``)."""
    if isinstance(estimator, PolynomialRidge) and solver == "cg":
        solver = "primal"
    return estimator.set_params(solver=solver)


def _solver_info(estimator: Any) -> dict:
    """``solver_used`` (the fitted ``solver_``), ``n_iter`` (``n_iter_``) and ``residual`` (``residual_``;
    NaN for direct solves) of a fitted estimator."""
    solver = getattr(estimator, "solver_", None)
    n_iter = getattr(estimator, "n_iter_", None)
    residual = getattr(estimator, "residual_", None)
    return {"solver_used": "dense" if solver is None else str(solver),
            "n_iter": float("nan") if n_iter is None else float(n_iter),
            "residual": float("nan") if residual is None else float(residual)}


def _distance(a: np.ndarray, b: np.ndarray, norm: float) -> tuple[float, float]:
    """Monte-Carlo ``||a - b||_{L2} / norm`` on the test points and its standard error (delta method:
    ``se(sqrt(m)) = se(m) / (2 sqrt(m))``)."""
    sq = (a - b) ** 2
    m = float(sq.mean())
    se_m = float(sq.std(ddof=1) / math.sqrt(sq.size))
    root = math.sqrt(m)
    return root / norm, (se_m / (2.0 * root) if root > 0 else 0.0) / norm


def _batched_fits(params: dict, act: Activation, X: np.ndarray, y: np.ndarray, X_test: np.ndarray,
                  nt_seed: int) -> dict[str, Any]:
    """KRR and NT fitted at every ridge at once where they run matrix-free: one block PCG per model
    (:func:`~ntphase.learning.kernel_ridge_path`, :func:`~ntphase.learning.nt_ridge_path`), so the
    kernel products are shared by the ridges. Dense fits stay one Cholesky per ridge (a dense path
    would need an eigendecomposition). The NT weights are those :class:`NTRidge` draws from ``nt_seed``."""
    ridges = [float(v) for v in params["ridges"]]
    solver = str(params.get("solver", "auto"))
    n, d = X.shape
    out: dict[str, Any] = {}
    if len(ridges) < 2 or solver == "dense":
        return out
    if solver == "cg" or choose_solver(n, d, act) == "cg":
        out["KRR"] = kernel_ridge_path(X, y, act, ridges, X_test, solver="cg")
    N = int(params["N"])
    # NTRidge's "auto": with fewer than n features it solves the primal side densely
    auto_cg = nt_feature_count(N, d) >= n and choose_solver(n, d, act, width=N) == "cg"
    if params.get("fit_nt", True) and (solver == "cg" or auto_cg):
        W = sample_weights(N, d, np.random.default_rng(nt_seed), distribution=params.get("weights", "gaussian"))
        out["NT"] = nt_ridge_path(X, y, W, act, ridges, X_test, solver="cg")
    return out


def run_task(params: dict, seed: int) -> list[dict]:
    """Fit NT, KRR and PRR (each listed level) at every ridge on one sample; test errors and distances.

    Where KRR and NT run matrix-free, all ridges are one block PCG per model (:func:`_batched_fits`);
    otherwise each ridge is one estimator fit (its ``solver_`` decides)."""
    name, d, n, n_test, N = (params["activation"], int(params["d"]), int(params["n"]), int(params["n_test"]),
                             int(params["N"]))
    act = resolve_activation(name, float(params.get("shift", 0.0)))
    coefs = {int(k): float(v) for k, v in params["target"].items()}
    solver = str(params.get("solver", "auto"))
    rng = np.random.default_rng(seed)
    X = sample_sphere(n, d, rng)
    X_test = sample_sphere(n_test, d, rng)
    target = HarmonicTarget(d, coefs, rng=rng)
    y = target(X) + float(params["noise"]) * rng.standard_normal(n)
    nt_seed = int(rng.integers(2**63))  # the same W at every ridge
    norm = math.sqrt(target.total_energy())
    lev = int(level(n, d, act))
    # Degrees no fit here contains (xi_{d,k} = 0 for K and hence for every NT feature map; PRR in
    # addition has nothing above its level): their energy is added exactly (split_test_error).
    absent = absent_degrees(act, d, max(coefs))  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batched = _batched_fits(params, act, X, y, X_test, nt_seed)
    rows: list[dict] = []
    for index, lam in enumerate(float(v) for v in params["ridges"]):
        fits: dict[tuple[str, int], tuple[np.ndarray, set[int], dict]] = {}
        estimators: list[tuple[str, int, Any, set[int]]] = [("KRR", -1, KernelRidgeNT(act, ridge=lam), absent)]
        for l in params["prr_levels"]:
            estimators.append(("PRR", int(l), PolynomialRidge(act, ridge=lam, level=int(l)),
                               absent | {k for k in coefs if k > int(l)}))
        if params.get("fit_nt", True):
            estimators.append(("NT", -1, NTRidge(act, width=N, ridge=lam, weights=params.get("weights", "gaussian"),
                                                 random_state=nt_seed), absent))
        for model, l, est, exact in estimators:
            if model in batched:
                path = batched[model]
                pred = path.predictions_test[index]
                info = {"solver_used": path.solver, "n_iter": float(path.n_iter[index]),
                        "residual": float(path.residual[index])}
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    _configure(est, solver).fit(X, y)
                    pred = est.predict(X_test)
                info = _solver_info(est)
            if model == "PRR":
                info.update(fit_ridge=float(est.effective_ridge_), gamma=float(est.gamma_))
            else:
                info.update(fit_ridge=lam, gamma=float("nan"))
            fits[(model, l)] = (pred, exact, info)
            err, se = split_test_error(pred, target, X_test, sorted(exact))
            base = {"model": model, "ridge": lam, "level": l if model == "PRR" else lev,
                    "prr_choice": ("level(n)" if l == lev else "adjacent") if model == "PRR" else "", **info}
            rows.append({"quantity": "test_error", "value": float(err), **base})
            rows.append({"quantity": "test_error_se", "value": float(se), **base})
        krr = fits[("KRR", -1)][0]
        others = [("PRR", l) for l in params["prr_levels"]] + ([("NT", -1)] if ("NT", -1) in fits else [])
        for model, l in others:
            dist, se = _distance(fits[(model, l)][0], krr, norm)
            base = {"model": model, "ridge": lam, "level": l if model == "PRR" else lev,
                    "prr_choice": ("level(n)" if l == lev else "adjacent") if model == "PRR" else "",
                    **fits[(model, l)][2]}
            rows.append({"quantity": "distance_to_krr", "value": dist, **base})
            rows.append({"quantity": "distance_to_krr_se", "value": se, **base})
    return rows


def _theory_grid(ns: Sequence[int], points: int) -> np.ndarray:
    return np.unique(np.round(np.geomspace(min(ns), max(ns), points)).astype(int))


def theory_rows(config: Config) -> list[dict]:
    """Asymptotic staircase ``||P_{>l(n)} f*||^2``, the KRR, PRR (every level fitted at that ``n``) and
    NT random-features deterministic equivalents, on a fine ``n`` grid per ``(activation, d, ridge)``."""
    e = energies(config.target)
    rows = []
    for name in config.activations:
        act = resolve_activation(name, config.shift)
        for d, ns in config.sizes.items():
            grid = _theory_grid(ns, config.theory_points)
            levels = np.array([level(int(n), d, act) for n in grid])
            stair = np.atleast_1d(asymptotic_risk(e, levels, activation=act, d=d))
            Ns = np.array([_width(int(n), d, config.width_ratio) for n in grid])
            per_n = [prr_levels(int(n), d, act, config.level_window) for n in grid]
            for lam in config.ridges:
                base = {"activation": name, "d": d, "ridge": lam}
                krr = np.atleast_1d(krr_risk(act, d, grid, lam, e, noise=config.noise))
                with np.errstate(all="ignore"):
                    ntr = np.atleast_1d(nt_ridge_risk(act, d, grid, Ns, lam, e, noise=config.noise))
                prr: dict[int, np.ndarray] = {}
                for l in sorted({l for ls in per_n for l in ls}):
                    prr[l] = np.atleast_1d(prr_risk(act, d, grid, lam, e, noise=config.noise, level=l))
                for i, n in enumerate(grid):
                    n = int(n)
                    rows.append({**base, "quantity": "asymptotic_risk", "n": n, "level": int(levels[i]),
                                 "value": float(stair[i])})
                    rows.append({**base, "quantity": "krr_risk", "n": n, "value": float(krr[i])})
                    rows.append({**base, "quantity": "nt_ridge_risk", "n": n, "N": int(Ns[i]), "value": float(ntr[i])})
                    for l in per_n[i]:
                        rows.append({**base, "quantity": "prr_risk", "n": n, "level": l,
                                     "prr_choice": "level(n)" if l == levels[i] else "adjacent",
                                     "value": float(prr[l][i])})
    return rows


def theory_settings(config: Config) -> list[tuple[str, int, int]]:
    """``(activation, d, n)`` for the report's theory-constants table: registered activations only,
    the largest ``n`` of each ``d``."""
    return [(a, d, max(ns)) for a in config.activations if a in ACTIVATIONS for d, ns in config.sizes.items()]


def _measured(table: pd.DataFrame, **equal: Any) -> pd.DataFrame:
    """Mean and s.e. over seeds against ``n`` of the test-error rows matching ``equal``."""
    return plots.mean_se(plots.select(table, quantity="test_error", **equal), ["n"])


def agreement(table: pd.DataFrame, theory: pd.DataFrame, config: Config) -> list[dict]:
    """Each prediction's measured relative error at every ``n``: the KRR, PRR (each fitted level) and NT
    random-features deterministic equivalents, and the asymptotic staircase against KRR."""
    e = energies(config.target)
    rows: list[dict] = []
    for name in config.activations:
        act = resolve_activation(name, config.shift)
        for d in config.sizes:
            for lam in config.ridges:
                setting = f"{name}, d={d}, lambda={lam:g}, tau={config.noise:g}"
                sel = {"activation": name, "d": d, "ridge": lam}
                krr = _measured(table, model="KRR", **sel)
                for n, m, se in zip(krr["n"].astype(int), krr["mean"], krr["se"]):
                    pred = float(np.asarray(krr_risk(act, d, int(n), lam, e, noise=config.noise)).item())
                    rows.append(agreement_row("KRR det. equiv. vs KRR", setting, pred, m, f"n={n}, s.e. {se:.2g}"))
                    lev = int(level(int(n), d, act))
                    stair = float(np.asarray(asymptotic_risk(e, lev, activation=act, d=d)).item())
                    rows.append(agreement_row("asymptotic ||P_>l f*||^2 vs KRR", setting, stair, m,
                                              f"n={n}, l={lev}, s.e. {se:.2g}"))
                prr_rows = plots.select(table, quantity="test_error", model="PRR", **sel)
                for l in sorted(prr_rows["level"].unique()) if len(prr_rows) else []:
                    agg = plots.mean_se(prr_rows[prr_rows["level"] == l], ["n"])
                    for n, m, se in zip(agg["n"].astype(int), agg["mean"], agg["se"]):
                        pred = float(np.asarray(prr_risk(act, d, int(n), lam, e, noise=config.noise,
                                                         level=int(l))).item())
                        rows.append(agreement_row(f"PRR det. equiv. vs PRR(lambda+gamma_>l), l={int(l)}", setting,
                                                  pred, m, f"n={n}, s.e. {se:.2g}"))
                nt = _measured(table, model="NT", **sel)
                for n, m, se in zip(nt["n"].astype(int), nt["mean"], nt["se"]):
                    N = _width(int(n), d, config.width_ratio)
                    with np.errstate(all="ignore"):
                        pred = float(np.asarray(nt_ridge_risk(act, d, int(n), N, lam, e, noise=config.noise)).item())
                    rows.append(agreement_row(f"NT RF det. equiv. vs NT (Nd/n={config.width_ratio:g})", setting,
                                              pred, m, f"n={n}, N={N}, s.e. {se:.2g}"))
    return rows


def plot(table: pd.DataFrame, config: Config, outdir: str | Path, theory: pd.DataFrame | None = None) -> list[Path]:
    """Figure ``staircase``: one row per ``(activation, d)``; one test-error panel per ridge (simulation
    markers, deterministic equivalents and the staircase as lines) and one panel of the distances
    ``||f - f_KRR|| / ||f*||``; guide lines at ``S_l = sum_{k<=l} B(d,k)``."""
    if theory is None:
        theory = pd.DataFrame(theory_rows(config))
    combos = [(a, d) for a in config.activations for d in config.sizes]
    ncols = len(config.ridges) + 1
    fig, axes = plots.new_figure(len(combos), ncols, width=4.6, height=3.5)
    for r, (name, d) in enumerate(combos):
        act = resolve_activation(name, config.shift)
        sums = level_sums(d, act)
        ns = config.sizes[d]
        label = name if name != SHIFTED_TANH else f"tanh(x{config.shift:+g})"
        for c, lam in enumerate(config.ridges):
            ax = axes[r, c]
            sel = {"activation": name, "d": d, "ridge": lam}
            for i, model in enumerate(("NT", "KRR")):
                agg = _measured(table, model=model, **sel)
                shift = {"NT": 0.95, "KRR": 1.0}[model]
                plots.simulation(ax, agg["n"] * shift, agg["mean"], agg["se"], i=i,
                                 label={"NT": fr"NT ($Nd/n$={config.width_ratio:g})", "KRR": "KRR"}[model])
            prr = plots.select(table, quantity="test_error", model="PRR", **sel)
            for j, l in enumerate(sorted(prr["level"].unique()) if len(prr) else []):
                agg = plots.mean_se(prr[prr["level"] == l], ["n"])
                plots.simulation(ax, agg["n"] * (1.05 + 0.04 * j), agg["mean"], agg["se"], i=2 + j, filled=False,
                                 label=fr"PRR($\lambda+\gamma_{{>{int(l)}}}$), $\ell$={int(l)}")
            th = plots.select(theory, **sel)
            st = plots.select(th, quantity="asymptotic_risk")
            ax.step(st["n"], st["value"], where="post", color="0.2", ls="--", lw=1.2,
                    label=r"$\|P_{>\ell(n)} f^*\|^2$")
            kr = plots.select(th, quantity="krr_risk")
            plots.theory(ax, kr["n"], kr["value"], label="KRR det. equiv.", i=1)
            ntr = plots.select(th, quantity="nt_ridge_risk")
            ntr = ntr[np.isfinite(ntr["value"])]
            plots.theory(ax, ntr["n"], ntr["value"], label="NT RF det. equiv.", i=0, style="-.", lw=1.0)
            pr = plots.select(th, quantity="prr_risk")
            for j, l in enumerate(sorted(pr["level"].unique()) if len(pr) else []):
                sub = pr[pr["level"] == l]
                plots.theory(ax, sub["n"], sub["value"], label=None, i=2 + j, style=":", lw=1.2)
            _guides(ax, sums, ns)
            ax.set_xscale("log")
            ax.set_yscale("log")
            plots.finish(ax, r"$n$", r"test error $\|f^*-\hat f\|^2$",
                         f"{label}, d={d}, " + r"$\lambda$" + f"={lam:g}", loc="upper right", fontsize=6)
        ax = axes[r, ncols - 1]
        for c, lam in enumerate(config.ridges):
            sel = {"activation": name, "d": d, "ridge": lam}
            nt = plots.select(table, quantity="distance_to_krr", model="NT", **sel)
            if len(nt):
                agg = plots.mean_se(nt, ["n"])
                plots.simulation(ax, agg["n"], agg["mean"], agg["se"], i=0, filled=(c == 0),
                                 label=fr"$\|f_{{NT}}-f_{{KRR}}\|$, $\lambda$={lam:g}")
            prr = plots.select(table, quantity="distance_to_krr", model="PRR", **sel)
            for j, l in enumerate(sorted(prr["level"].unique()) if len(prr) else []):
                agg = plots.mean_se(prr[prr["level"] == l], ["n"])
                plots.simulation(ax, agg["n"], agg["mean"], agg["se"], i=2 + j, filled=(c == 0),
                                 label=fr"$\|f_{{PRR,\ell={int(l)}}}-f_{{KRR}}\|$, $\lambda$={lam:g}")
        _guides(ax, sums, ns)
        ax.set_xscale("log")
        ax.set_yscale("log")
        plots.finish(ax, r"$n$", r"distance $/\ \|f^*\|$ (L2 of the sphere)", f"{label}, d={d}: predictors",
                     loc="best", fontsize=6)
    tgt = ", ".join(f"$c_{k}^2$={c * c:.3g}" for k, c in config.target.items())
    plots.caption(fig, f"target energies {tgt}, noise {config.noise:g}; markers: simulation (mean $\\pm$ s.e. "
                       f"over {config.repeats} seeds; open: PRR at each fitted level); lines: theory; dotted "
                       r"verticals: $S_\ell=\sum_{k\leq\ell}B(d,k)$")
    return plots.save_figure(fig, outdir, NAME)


def _guides(ax: Any, sums: dict[int, int], ns: Sequence[int]) -> None:
    for l, s in sums.items():
        if min(ns) / 1.5 <= s <= max(ns) * 1.5:
            ax.axvline(s, color="0.6", lw=0.8, ls=":")
            ax.text(s, 0.03, fr"$S_{l}$", transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=7,
                    bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1})
