"""All theory constants of one setting ``(activation, d, n)`` in one JSON-serializable dict."""

from __future__ import annotations

from typing import Any

import numpy as np

from ntphase._util.validation import check_int
from ntphase.activations import get_activation
from ntphase.sphere import check_degree, multiplicity
from ntphase.sphere import level as sphere_level
from ntphase.theory._degrees import _check_common, _DegreeTable, default_kmax
from ntphase.theory.edges import lambda_min_edge
from ntphase.theory.spectral_law import filling_degrees, lambda_min_nt_edge
from ntphase.theory.spikes import spike_prediction

__all__ = ["theory_summary"]


def theory_summary(activation: Any, d: int, n: int, lmax: int, layers: str = "first", width: int | None = None) -> dict:
    """Everything ``ntphase theory`` prints, as a JSON-serializable dict.

    Keys: ``activation, d, n, layers, level, H1, second_moment, hermite_mu`` (``mu_0..mu_8``
    of ``sigma'``), ``gamma_level_d_infinity`` (``gamma_l``), ``degrees`` (list of
    ``{degree, multiplicity, xi, multiplicity_times_xi, present}`` for ``k <= lmax``),
    ``gamma_above_level`` (finite-d ``gamma_{>l}``), ``spikes`` (see
    :func:`spike_prediction`), ``lambda_min_edge`` (Gaussian-equivalent edge),
    ``kmax_edge`` (degrees it keeps), ``filling_degrees`` (present degrees with
    ``0.9 n <= B(d,k) <= n / 0.9``, where the spike/bulk picture and the Gaussian
    equivalence fail: :func:`~ntphase.theory.filling_degrees`).

    With ``width`` (``N >= 1``) also ``width`` and ``lambda_min_nt_edge``: the predicted
    ``lambda_min(K_N)`` at that width from ``(activation, d, n, N)`` alone (lower edge of
    :class:`~ntphase.theory.NTKernelSpectralLaw`; 0 when ``N d <= n``), computed with the
    same ``kmax_edge`` degrees. Cost: one spectral-law support, ``O(kmax * 4000)``.
    """
    d, layers = _check_common(d, layers)
    n = check_int("n", n, minimum=1)
    lmax = check_degree("lmax", lmax)
    act = get_activation(activation)
    lev = int(sphere_level(n, d, act, layers=layers))
    spec = _DegreeTable(act, d, max(lmax, lev), layers)
    if layers == "first":
        gamma_inf = float(act.gamma(lev))
    else:
        series = np.asarray(act.power_series(lev, layers=layers), dtype=np.float64)
        gamma_inf = float(act.kernel_function(np.float64(1.0), layers=layers) - np.sum(series[: lev + 1]))
    kmax_edge = default_kmax(d, n)
    extra: dict[str, Any] = {}
    if width is not None:
        width = check_int("width", width, minimum=1)
        extra = {"width": width,
                 "lambda_min_nt_edge": float(lambda_min_nt_edge(act, d, n, width, kmax=kmax_edge, layers=layers))}
    return {
        "activation": act.name,
        "d": d,
        "n": n,
        "layers": layers,
        "level": lev,
        "H1": spec.H1,
        "second_moment": float(act.second_moment()),
        "hermite_mu": [float(v) for v in act.hermite_coefficients(8)],
        "gamma_level_d_infinity": gamma_inf,
        "degrees": [
            {
                "degree": k,
                "multiplicity": multiplicity(d, k),
                "xi": float(spec.xi_raw[k]),
                "multiplicity_times_xi": float(spec.multiplicity[k] * spec.xi_raw[k]),
                "present": bool(spec.present[k]),
            }
            for k in range(lmax + 1)
        ],
        "gamma_above_level": spec.gamma_above(lev),
        "spikes": spike_prediction(act, d, n, level=lev, layers=layers),
        "lambda_min_edge": float(lambda_min_edge(act, d, n, kmax=kmax_edge, layers=layers)),
        "kmax_edge": kmax_edge,
        "filling_degrees": filling_degrees(act, d, n, layers=layers, kmax=kmax_edge),
        **extra,
    }
