"""Behaviour snapshot: save a fixed set of ntphase outputs, or compare against a saved set.

A refactor that claims "no behaviour change" is checked by running this script
before (``--out before.npz``) and after (``--compare before.npz``): every entry
must be bitwise identical (``numpy.array_equal``, NaNs equal). Fixed seeds; one
BLAS thread is recommended (``OMP_NUM_THREADS=1``), since threaded BLAS may
reorder sums.

Only top-level ``ntphase.X`` names are used, plus the small ``_MODULES`` map
below for a few non-top-level functions (paths, theory, training helpers), so the
same script runs across layouts.

Usage::

    python benchmarks/snapshot_outputs.py --out snapshot.npz
    python benchmarks/snapshot_outputs.py --compare snapshot.npz
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

import numpy as np

import ntphase

# Names that are not top-level: tried in order, the first module that has the name wins.
_MODULES: dict[str, tuple[str, ...]] = {
    "nt_ridge_path": ("ntphase.learning", "ntphase.estimators"),
    "kernel_ridge_path": ("ntphase.learning", "ntphase.estimators"),
    "polynomial_ridge_path": ("ntphase.learning", "ntphase.estimators"),
    "top_eigenvalues": ("ntphase.linalg", "ntphase.spectrum"),
    "spike_groups": ("ntphase.linalg", "ntphase.spectrum"),
    "solve_ridge": ("ntphase.linalg", "ntphase.ridge"),
    "min_norm_interpolator": ("ntphase.linalg", "ntphase.ridge"),
    "primal_ridge_path": ("ntphase.linalg", "ntphase.ridge"),
    "test_error": ("ntphase.learning", "ntphase.evaluation"),
    "split_test_error": ("ntphase.learning", "ntphase.evaluation"),
    "krr_risk": ("ntphase.theory",),
    "prr_risk": ("ntphase.theory",),
    "nt_ridge_risk": ("ntphase.theory",),
    "asymptotic_risk": ("ntphase.theory",),
    "lambda_min_edge": ("ntphase.theory",),
    "lambda_min_mp_conjecture": ("ntphase.theory",),
    "lambda_min_rf_edge": ("ntphase.theory",),
    "spike_prediction": ("ntphase.theory",),
    "theory_summary": ("ntphase.theory",),
    "linearized_loss_curve": ("ntphase.training",),
    "predicted_rate": ("ntphase.training",),
}


def _name(name: str) -> Any:
    if name in getattr(ntphase, "__all__", ()):
        return getattr(ntphase, name)
    for module in _MODULES[name]:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError:
            continue
        if hasattr(mod, name):
            return getattr(mod, name)
    raise LookupError(f"{name} not found in {_MODULES[name]}")


def _records(prefix: str, rows: list[dict], out: dict[str, np.ndarray]) -> None:
    """Flatten a list of dicts (spike predictions/groups, summaries) into arrays."""
    for i, row in enumerate(rows):
        for key, value in row.items():
            arr = np.asarray(value)
            if arr.dtype.kind in "fiub":
                out[f"{prefix}[{i}].{key}"] = arr


def _summary(prefix: str, obj: Any, out: dict[str, np.ndarray]) -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            _summary(f"{prefix}.{key}", value, out)
    elif isinstance(obj, (list, tuple)) and obj and isinstance(obj[0], dict):
        _records(prefix, list(obj), out)
    else:
        try:
            arr = np.asarray(obj)
        except Exception:  # noqa: BLE001 - skip what is not numeric
            return
        if arr.dtype.kind in "fiub":
            out[prefix] = arr


def compute() -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    n, d, N = 300, 15, 40
    rng = np.random.default_rng(20240601)
    X = ntphase.sample_sphere(n, d, rng)
    X2 = ntphase.sample_sphere(60, d, rng)
    W = ntphase.sample_weights(N, d, rng)
    Wbig = ntphase.sample_weights(4 * N, d, rng)

    for act in ("relu", "tanh"):
        for layers in ("first", "both"):
            tag = f"{act}.{layers}"
            out[f"nt_kernel.{tag}"] = ntphase.nt_kernel(X, W, act, layers=layers)
            out[f"nt_kernel_cross.{tag}"] = ntphase.nt_kernel(X, W, act, X2=X2, layers=layers)
            out[f"infinite_kernel.{tag}"] = ntphase.infinite_kernel(X, act, layers=layers)
            out[f"infinite_kernel_cross.{tag}"] = ntphase.infinite_kernel(X2, act, X2=X, layers=layers)
            out[f"truncated_kernel.{tag}"] = ntphase.truncated_kernel(X, act, 2, layers=layers)
            out[f"nt_features.{tag}"] = ntphase.nt_features(X[:50], W, act, layers=layers)
            spec = ntphase.sphere_spectrum(act, d, 6, layers=layers)
            out[f"sphere_spectrum.{tag}.xi"] = np.asarray(spec.xi)
            out[f"sphere_spectrum.{tag}.multiplicity"] = np.asarray(spec.multiplicity)
            out[f"sphere_spectrum.{tag}.H1"] = np.asarray(spec.H1)
            out[f"gamma_above.{tag}"] = np.array([ntphase.gamma_above(act, d, l, layers=layers)
                                                  for l in range(4)])  # noqa: E741
            out[f"level.{tag}"] = np.array([ntphase.level(m, d, act, layers=layers)
                                            for m in (10, 100, 1000, 10000)])
            op = ntphase.NTKernelOperator(X, W, act, layers=layers)
            v = np.random.default_rng(7).standard_normal((n, 3))
            out[f"operator_matvec.{tag}"] = op.matvec(v[:, 0])
            out[f"operator_matmat.{tag}"] = op.matmat(v)
            for Nw, KN in ntphase.width_path(X, Wbig, act, [10, 40, 160], layers=layers):
                out[f"width_path.{tag}.{Nw}"] = KN
            for Nw, KN in ntphase.width_path(X2, Wbig, act, [10, 160], X2=X, layers=layers):
                out[f"width_path_cross.{tag}.{Nw}"] = KN
    out["multiplicity"] = np.array([ntphase.multiplicity(d, k) for k in range(8)])
    out["gegenbauer"] = np.stack([ntphase.gegenbauer(k, d, np.linspace(-1, 1, 11)) for k in range(6)])

    K = ntphase.nt_kernel(X, W, "relu")
    Kinf = ntphase.infinite_kernel(X, "relu")
    out["eigenvalues.K_N"] = ntphase.eigenvalues(K)
    out["eigenvalues.K"] = ntphase.eigenvalues(Kinf)
    for method in ("dense", "lanczos", "lobpcg"):
        out[f"lambda_min.{method}"] = np.asarray(ntphase.lambda_min(K, method=method, rng=3))
        out[f"lambda_min_op.{method}"] = np.asarray(
            ntphase.lambda_min(ntphase.NTKernelOperator(X, W, "relu"), method=method, rng=3))
    out["top_eigenvalues"] = _name("top_eigenvalues")(Kinf, 5, rng=3)
    groups = _name("spike_groups")(out["eigenvalues.K"], ntphase.sphere_spectrum("relu", d, 4), n, 2)
    _records("spike_groups", groups, out)

    y = ntphase.random_labels(n, np.random.default_rng(11))
    target = ntphase.HarmonicTarget(d, {0: 0.3, 1: 1.0, 2: 0.5}, rng=np.random.default_rng(12))
    y_h = target(X)
    out["harmonic_target"] = y_h
    out["harmonic_target_test"] = target(X2)
    lambdas = np.array([0.0, 1e-3, 1e-1, 1.0])
    path = ntphase.ridge_path(Kinf, y_h, lambdas, ntphase.infinite_kernel(X2, "relu", X2=X))
    for field in ("coef", "train_error", "norm", "dof", "gcv", "predictions_test", "rank"):
        out[f"ridge_path.{field}"] = np.asarray(getattr(path, field))
    out["test_error"] = np.asarray(_name("test_error")(path.predictions_test, target(X2)))
    out["split_test_error"] = np.asarray(_name("split_test_error")(path.predictions_test, target, X2, [3]))
    out["solve_ridge"] = _name("solve_ridge")(Kinf, y_h, 0.01)
    out["min_norm_interpolator"] = _name("min_norm_interpolator")(K, y)
    for name, fn in (("nt_ridge_path.primal", lambda: _name("nt_ridge_path")(X, y_h, W[:10], "relu", lambdas, X2)),
                     ("nt_ridge_path.dual", lambda: _name("nt_ridge_path")(X, y_h, W, "relu", lambdas, X2)),
                     ("kernel_ridge_path", lambda: _name("kernel_ridge_path")(X, y_h, "relu", lambdas, X2)),
                     ("polynomial_ridge_path",
                      lambda: _name("polynomial_ridge_path")(X, y_h, "relu", lambdas, X_test=X2))):
        p = fn()
        for field in ("coef", "train_error", "norm", "dof", "predictions_test"):
            out[f"{name}.{field}"] = np.asarray(getattr(p, field))

    for width in (10, 40):
        for ridge in (0.0, 0.1):
            est = ntphase.NTRidge("relu", width=width, ridge=ridge, random_state=5).fit(X, y_h)
            out[f"NTRidge.{width}.{ridge}"] = est.predict(X2)
    out["KernelRidgeNT"] = ntphase.KernelRidgeNT("tanh", ridge=0.01).fit(X, y_h).predict(X2)
    out["PolynomialRidge"] = ntphase.PolynomialRidge("relu", ridge=0.01).fit(X, y_h).predict(X2)
    out["PolynomialRidge.l1"] = ntphase.PolynomialRidge("relu", ridge=0.0, level=1).fit(X, y_h).predict(X2)

    Xs = ntphase.sample_sphere(20, 5, np.random.default_rng(21))
    ys = ntphase.random_labels(20, np.random.default_rng(22))
    res = ntphase.train_network(Xs, ys, "relu", width=30, alpha=1.0, steps=300, rng=23,
                                X_test=ntphase.sample_sphere(10, 5, np.random.default_rng(24)),
                                y_test=np.zeros(10), record_every=50)
    for col in res.history.columns:
        out[f"train_network.history.{col}"] = res.history[col].to_numpy()
    out["train_network.loss_curve"] = res.loss_curve
    out["train_network.W"] = res.W
    out["train_network.kernel"] = res.kernel
    out["linearized_loss_curve"] = _name("linearized_loss_curve")(res.kernel, ys, res.lr, [0, 10, 100])
    out["predicted_rate"] = np.asarray(_name("predicted_rate")(res.kernel, res.lr))

    energies = {0: 0.1, 1: 1.0, 2: 0.5, 3: 0.2}
    ns = np.array([50, 200, 1000, 5000])
    for act in ("relu", "tanh"):
        out[f"krr_risk.{act}"] = np.asarray(_name("krr_risk")(act, d, ns, 0.01, energies, noise=0.1))
        out[f"prr_risk.{act}"] = np.asarray(_name("prr_risk")(act, d, ns, 0.01, energies, noise=0.1))
        out[f"nt_ridge_risk.{act}"] = np.asarray(
            _name("nt_ridge_risk")(act, d, 500, np.array([5, 20, 80]), 0.01, energies, noise=0.1))
        out[f"asymptotic_risk.{act}"] = np.asarray(_name("asymptotic_risk")(energies, [0, 1, 2], act, d))
        out[f"lambda_min_edge.{act}"] = np.asarray(_name("lambda_min_edge")(act, d, ns))
        out[f"lambda_min_mp.{act}"] = np.asarray(_name("lambda_min_mp_conjecture")(act, d, ns, 40))
        _records(f"spike_prediction.{act}", _name("spike_prediction")(act, d, 1000), out)
        _summary(f"theory_summary.{act}", _name("theory_summary")(act, d, 1000, 3), out)
    out["lambda_min_rf_edge"] = np.asarray(_name("lambda_min_rf_edge")(out["eigenvalues.K"], np.array([10, 40]), d))
    return out


def compare(saved: dict[str, np.ndarray], now: dict[str, np.ndarray]) -> int:
    bad = 0
    for key in sorted(set(saved) | set(now)):
        if key not in now or key not in saved:
            print(f"MISSING  {key} ({'after' if key not in now else 'before'})")
            bad += 1
            continue
        a, b = np.asarray(saved[key]), np.asarray(now[key])
        same = a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        if same:
            continue
        bad += 1
        diff = (float(np.nanmax(np.abs(a.astype(float) - b.astype(float))))
                if a.shape == b.shape and a.size else float("nan"))
        print(f"DIFFERS  {key}: max |diff| = {diff:.3e} (shapes {a.shape} vs {b.shape})")
    print(f"{len(saved)} saved, {len(now)} computed, {bad} differing")
    return bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--out", help="write the snapshot to this .npz file")
    group.add_argument("--compare", help="compare against this .npz file (exit 1 if any entry differs)")
    args = parser.parse_args(argv)
    now = compute()
    if args.out:
        np.savez(args.out, **now)
        print(f"wrote {len(now)} entries to {args.out}")
        return 0
    with np.load(args.compare) as f:
        saved = {k: f[k] for k in f.files}
    return 1 if compare(saved, now) else 0


if __name__ == "__main__":
    sys.exit(main())
