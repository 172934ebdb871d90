"""
The interpolation threshold
===========================

The smallest eigenvalue of the empirical NT kernel
:math:`K_N = (XX^\\top/d) \\circ (SS^\\top/N)` is zero while :math:`Nd < n`
(its rank is at most :math:`Nd`) and rises to :math:`\\lambda_{\\min}(K)` of the
infinite-width kernel once :math:`Nd` exceeds :math:`n` (Montanari & Zhong 2022,
Theorem 1; docs/theory.md, section 4). The Gaussian-equivalent edge predicts
:math:`\\lambda_{\\min}(K)`; the random-features edge computed from the spectrum
of :math:`K` follows :math:`\\lambda_{\\min}(K_N)`. Right: the minimum-norm fit
of random labels has training error :math:`\\max(0, 1 - Nd/n)`.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np

import ntphase as nt
from ntphase import theory as th

# %%
# Data, random labels and the infinite-width kernel's spectrum on the same points.
n, d, act = 200, 20, "relu"
rng = np.random.default_rng(0)
X = nt.sample_sphere(n, d, rng)
y = nt.random_labels(n, rng)
eigs_K = nt.eigenvalues(nt.infinite_kernel(X, act))

# %%
# One width per ratio :math:`Nd/n`: the smallest eigenvalue of :math:`K_N`, the
# training error of the minimum-norm fit (ridge :math:`\to 0`), and the
# random-features edge (beyond the paper, docs/theory.md, section 4).
ratios = 2.0 ** np.arange(-2, 5.5, 0.5)  # N d / n from 1/4 to 32
widths = np.unique(np.round(ratios * n / d).astype(int))
lam_N, train_error, rf_edge = [], [], []
for N in widths:
    W = nt.sample_weights(N, d, rng)
    K_N = nt.nt_kernel(X, W, act)
    lam_N.append(nt.eigenvalues(K_N)[0])
    with warnings.catch_warnings():
        # below the threshold K_N is singular: the ridge-0 solve is the pseudo-inverse
        # (minimum-norm) one, and ridge_path says so with a LinAlgWarning
        warnings.simplefilter("ignore")
        path = nt.ridge_path(K_N, y, [0.0])
    train_error.append(path.train_error[0] / np.mean(y**2))
    rf_edge.append(th.lambda_min_rf_edge(eigs_K, N, d) if N * d > n else np.nan)

# %%
# Below :math:`Nd = n` the computed :math:`\lambda_{\min}(K_N)` is zero up to
# round-off (drawn at the :math:`10^{-6}` floor of the log axis).
x = widths * d / n
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
ax.plot(x, np.maximum(lam_N, 1e-6), "o", label=r"$\lambda_{\min}(K_N)$ (floored at $10^{-6}$)")
ax.plot(x, rf_edge, "-", label="random-features edge")
ax.axhline(eigs_K[0], color="k", ls="--", label=r"$\lambda_{\min}(K)$")
ax.axhline(th.lambda_min_edge(act, d, n), color="C3", ls=":", label="Gaussian-equivalent edge")
ax.axvline(1.0, color="0.6", lw=0.8)
ax.set(xscale="log", yscale="log", xlabel="$Nd/n$", ylabel="smallest eigenvalue", title=f"{act}, d = {d}, n = {n}")
ax.legend(fontsize=8)
ax2.plot(x, train_error, "o", label="min-norm fit of random labels")
grid = np.geomspace(x.min(), x.max(), 200)
ax2.plot(grid, np.maximum(0.0, 1.0 - grid), "-", label=r"$\max(0, 1 - Nd/n)$")
ax2.set(xscale="log", xlabel="$Nd/n$", ylabel="relative training error")
ax2.legend(fontsize=8)
plt.show()
