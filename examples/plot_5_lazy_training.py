"""
Lazy training of the real network
=================================

Gradient descent on the first-layer weights of a two-layer tanh network with
symmetric initialization and output scale :math:`\\alpha`, on random labels
(docs/theory.md, section 8). First figure: the training loss against the prediction of
the linearized model from the same run's kernel :math:`K_N(W_0)`
(:func:`ntphase.training.linearized_loss_curve`): with :math:`p = Nd/2` tangent
directions (:func:`ntphase.training.tangent_dimension`) the network memorizes iff
:math:`p > n`; below that the loss plateaus at the part of the labels outside the
span of the tangent features, whose expectation is :math:`1 - p/n` (dotted).
Second figure: as :math:`\\alpha` grows, the network's test predictions approach those
of its linearized model after the same number of steps, and its weights and kernel
barely move (Chizat, Oyallon & Bach 2019). For a smooth activation and symmetric
pairs the deviation shrinks like :math:`\\alpha^{-2}` (docs/theory.md, section 8).
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
fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
for i, ratio in enumerate([0.5, 2.0, 4.0]):  # p / n
    N = int(round(2 * ratio * n / d))  # p = N d / 2
    res = nt.train_network(X, y, act, N, alpha=1e3, steps=3000, rng=rng, record_every=300)
    steps = res.loss_steps
    linear = tr.linearized_loss_curve(res.kernel, y, res.lr, steps)
    ax.plot(steps[::150], res.loss_curve[::150] / res.initial_loss, "o", ms=4, mfc="none", color=f"C{i}",
            label=f"$p/n = {tr.tangent_dimension(N, d) / n:g}$")
    ax.plot(steps, linear / res.initial_loss, "-", color=f"C{i}")
    if ratio < 1:
        ax.axhline(1 - ratio, color=f"C{i}", ls=":", lw=0.8)
ax.set(yscale="log", xlabel="gradient step", ylabel="training loss / initial loss",
       title=rf"{act}, d = {d}, n = {n}, $\alpha = 10^3$; lines: linearized")
ax.legend(fontsize=8)
plt.show()

# %%
# The lazy limit: the same data and initialization for each output scale.
alphas = [1.0, 10.0, 100.0, 1000.0]
N = int(round(2 * 4.0 * n / d))
distance, movement, kernel_movement = [], [], []
for alpha in alphas:
    res = nt.train_network(X, y, act, N, alpha=alpha, steps=3000, rng=np.random.default_rng(5), X_test=X_test,
                           record_every=3000)
    last = res.history.iloc[-1]
    distance.append(last["linearized_distance"])
    movement.append(last["weight_movement"])
    kernel_movement.append(last["kernel_movement"])
fig, ax2 = plt.subplots(figsize=(6, 3.8), layout="constrained")
ax2.plot(alphas, distance, "o-", label="distance to the linearized model (test)")
ax2.plot(alphas, movement, "s-", label="relative weight movement")
ax2.plot(alphas, kernel_movement, "^-", label="relative kernel movement")
ax2.set(xscale="log", yscale="log", xlabel=r"output scale $\alpha$", title=f"$p/n = 4$, {act}")
ax2.legend(fontsize=8)
plt.show()
