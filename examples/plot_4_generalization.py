"""
Generalization against the sample size
======================================

Minimum-norm NT interpolation (:math:`Nd/n = 8`), kernel ridge regression (KRR) and
polynomial ridge regression (PRR) with the self-induced ridge :math:`\\gamma_{>\\ell}`
on the same samples, against :math:`n` (Montanari & Zhong 2022, Theorem 2;
docs/theory.md, section 5). The test error tends to :math:`\\|P_{>\\ell} f_*\\|^2`, a
staircase that drops when :math:`n` fills the next degree; ReLU never learns degree
3 (:math:`\\xi_{d,3} = 0`), so its energy is a floor. Lines: the KRR deterministic
equivalent :func:`ntphase.theory.krr_risk` and the staircase
:func:`ntphase.theory.asymptotic_risk`.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np

import ntphase as nt
from ntphase import theory as th

# %%
# One target and one test set; a fresh training sample for each :math:`n`.
d, act, n_test = 10, "relu", 1000
coefficients = {1: 1.0, 2: 0.8, 3: 0.35}
energies = {k: c**2 for k, c in coefficients.items()}
n_values = [10, 20, 40, 80, 160, 320]
rng = np.random.default_rng(3)
target = nt.HarmonicTarget(d, coefficients, rng=rng)
X_test = nt.sample_sphere(n_test, d, rng)
y_test = target(X_test)

errors = {"NT": [], "KRR": [], "PRR": []}
for n in n_values:
    X = nt.sample_sphere(n, d, rng)
    y = target(X)
    W = nt.sample_weights(8 * n // d, d, rng)
    lev = nt.level(n, d, act)
    gamma = nt.gamma_above(act, d, lev)
    fits = {
        "NT": (nt.nt_kernel(X, W, act), nt.nt_kernel(X_test, W, act, X2=X), 0.0),
        "KRR": (nt.infinite_kernel(X, act), nt.infinite_kernel(X_test, act, X2=X), 0.0),
        "PRR": (nt.truncated_kernel(X, act, lev), nt.truncated_kernel(X_test, act, lev, X2=X), gamma),
    }
    for model, (K, K_test, ridge) in fits.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # interpolation at ridge 0: pseudo-inverse where singular
            path = nt.ridge_path(K, y, [ridge], K_test=K_test)
        errors[model].append(np.mean((path.predictions_test[0] - y_test) ** 2))

# %%
# Markers: simulations; lines: theory.
grid = np.unique(np.round(np.geomspace(n_values[0], n_values[-1], 100)).astype(int))
levels = np.array([nt.level(int(n), d, act) for n in grid])
fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
for i, (model, values) in enumerate(errors.items()):
    ax.plot(n_values, values, "os^"[i], color=f"C{i}", label=model)
ax.plot(grid, th.krr_risk(act, d, grid, 0.0, energies), "-", color="C1", label="KRR deterministic equivalent")
ax.plot(grid, th.asymptotic_risk(energies, levels, activation=act, d=d), "k--",
        label=r"staircase $\|P_{>\ell} f_*\|^2$")
ax.set(xscale="log", yscale="log", xlabel="$n$", ylabel="test error", title=f"{act}, d = {d}, ridge 0")
ax.legend(fontsize=8)
plt.show()
