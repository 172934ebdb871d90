"""Experiment 6: real data. scikit-learn's handwritten digits beside the isotropic theory.

The paper's theory (Montanari & Zhong 2022) is for points uniform on the sphere. Here
the 1,797 8x8 digit images of scikit-learn (``sklearn.datasets.load_digits``; the
data ship with the package, nothing is downloaded; Alpaydin & Kaynak 1998, UCI) are
centered (the mean image subtracted) and projected onto the sphere of radius
``sqrt(d)``, ``d = 64`` (:func:`load_digits_sphere`), and two questions are asked:

- *The threshold* (docs/theory.md, section 4): is ``lambda_min(K_N)`` still 0 below
  ``N d = n`` and positive above? For any data, ``K_N = Phi Phi^T`` with feature rows
  ``x_i (x) sigma'(W x_i) / sqrt(N d)`` in the span of ``x_i``, so
  ``rank(K_N) <= N rank(X)``: the threshold moves to ``N rank(X) = n``. Three pixels
  are 0 in every image, so ``rank(X) = 61`` and the threshold is at
  ``N d / n = 64/61 = 1.05``. Above it, the anisotropic data (a few directions carry
  most of the variance) give a much smaller ``lambda_min`` than the isotropic
  sphere; both are measured on the same grid (one task per ``(N, repeat)``). This
  sweep uses ``threshold_activation`` (default tanh, ``sigma' > 0``): with ReLU a
  sample on which all ``N`` units are inactive is a zero row of ``K_N``
  (probability ``2^-N``, e.g. 16 of 256 rows at ``N = 4``), which at these small
  widths hides the threshold on any data (docs/theory.md, section 4).
  A random subset of ``n`` digits can have a smaller rank than 61 (pixels that are
  0 in every chosen image), so the rank bound is checked per task.
- *Generalization* (docs/theory.md, sections 5-6): NT ridge (width
  ``N = width_ratio n / d``) and KRR test error against ``n`` on held-out digits, for
  the label ``+1`` (even digit) / ``-1`` (odd), beside the isotropic deterministic
  equivalents at the same ``(n, d)`` for a target with the same energy split: the
  share of ``E y^2`` explained by a linear fit on the whole data set (``R^2``, the
  analogue of the degree-1 energy ``||P_1 f*||^2``) in degree 1, the rest in degree 2
  (an assumption, stated on the figure). One task per ``(n, repeat)``.

Rows (``run_task``): ``quantity``, ``value``, ``data`` (``"digits"`` or
``"isotropic"``), ``ratio`` (``N d / n``) for the threshold tasks, ``model``
(``"NT"``/``"KRR"``) for the risk tasks.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Final, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationInfo, field_validator
from sklearn.datasets import load_digits

from ntphase.data import project_to_sphere, sample_sphere, sample_weights
from ntphase.experiments import plots
from ntphase.experiments.agreement import agreement_row
from ntphase.experiments.config import (
    MAX_WIDTH_RATIO,
    ActivationName,
    ExperimentConfig,
    SampleSizes,
    WidthRatios,
)
from ntphase.kernels import infinite_kernel, nt_kernel
from ntphase.linalg import eigenvalues, ridge_path
from ntphase.theory import krr_risk, lambda_min_edge, nt_ridge_risk

NAME: Final = "digits"

#: the input dimension of the digits (8 x 8 pixels)
DIGITS_D: Final = 64

#: images in scikit-learn's digits data set
DIGITS_N: Final = 1797

DESCRIPTION = (
    "Real data: scikit-learn's 1,797 handwritten digits (8x8 pixels, shipped with the package), centered and "
    "projected onto the sphere of radius sqrt(d), d = 64. Left: ``lambda_min(K_N)`` against ``N d / n`` on the "
    "digits and on isotropic points with the same (n, d); ``rank(K_N) <= N rank(X)`` moves the threshold to "
    "``N rank(X) = n`` (``rank(X) = 61``: three pixels are always 0). Right: NT ridge and KRR test error on "
    "held-out digits (label: even +1 / odd -1) against n, beside the isotropic deterministic equivalents with "
    "the same (n, d) and the same linear / non-linear energy split of the label; the measured gap is in the "
    "agreement table."
)


@functools.lru_cache(maxsize=2)
def _digits(center: bool) -> tuple[np.ndarray, np.ndarray]:
    data = load_digits()
    X = np.asarray(data.data, dtype=np.float64)
    if center:
        X = X - X.mean(axis=0)
    Z = project_to_sphere(X)
    Z.flags.writeable = False
    labels = np.asarray(data.target, dtype=np.int64)
    labels.flags.writeable = False
    return Z, labels


def load_digits_sphere(center: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits on the sphere of radius ``sqrt(64)``.

    ``x_i = sqrt(d) (p_i - m) / ||p_i - m||`` with ``p_i`` the 64 pixel values of image
    ``i`` (0..16) and ``m`` the mean image (``m = 0`` when ``center=False``). The data
    ship with scikit-learn (``sklearn.datasets.load_digits``); nothing is downloaded.

    Parameters
    ----------
    center : bool
        Subtract the mean image first (default). Uncentered images all lie in the
        positive orthant, far from isotropic.

    Returns
    -------
    X : ndarray, shape (1797, 64), float64, read-only
        Rows with ``||x_i|| = 8``; rank 61 (three pixels are 0 in every image).
    labels : ndarray, shape (1797,), int64, read-only
        The digit 0..9 of each image.

    Notes
    -----
    Cost ``O(n d)``; cached (the same read-only arrays on every call).
    """
    if not isinstance(center, (bool, np.bool_)):
        raise TypeError(f"center must be a bool, got {type(center).__name__}")
    return _digits(bool(center))


