"""Spectra: dense eigenvalues, dense vs matrix-free lambda_min, top eigenvalues, spike groups.

Oracles: LAPACK ``eigvalsh`` on the dense matrix (for the matrix-free solvers),
diagonal matrices with known eigenvalues, the rank bound ``rank K_N <= N d``
(docs/theory.md, section 4), and the spike/bulk prediction of docs/theory.md, section 3
for the closed-form ReLU kernel.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from scipy.sparse.linalg import aslinearoperator

from ntphase._util.memory import InsufficientMemoryError
from ntphase.kernels.operator import NTKernelOperator
from ntphase.linalg.eigen import (
    LambdaMinResult,
    choose_method,
    eigenvalues,
    lambda_min,
    spike_groups,
    top_eigenvalues,
)

EPS = np.finfo(np.float64).eps


def sphere(n, d, rng):
    X = rng.standard_normal((n, d))
    return X * (np.sqrt(d) / np.linalg.norm(X, axis=1, keepdims=True))


def nt_operator(n, d, N, seed, **kw):
    rng = np.random.default_rng(seed)
    X = sphere(n, d, rng)
    W = rng.standard_normal((N, d)) / np.sqrt(d)
    return NTKernelOperator(X, W, "relu", **kw)


def test_eigenvalues_ascending_vs_known():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    lam = np.linspace(-1.0, 4.0, 30)
    K = (Q * lam) @ Q.T
    K = (K + K.T) / 2
    got = eigenvalues(K)
    assert got.dtype == np.float64
    assert np.all(np.diff(got) >= 0)
    # backward-stable solver: error <= c n eps ||K||
    np.testing.assert_allclose(got, lam, atol=30 * 30 * EPS * 4.0)


def test_eigenvalues_of_operator_and_validation():
    op = nt_operator(40, 5, 6, seed=1)
    np.testing.assert_allclose(eigenvalues(op), scipy.linalg.eigvalsh(op.todense()), rtol=0, atol=1e-13)
    with pytest.raises(ValueError, match="square"):
        eigenvalues(np.ones((3, 4)))
    with pytest.raises(ValueError, match="symmetric"):
        eigenvalues(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(TypeError, match="K must be"):
        eigenvalues("matrix")


# ---------------------------------------------------------------------------
# lambda_min: matrix-free vs dense
# ---------------------------------------------------------------------------

# Cases (n, d, N): well above the threshold (N d / n = 4), near it (1.25), and
# below it (N d / n = 0.5, K_N singular, lambda_min = 0 exactly).
CASES = {"above": (300, 10, 120), "near": (300, 10, 38), "singular": (300, 10, 15)}
TOL = 1e-10


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lanczos_matches_dense(case, seed):
    n, d, N = CASES[case]
    op = nt_operator(n, d, N, seed)
    K = op.todense()
    lam = scipy.linalg.eigvalsh(K)
    dense_err = n * EPS * lam[-1]  # backward error of the dense solver
    assert abs(lambda_min(K, method="dense") - lam[0]) <= dense_err  # subset vs full LAPACK
    res = lambda_min(op, method="lanczos", tol=TOL, rng=seed, return_info=True)
    assert isinstance(res, LambdaMinResult) and res.method == "lanczos" and res.converged
    # stated guarantee: 0 <= value - lambda_min <= residual <= tol * scale, scale <= lambda_max
    assert res.scale <= lam[-1] * (1 + 1e-12)
    assert res.residual_norm <= TOL * res.scale * 1.01
    assert -dense_err <= res.value - lam[0] <= res.residual_norm + dense_err
    if case == "singular":
        assert op.rank_bound < n
        assert abs(res.value) <= TOL * lam[-1] + dense_err  # ~0, tiny relative to lambda_max
    elif lam[0] > 1e-4 * lam[-1]:
        # the absolute bound tol * lambda_max then means relative error <= 1e-6
        assert abs(res.value - lam[0]) <= 1e-6 * lam[0]
    else:
        # near the threshold (lambda_min ~ 1e-4 lambda_max here) only the
        # absolute statement holds: relative accuracy tol * lambda_max / lambda_min
        assert abs(res.value - lam[0]) <= TOL * lam[-1] + dense_err


@pytest.mark.parametrize("case", ["above", "singular"])
def test_lanczos_thick_restarts(case, monkeypatch):
    # a 30-vector basis forces many restarts (the default basis holds n = 300)
    import ntphase.linalg.lanczos as lanczos  # the solver reads its constants there

    monkeypatch.setattr(lanczos, "LANCZOS_BASIS", 30)
    n, d, N = CASES[case]
    op = nt_operator(n, d, N, seed=4)
    lam = scipy.linalg.eigvalsh(op.todense())
    res = lambda_min(op, method="lanczos", tol=TOL, rng=4, return_info=True)
    assert res.converged and res.matvecs > 30
    dense_err = n * EPS * lam[-1]
    assert -dense_err <= res.value - lam[0] <= res.residual_norm + dense_err
    assert res.residual_norm <= TOL * res.scale * 1.01


@pytest.mark.parametrize("case", ["above", "singular"])
def test_lobpcg_matches_dense(case):
    n, d, N = CASES[case]
    op = nt_operator(n, d, N, seed=3)
    lam = scipy.linalg.eigvalsh(op.todense())
    tol = 1e-8  # LOBPCG without preconditioner stagnates near 1e-9 (module docs)
    res = lambda_min(op, method="lobpcg", tol=tol, rng=3, return_info=True)
    assert res.method == "lobpcg" and res.converged
    # same residual bound as Lanczos: 0 <= value - lambda_min <= residual (Rayleigh quotient)
    assert res.residual_norm <= 10 * tol * res.scale
    assert -n * EPS * lam[-1] <= res.value - lam[0] <= res.residual_norm + n * EPS * lam[-1]


def test_lambda_min_dense_matrix_lanczos_and_identity_multiple():
    # a multiple of the identity: the tolerance scale must not collapse
    assert lambda_min(2.5 * np.eye(50), method="lanczos", rng=0) == pytest.approx(2.5, rel=1e-12)
    d = np.linspace(0.1, 10.0, 200)
    assert lambda_min(np.diag(d), method="lanczos", rng=0) == pytest.approx(0.1, rel=1e-8)
    assert lambda_min(aslinearoperator(np.diag(d)), method="lanczos", rng=0) == pytest.approx(0.1, rel=1e-8)
    assert lambda_min(np.array([[3.0]])) == 3.0  # n = 1: dense fallback


def test_lambda_min_on_the_operator_and_not_on_its_inputs():
    # oracle: dense eigvalsh of the formed K_N; linalg takes an operator, never (X, W, activation)
    rng = np.random.default_rng(4)
    X, W = sphere(60, 5, rng), rng.standard_normal((30, 5)) / np.sqrt(5)
    op = NTKernelOperator(X, W, "relu")
    ref = scipy.linalg.eigvalsh(op.todense())[0]
    assert lambda_min(op, method="lanczos", rng=0) == pytest.approx(ref, rel=1e-6)
    assert lambda_min(op) == pytest.approx(ref, rel=1e-12, abs=1e-14)
    with pytest.raises(TypeError, match="NTKernelOperator"):
        lambda_min((X, W, "relu"))


def test_auto_choice_and_memory_guard(monkeypatch):
    # small dense matrix -> dense; small operator -> dense (formed); large
    # operator -> matrix-free; generic operator -> Lanczos
    assert choose_method(np.eye(100)) == "dense"
    small = nt_operator(100, 5, 10, seed=5)
    assert choose_method(small) == "dense"
    assert lambda_min(small, return_info=True).method == "dense"
    assert choose_method(aslinearoperator(np.eye(500))) == "lanczos"
    # cost model: ~800 cheap products (4 n N d = 1.4e7 flops) beat (4/3) n^3 = 2.9e11
    big = nt_operator(6000, 10, 60, seed=5, store=False)
    assert choose_method(big) == "lanczos"
    # memory guard: with 2 MB allowed, dense K (100 x 100 is 80 kB) still fits, 1000 x 1000 does not
    monkeypatch.setenv("NTPHASE_MEMORY_LIMIT", str(2 * 10**6))
    mid = nt_operator(1000, 5, 10, seed=6, store=False)
    assert choose_method(mid) == "lanczos"
    assert choose_method(np.eye(1000)) == "lanczos"
    with pytest.raises(InsufficientMemoryError, match="matrix-free"):
        lambda_min(mid, method="dense")
    res = lambda_min(small, return_info=True)
    assert res.method == "dense"


def test_lambda_min_validation():
    with pytest.raises(ValueError, match="method"):
        lambda_min(np.eye(3), method="arpack")
    with pytest.raises(ValueError, match="tol"):
        lambda_min(np.eye(3), tol=0.0)
    with pytest.raises(ValueError, match="finite"):
        lambda_min(np.array([[np.nan]]))


def test_nonconvergence_warns_and_returns_bound():
    op = nt_operator(300, 10, 120, seed=7)
    with pytest.warns(RuntimeWarning, match="Lanczos"):
        res = lambda_min(op, method="lanczos", maxiter=15, rng=0, return_info=True)
    assert not res.converged
    lam = scipy.linalg.eigvalsh(op.todense())
    assert lam[0] - 1e-12 <= res.value  # a Rayleigh quotient never undershoots


# ---------------------------------------------------------------------------
# top eigenvalues
# ---------------------------------------------------------------------------


def test_top_eigenvalues_dense_and_lanczos():
    op = nt_operator(200, 8, 60, seed=8)
    lam = scipy.linalg.eigvalsh(op.todense())[::-1]
    dense = top_eigenvalues(op, 5, method="dense")
    np.testing.assert_allclose(dense, lam[:5], rtol=1e-12)
    lanczos = top_eigenvalues(op, 5, method="lanczos", rng=0)
    # ARPACK tol 1e-10 relative per eigenvalue
    np.testing.assert_allclose(lanczos, lam[:5], rtol=1e-8)
    assert np.all(np.diff(lanczos) <= 0)
    with pytest.raises(ValueError, match="k must be"):
        top_eigenvalues(np.eye(4), 0)


# ---------------------------------------------------------------------------
# spike groups
# ---------------------------------------------------------------------------


class _ToySpectrum:
    """Minimal SphereSpectrum stand-in with known xi (the function's documented duck type)."""

    def __init__(self, multiplicity, xi, gamma):
        self.multiplicity = np.asarray(multiplicity, float)
        self.xi = np.asarray(xi, float)
        self._gamma = gamma
        self.H1 = float(np.sum(self.multiplicity * self.xi)) + gamma  # H(1) = head + tail

    def gamma_above(self, level):
        return self._gamma


def test_spike_groups_assignment_exact():
    # oracle: eigenvalues constructed exactly at the predicted groups
    spec = _ToySpectrum([1, 4, 10, 20], [0.01, 0.05, 0.002, 0.0], gamma=0.3)
    n = 40
    # locations: degree 1 -> 2.3 (4), degree 0 -> 0.7 (1), degree 2 -> 0.38 (10), bulk 0.3 (25);
    # degree 3 has xi = 0 and is not a group
    eigs = np.r_[np.full(4, 2.3), 0.7, np.full(10, 0.38), np.full(25, 0.3)]
    rows = spike_groups(np.random.default_rng(0).permutation(eigs), spec, n, level=3)
    assert [r["group"] for r in rows] == ["degree 1", "degree 0", "degree 2", "bulk"]
    for r, (count, loc) in zip(rows, [(4, 2.3), (1, 0.7), (10, 0.38), (25, 0.3)]):
        assert r["predicted_count"] == r["measured_count"] == count
        assert r["predicted_location"] == pytest.approx(loc, rel=1e-14)
        assert r["measured_mean"] == pytest.approx(loc, rel=1e-14)
    # only the top eigenvalues given: later groups are partial or empty
    rows = spike_groups(np.sort(eigs)[::-1][:7], spec, n, level=3)
    assert [r["measured_count"] for r in rows] == [4, 1, 2, 0]
    assert np.isnan(rows[-1]["measured_mean"])
    with pytest.raises(ValueError, match="at most n"):
        spike_groups(np.ones(41), spec, n, level=3)
    with pytest.raises(ValueError, match="level"):
        spike_groups(eigs, spec, n, level=4)


def test_spike_groups_relu_infinite_width():
    """relu, d = 20, n = 400: level l = 2 (1 + 20 + 209 <= 400 < B(20, 4) = 8645; xi_3 = 0).

    K = H(X X^T / d) with the closed form H(t) = t (pi - arccos t) / (2 pi).
    Prediction (docs/theory.md, section 3): d = 20 eigenvalues near n xi_1 + gamma_{>2},
    xi_1 = 1/(4 d) exactly for ReLU (E[u H(u)] = E[u^2]/4, the arcsin part is odd).

    Tolerance: the mean over a full spike group removes its Marchenko-Pastur
    spread (the MP law's mean is its scale), leaving the finite-n cross-talk:
    at first order the d-dimensional degree-1 eigenspace picks up the trace
    weight B(d,k) xi_{d,k} of every other degree it does not resolve, here
    xi_0 + B(20,2) xi_2 = 0.167 (3.3% of the location; measured 0.18-0.20 over
    seeds 0-4); we allow twice that. The bulk mean is gamma_{>2} up to the same
    exchange spread over n - 230 eigenvalues (<= 20 * 0.167 / 170 = 0.02); we
    allow 10% of gamma (measured 0.3%).
    """
    sphere_mod = pytest.importorskip("ntphase.sphere")
    d, n = 20, 400
    spec = sphere_mod.sphere_spectrum("relu", d, 4)
    level = sphere_mod.level(n, d, "relu")
    assert level == 2
    assert spec.xi[1] == pytest.approx(1.0 / (4 * d), rel=1e-10)  # closed form cross-check
    X = sphere(n, d, np.random.default_rng(0))
    t = np.clip(X @ X.T / d, -1.0, 1.0)
    K = t * (np.pi - np.arccos(t)) / (2 * np.pi)
    rows = {r["group"]: r for r in spike_groups(eigenvalues(K), spec, n, level)}
    gamma = spec.gamma_above(2)
    one, two, bulk = rows["degree 1"], rows["degree 2"], rows["bulk"]
    assert one["measured_count"] == d
    assert one["predicted_location"] == pytest.approx(n / (4 * d) + gamma, rel=1e-10)
    crosstalk = spec.xi[0] + spec.multiplicity[2] * spec.xi[2]
    assert abs(one["measured_mean"] - one["predicted_location"]) <= 2 * crosstalk
    assert abs(bulk["measured_mean"] - gamma) <= 0.1 * gamma
    # the count-based groups reflect real gaps in the spectrum
    assert one["measured_min"] > two["measured_max"]
    assert two["measured_min"] > bulk["measured_max"]
