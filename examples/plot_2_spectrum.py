"""
Spectrum: spikes and the bulk
=============================

Well above the threshold the eigenvalues of :math:`K_N` follow those of the
infinite-width kernel :math:`K`: for each filled degree :math:`k` a group of
:math:`B(d,k)` eigenvalues near :math:`n\\,\\xi_{d,k} + \\gamma_{>\\ell}`, and a
bulk of the remaining ones with mean :math:`\\gamma_{>\\ell}`, the self-induced
ridge (docs/theory.md, sections 3-4). The dashed lines are
:func:`ntphase.theory.spike_prediction`.
"""

import matplotlib.pyplot as plt
import numpy as np

import ntphase as nt
from ntphase import theory as th

# %%
# Both kernels on the same 300 points, well above the threshold.
n, d, act = 300, 15, "relu"
rng = np.random.default_rng(1)
X = nt.sample_sphere(n, d, rng)
N = 16 * n // d  # N d / n = 16
W = nt.sample_weights(N, d, rng)
eigs_N = nt.eigenvalues(nt.nt_kernel(X, W, act))[::-1]
eigs_K = nt.eigenvalues(nt.infinite_kernel(X, act))[::-1]
groups = th.spike_prediction(act, d, n)

# %%
# Eigenvalues in decreasing order; each dashed segment spans the ranks of one
# predicted group at its predicted location.
fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
rank = np.arange(1, n + 1)
ax.plot(rank, eigs_K, ".", ms=4, label="$K$ (infinite width)")
ax.plot(rank, eigs_N, "x", ms=3, label=f"$K_N$, $Nd/n = {N * d / n:g}$")
start = 0
for i, group in enumerate(groups):
    stop = start + group["count"]
    ax.hlines(group["location"], start + 1, stop, colors="k", linestyles="--",
              label="predicted groups" if i == 0 else None)
    start = stop
ax.set(xscale="log", yscale="log", xlabel="rank", ylabel="eigenvalue", title=f"{act}, d = {d}, n = {n}")
ax.legend(fontsize=8)
plt.show()

# %%
# The predicted groups (:func:`ntphase.theory.spike_prediction`):
for group in groups:
    name = "bulk" if group["kind"] == "bulk" else f"degree {group['degree']}"
    print(f"{name:>9}: {group['count']:4d} eigenvalues near {group['location']:.4g}")