def parity_labels(digits: np.ndarray) -> np.ndarray:
    """``+1`` for an even digit, ``-1`` for an odd one (float64)."""
    return np.where(np.asarray(digits) % 2 == 0, 1.0, -1.0)


def linear_energy(X: np.ndarray, y: np.ndarray) -> float:
    """Share of ``E y^2`` explained by the least-squares affine fit ``a + <b, x>`` on all of ``X``.

    ``1 - ||y - a - X b||^2 / ||y||^2``: the analogue on these data of the energy of
    degrees 0 and 1, ``(||P_0 f||^2 + ||P_1 f||^2) / ||f||^2``, used to give the isotropic
    prediction the same energy split. Cost ``O(n d^2)``.
    """
    A = np.column_stack([np.ones(len(X)), X])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    return float(1.0 - np.sum(resid**2) / np.sum(y**2))


class Config(ExperimentConfig):
    """Digits beside the isotropic theory (defaults: the quick preset, ~20 s on one core).

    Attributes
    ----------
    activation : str
        Activation of the generalization sweep (ReLU: the paper's).
    threshold_activation : str
        Activation of the threshold sweep (default tanh: no dead units, see the
        module docstring).
    center : bool
        Subtract the mean image before projecting on the sphere.
    n_threshold : int
        Training points of the threshold sweep (a random subset of the digits).
    ratios : list of float
        Values of ``N d / n_threshold``; ``N = max(1, round(ratio n / d))``.
    n_values : list of int
        Training sizes of the generalization sweep (increasing, at most
        ``1797 - n_test``).
    n_test : int
        Held-out digits for the test error (disjoint from the training set).
    width_ratio : float
        ``N d / n`` of the NT ridge model.
    ridge : float
        ``lambda >= 0`` (0: minimum-norm interpolation).
    """

    experiment: Literal["digits"] = NAME
    activation: ActivationName = "relu"
    threshold_activation: ActivationName = "tanh"
    center: bool = True
    n_threshold: int = Field(256, ge=2, le=DIGITS_N)
    ratios: WidthRatios = Field(default_factory=lambda: [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 4.0, 8.0, 16.0])
    n_values: SampleSizes = Field(default_factory=lambda: [32, 64, 128, 256, 512, 1024])
    n_test: int = Field(500, ge=10, le=DIGITS_N - 1)
    width_ratio: float = Field(8.0, gt=0, le=MAX_WIDTH_RATIO)
    ridge: float = Field(0.0, ge=0)
    repeats: int = Field(2, ge=1, le=10_000, description="independent seeds per grid point")

    @field_validator("n_test")
    @classmethod
    def _disjoint_sets(cls, value: int, info: ValidationInfo) -> int:
        sizes = info.data.get("n_values")
        if sizes and max(sizes) + value > DIGITS_N:
            raise ValueError(f"max(n_values) + n_test must be <= {DIGITS_N} (disjoint training and test digits), "
                             f"max(n_values) is {max(sizes)}")
        return value


