"""
Lazy training of the real network
=================================

Gradient descent on the first-layer weights of a two-layer tanh network with
symmetric initialization and output scale :math:`\\alpha`, on random labels
(docs/theory.md, section 8). Left: the training loss against the prediction of
the linearized model from the same run's kernel :math:`K_N(W_0)`
(:func:`ntphase.training.linearized_loss_curve`): with :math:`p = Nd/2` tangent
directions (:func:`ntphase.training.tangent_dimension`) the network memorizes iff
:math:`p > n`, and below that the loss plateaus at about :math:`1 - p/n`.
Right: as :math:`\\alpha` grows the network's test predictions approach those of
the NT minimum-norm interpolator and its weights barely move (Chizat, Oyallon &
Bach 2019).
"""

import matplotlib.pyplot as plt
import numpy as np

import ntphase as nt
from ntphase import training as tr

# %%
# Random labels on 60 points of the sphere in dimension 10.
n, d, n_test, act = 60, 10, 200, "tanh"
rng = np.random.default_rng(4)
X, X_test = nt.sample_sphere(n, d, rng), nt.sample_sphere(n_test, d, rng)
y = nt.random_labels(n, rng)

# %%
# Training curves at :math:`\alpha = 10^3` for three widths, with the linearized
# prediction from each run's own initial kernel.
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
for i, ratio in enumerate([0.5, 2.0, 4.0]):  # p / n
    N = int(round(2 * ratio * n / d))  # p = N d / 2
    res = nt.train_network(X, y, act, N, alpha=1e3, steps=3000, rng=rng, record_every=300)
    steps = res.loss_steps
    linear = tr.linearized_loss_curve(res.kernel, y, res.lr, steps)
    ax.plot(steps[::10], res.loss_curve[::10] / res.initial_loss, "o", ms=3, color=f"C{i}",
            label=f"$p/n = {tr.tangent_dimension(N, d) / n:g}$")
    ax.plot(steps, linear / res.initial_loss, "-", color=f"C{i}")
    if ratio < 1:
        ax.axhline(1 - ratio, color=f"C{i}", ls=":", lw=0.8)
ax.set(yscale="log", xlabel="gradient step", ylabel="training loss / initial loss",
       title=rf"{act}, d = {d}, n = {n}, $\alpha = 10^3$; lines: linearized")
ax.legend(fontsize=8)

# %%
# The lazy limit: the same data and initialization for each output scale.
alphas = [1.0, 10.0, 100.0, 1000.0]
N = int(round(2 * 4.0 * n / d))
distance, movement = [], []
for alpha in alphas:
    res = nt.train_network(X, y, act, N, alpha=alpha, steps=3000, rng=np.random.default_rng(5), X_test=X_test,
                           record_every=3000)
    last = res.history.iloc[-1]
    distance.append(last["interpolator_distance"])
    movement.append(last["weight_movement"])
ax2.plot(alphas, distance, "o-", label="distance to the NT min-norm interpolator")
ax2.plot(alphas, movement, "s-", label="relative weight movement")
ax2.set(xscale="log", yscale="log", xlabel=r"output scale $\alpha$", title=f"$p/n = 4$, {act}")
ax2.legend(fontsize=8)
plt.show()
