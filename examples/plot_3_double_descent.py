"""
Double descent in the width
===========================

NT ridge regression of a noisy degree-2 target: the test error of the
minimum-norm interpolator (ridge 0) peaks at the interpolation threshold
:math:`Nd = n`, a ridge tames the peak, and for :math:`Nd \\gg n` the error tends to
kernel ridge regression with the infinite-width kernel (docs/theory.md, section 5).
The lines are the random-features deterministic equivalent
:func:`ntphase.theory.nt_ridge_risk` and its :math:`N \\to \\infty` limit
:func:`ntphase.theory.krr_risk` (docs/theory.md, section 6). One kernel pass
gives every width (:func:`ntphase.width_path`), one eigendecomposition every ridge
(:func:`ntphase.ridge_path`).
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np

import ntphase as nt
from ntphase import theory as th

# %%
# A noisy target :math:`f_* = q_1 + 0.5\, q_2` (unit-norm harmonics of degrees 1, 2).
n, n_test, d, act, noise = 200, 1000, 10, "relu", 0.5
coefficients = {1: 1.0, 2: 0.5}  # f* = q_1 + 0.5 q_2 (unit-norm harmonics)
energies = {k: c**2 for k, c in coefficients.items()}
ridges = [0.0, 0.1]
rng = np.random.default_rng(2)
X, X_test = nt.sample_sphere(n, d, rng), nt.sample_sphere(n_test, d, rng)
target = nt.HarmonicTarget(d, coefficients, rng=rng)
y = target(X) + noise * rng.standard_normal(n)
y_test = target(X_test)

# %%
# Every width from nested neuron blocks of one weight matrix, both ridges from one
# eigendecomposition per width; test error against the noiseless target.
widths = np.unique(np.round(2.0 ** np.arange(-2, 4.25, 0.25) * n / d).astype(int))
W = nt.sample_weights(widths.max(), d, rng)
errors = {lam: [] for lam in ridges}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the ridge-0 fit below the threshold is the pseudo-inverse one
    for (_, K), (_, K_test) in zip(nt.width_path(X, W, act, widths), nt.width_path(X_test, W, act, widths, X2=X)):
        path = nt.ridge_path(K, y, ridges, K_test=K_test)
        for j, lam in enumerate(ridges):
            errors[lam].append(np.mean((path.predictions_test[j] - y_test) ** 2))

# %%
# Simulation (markers) against the deterministic equivalents (lines).
fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
grid = np.unique(np.round(np.geomspace(widths.min(), widths.max(), 200)).astype(int))
for i, lam in enumerate(ridges):
    ax.plot(widths * d / n, errors[lam], "o", color=f"C{i}", label=rf"NT ridge, $\lambda = {lam:g}$")
    with np.errstate(all="ignore"):
        theory = th.nt_ridge_risk(act, d, n, grid, lam, energies, noise=noise)
    ax.plot(grid * d / n, theory, "-", color=f"C{i}")
    ax.axhline(th.krr_risk(act, d, n, lam, energies, noise=noise), color=f"C{i}", ls=":")
ax.axvline(1.0, color="0.6", lw=0.8)
ax.set(xscale="log", yscale="log", ylim=(None, 10), xlabel="$Nd/n$", ylabel="test error",
       title=f"{act}, d = {d}, n = {n}; lines: theory, dotted: KRR limit")
ax.legend(fontsize=8)
plt.show()