def widths(config: Config) -> list[int]:
    """Distinct widths ``N = max(1, round(ratio n_threshold / d))`` of the ratio grid."""
    return sorted({max(1, int(round(r * config.n_threshold / DIGITS_D))) for r in config.ratios})


def tasks(config: Config) -> list[dict]:
    """Threshold tasks (one per ``(N, repeat)``) and risk tasks (one per ``(n, repeat)``)."""
    base = {"activation": config.activation, "center": config.center}
    out = [{**base, "activation": config.threshold_activation, "kind": "threshold", "n": config.n_threshold, "N": N,
            "repeat": r} for N in widths(config) for r in range(config.repeats)]
    out += [{**base, "kind": "risk", "n": n, "n_test": config.n_test,
             "N": max(1, int(round(config.width_ratio * n / DIGITS_D))), "ridge": config.ridge, "repeat": r}
            for n in config.n_values for r in range(config.repeats)]
    return out


def _numerical_rank(eigs: np.ndarray, n: int) -> int:
    tol = n * np.finfo(np.float64).eps * float(np.max(np.abs(eigs)))
    return int(np.sum(eigs > tol))


def _threshold_rows(params: dict, seed: int) -> list[dict]:
    act, n, N = params["activation"], int(params["n"]), int(params["N"])
    rng = np.random.default_rng(seed)
    Z, _ = load_digits_sphere(bool(params["center"]))
    d = Z.shape[1]
    samples = {"digits": Z[rng.choice(len(Z), size=n, replace=False)], "isotropic": sample_sphere(n, d, rng)}
    W = sample_weights(N, d, rng)  # the same weights for both data sets
    rows = []
    for data, X in samples.items():
        eigs_N = eigenvalues(nt_kernel(X, W, act))
        eigs_K = eigenvalues(infinite_kernel(X, act))
        values = {"lambda_min_KN": float(eigs_N[0]), "lambda_min_K": float(eigs_K[0]),
                  "rank_KN": float(_numerical_rank(eigs_N, n)), "rank_X": float(np.linalg.matrix_rank(X)),
                  "lambda_max_KN": float(eigs_N[-1])}
        rows += [{"quantity": q, "value": v, "data": data, "ratio": N * d / n} for q, v in values.items()]
    return rows


def _risk_rows(params: dict, seed: int) -> list[dict]:
    act, n, n_test, N = params["activation"], int(params["n"]), int(params["n_test"]), int(params["N"])
    lam = float(params["ridge"])
    rng = np.random.default_rng(seed)
    Z, digit = load_digits_sphere(bool(params["center"]))
    order = rng.permutation(len(Z))
    train, test = order[:n], order[n:n + n_test]
    X, X_test = Z[train], Z[test]
    y, y_test = parity_labels(digit[train]), parity_labels(digit[test])
    W = sample_weights(N, Z.shape[1], rng)
    models = {"NT": (nt_kernel(X, W, act), nt_kernel(X_test, W, act, X2=X)),
              "KRR": (infinite_kernel(X, act), infinite_kernel(X_test, act, X2=X))}
    rows = []
    for model, (K, K_test) in models.items():
        with warnings.catch_warnings():  # lambda = 0 on a singular K is the pseudo-inverse fit: expected
            warnings.simplefilter("ignore")
            path = ridge_path(K, y, [lam], K_test=K_test)
        assert path.predictions_test is not None  # K_test was given
        sq = (path.predictions_test[0] - y_test) ** 2
        rows.append({"quantity": "test_error", "value": float(np.mean(sq)), "model": model, "data": "digits"})
        rows.append({"quantity": "test_error_se", "value": float(np.std(sq, ddof=1) / np.sqrt(len(sq))),
                     "model": model, "data": "digits"})
        rows.append({"quantity": "test_misclassification", "value": float(np.mean(np.sign(path.predictions_test[0])
                                                                                  != y_test)),
                     "model": model, "data": "digits"})
    return rows


def run_task(params: dict, seed: int) -> list[dict]:
    """Threshold task: ``lambda_min``, rank of ``K_N`` and ``K`` on digits and isotropic
    points; risk task: NT / KRR test error on held-out digits."""
    kind = params.get("kind")
    if kind == "threshold":
        return _threshold_rows(params, seed)
    if kind == "risk":
        return _risk_rows(params, seed)
    raise ValueError(f"params['kind'] must be 'threshold' or 'risk', got {kind!r}")


def isotropic_energies(center: bool = True) -> dict[int, float]:
    """The isotropic stand-in for the parity label: ``E y^2 = 1`` split as
    ``{1: R^2, 2: 1 - R^2}`` with ``R^2 = linear_energy`` on all the digits."""
    Z, digit = load_digits_sphere(center)
    r2 = linear_energy(Z, parity_labels(digit))
    return {1: r2, 2: 1.0 - r2}


def theory_rows(config: Config) -> list[dict]:
    """Isotropic predictions at the same ``(n, d)``: the lower edge of ``K`` and the
    threshold ``N d = n``; the KRR and NT (random-features) deterministic equivalents
    against ``n`` for :func:`isotropic_energies`; and the digits' ``rank(X)``."""
    act, d = config.activation, DIGITS_D
    Z, _ = load_digits_sphere(config.center)
    edge = float(lambda_min_edge(config.threshold_activation, d, config.n_threshold))
    rows = [
        {"quantity": "lambda_min_edge", "n": config.n_threshold, "value": edge},
        {"quantity": "rank_X", "value": float(np.linalg.matrix_rank(Z))},
    ]
    e = isotropic_energies(config.center)
    rows += [{"quantity": "energy", "degree": k, "value": v} for k, v in e.items()]
    grid = np.unique(np.round(np.geomspace(min(config.n_values), max(config.n_values), 60)).astype(int))
    Ns = np.maximum(1, np.round(config.width_ratio * grid / d)).astype(int)
    krr = np.atleast_1d(krr_risk(act, d, grid, config.ridge, e))
    with np.errstate(all="ignore"):
        ntr = np.atleast_1d(nt_ridge_risk(act, d, grid, Ns, config.ridge, e))
    for n, N, k, t in zip(grid, Ns, krr, ntr):
        rows.append({"quantity": "krr_risk", "n": int(n), "value": float(k)})
        rows.append({"quantity": "nt_ridge_risk", "n": int(n), "N": int(N), "value": float(t)})
    for row in rows:
        row.update(activation=act, d=d, source="theory")
    return rows


def theory_settings(config: Config) -> list[tuple[str, int, int]]:
    """``(activation, d, n)`` of the theory-constants table: the threshold sweep's
    activation and ``n``, the generalization sweep's activation and largest ``n``."""
    return sorted({(config.threshold_activation, DIGITS_D, config.n_threshold),
                   (config.activation, DIGITS_D, max(config.n_values))})


def _lambda_means(table: pd.DataFrame, data: str, quantity: str = "lambda_min_KN") -> pd.DataFrame:
    return plots.mean_se(plots.select(table, kind="threshold", data=data, quantity=quantity), ["ratio"])


def agreement(table: pd.DataFrame, theory: pd.DataFrame, config: Config) -> list[dict]:
    """The rank bound ``rank(K_N) = min(n, N rank(X))`` on the digits; the gap of the
    digits' ``lambda_min`` and test errors to the isotropic predictions (findings, not
    predictions for these data)."""
    act, d, n = config.activation, DIGITS_D, config.n_threshold
    tact = config.threshold_activation
    rows: list[dict] = []
    thr = plots.select(table, kind="threshold", data="digits")
    if len(thr):
        wide = thr.pivot_table(index=["task_key", "N"], columns="quantity", values="value").reset_index()
        pred = np.minimum(n, wide["N"].to_numpy() * wide["rank_X"].to_numpy())
        meas = wide["rank_KN"].to_numpy()
        rel = np.abs(pred - meas) / meas
        worst = int(np.argmax(rel))
        rows.append({"prediction": "digits: rank(K_N) = min(n, N rank(X)) (threshold at N rank(X) = n)",
                     "setting": f"{tact}, d={d}, n={n}, rank(X) {int(wide['rank_X'].min())}-{int(wide['rank_X'].max())}",
                     "predicted": float(pred.mean()), "measured": float(meas.mean()), "relative_error": float(rel.mean()),
                     "note": f"mean over {len(rel)} tasks; worst {rel[worst]:.1%} at N={int(wide['N'].iloc[worst])}"})
        dig, iso = _lambda_means(table, "digits"), _lambda_means(table, "isotropic")
        if len(dig) and len(iso):
            top = float(dig["ratio"].max())
            m_d = float(dig.loc[dig["ratio"] == top, "mean"].iloc[0])
            m_i = float(iso.loc[iso["ratio"] == top, "mean"].iloc[0])
            rows.append({**agreement_row(f"lambda_min(K_N) at Nd/n={top:g}: isotropic simulation vs digits",
                                         f"{tact}, d={d}, n={n}", m_i, m_d,
                                         f"finding: isotropic / digits = {m_i / m_d:.2g}"), "kind": "finding"})
            edge = plots.select(theory, quantity="lambda_min_edge")
            lam_k = float(plots.select(thr, quantity="lambda_min_K")["value"].mean())
            if len(edge):
                e0 = float(edge["value"].iloc[0])
                rows.append({**agreement_row("isotropic edge of K vs digits' lambda_min(K)", f"{tact}, d={d}, n={n}",
                                             e0, lam_k, f"finding: isotropic / digits = {e0 / lam_k:.2g}"),
                             "kind": "finding"})
    for model in ("KRR", "NT"):
        agg = plots.mean_se(plots.select(table, kind="risk", quantity="test_error", model=model), ["n"])
        if not len(agg):
            continue
        ns = agg["n"].to_numpy().astype(int)
        e = isotropic_energies(config.center)
        if model == "KRR":
            pred = np.atleast_1d(krr_risk(act, d, ns, config.ridge, e))
        else:
            Ns = np.maximum(1, np.round(config.width_ratio * ns / d)).astype(int)
            with np.errstate(all="ignore"):
                pred = np.atleast_1d(nt_ridge_risk(act, d, ns, Ns, config.ridge, e))
        meas = agg["mean"].to_numpy()
        ratio = pred / meas
        rows.append({"kind": "finding", "prediction": f"{model} test error: isotropic det. equiv. vs digits", "setting":
                     f"{act}, d={d}, lambda={config.ridge:g}" + (f", Nd/n={config.width_ratio:g}" if model == "NT" else ""),
                     "predicted": float(np.mean(pred)), "measured": float(np.mean(meas)),
                     "relative_error": float(np.mean(np.abs(pred - meas) / meas)),
                     "note": f"finding: isotropic / digits = {ratio.min():.2g} to {ratio.max():.2g} over n = "
                             f"{ns.min()}..{ns.max()} ({ratio[-1]:.2g} at n={ns[-1]})"})
    return rows


def plot(table: pd.DataFrame, config: Config, outdir: str | Path, theory: pd.DataFrame | None = None) -> list[Path]:
    """Figure ``digits``: (a) ``lambda_min(K_N)`` against ``N d / n`` on the digits and on
    isotropic points; (b) NT / KRR test error against ``n`` beside the isotropic
    deterministic equivalents."""
    if theory is None:
        theory = pd.DataFrame(theory_rows(config))
    fig, axes = plots.new_figure(1, 2, width=5.6, height=4.4)
    act, d, n = config.activation, DIGITS_D, config.n_threshold
    ax = axes[0, 0]
    floor = None
    for i, data in enumerate(("digits", "isotropic")):
        agg = _lambda_means(table, data)
        if not len(agg):
            continue
        lam_max = float(plots.select(table, kind="threshold", data=data, quantity="lambda_max_KN")["value"].max())
        # eigenvalues below round-off (n eps lambda_max) are the exact zeros of a singular K_N
        zero = n * np.finfo(np.float64).eps * lam_max
        floor = zero if floor is None else min(floor, zero)
        pos = agg[agg["mean"] > zero]
        plots.simulation(ax, pos["ratio"], pos["mean"], plots.log_error_bars(pos["mean"], pos["se"]),
                         label=fr"$\lambda_{{\min}}(K_N)$, {data}", i=i, filled=data == "digits")
        zeros = agg[agg["mean"] <= zero]
        plots.zero_markers(ax, zeros["ratio"], i=i, y=0.03 + 0.06 * i,
                           label=f"{data}: 0 (singular $K_N$)" if len(zeros) else None)
        lam_k = plots.select(table, kind="threshold", data=data, quantity="lambda_min_K")["value"].mean()
        plots.hline(ax, lam_k, label=fr"$\lambda_{{\min}}(K)$, {data} (infinite width)", i=i, lw=0.9)
    edge = plots.select(theory, quantity="lambda_min_edge")
    if len(edge):
        plots.hline(ax, float(edge["value"].iloc[0]), label=r"isotropic theory: edge of $K$", i=6, style=":")
    rank_all = plots.select(theory, quantity="rank_X")
    rank_sub = plots.select(table, kind="threshold", data="digits", quantity="rank_X")["value"]
    ax.axvline(1.0, color="0.5", lw=0.8, ls=":")
    if len(rank_sub) and len(rank_all):
        r = float(rank_sub.mean())
        ax.axvline(d / r, color=plots.color(0), lw=0.8, ls="--")
        plots.corner_text(ax, f"grey dotted: $Nd=n$ (isotropic threshold)\nblue dashed: $N\\,\\mathrm{{rank}}(X)=n$, "
                              f"$Nd/n={d / r:.3g}$\n(rank$(X)$ = {r:.3g} on average for {n} digits,\n"
                              f"{float(rank_all['value'].iloc[0]):g} for all {DIGITS_N}; d = {d})", "center left")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    plots.finish(ax, r"$Nd/n$ (parameters / samples)", r"$\lambda_{\min}$",
                 f"threshold: {config.threshold_activation}, d={d}, n={n}", legend=False)
    plots.shared_legend(fig, ax, ncol=3)
    ax = axes[0, 1]
    labels = {"NT": fr"NT ridge ($Nd/n$={config.width_ratio:g}), digits", "KRR": "KRR (infinite width), digits"}
    for i, model in enumerate(("NT", "KRR")):
        agg = plots.mean_se(plots.select(table, kind="risk", quantity="test_error", model=model), ["n"])
        shift = 0.97 if model == "NT" else 1.03
        plots.simulation(ax, agg["n"] * shift, agg["mean"], plots.log_error_bars(agg["mean"], agg["se"]),
                         label=labels[model], i=i)
    kr = plots.select(theory, quantity="krr_risk")
    plots.theory(ax, kr["n"], kr["value"], label="isotropic KRR det. equiv.", i=1)
    ntr = plots.select(theory, quantity="nt_ridge_risk")
    ntr = ntr[np.isfinite(ntr["value"])]
    plots.theory(ax, ntr["n"], ntr["value"], label="isotropic NT RF det. equiv.", i=0, style="-.")
    en = plots.select(theory, quantity="energy")
    if len(en):
        e = dict(zip(en["degree"].astype(int), en["value"]))
        plots.corner_text(ax, f"label: even +1 / odd -1 ($E y^2$ = 1)\nisotropic target: degree 1 energy "
                              f"{e.get(1, 0):.2f} (linear $R^2$),\ndegree 2 energy {e.get(2, 0):.2f} (assumed)",
                          "lower left")
    ax.set_xscale("log")
    ax.set_yscale("log")
    plots.plain_log_ticks(ax, "y")
    plots.finish(ax, r"training digits $n$", "test mse on held-out digits",
                 fr"generalization: {act}, $\lambda$={config.ridge:g}, {config.n_test} test digits", loc="upper right")
    plots.caption(fig, f"scikit-learn digits, centered, on the sphere of radius $\\sqrt{{d}}$; markers: simulation "
                       f"(mean $\\pm$ s.e. over {config.repeats} seeds); lines: isotropic theory at the same (n, d)")
    return plots.save_figure(fig, outdir, NAME)
