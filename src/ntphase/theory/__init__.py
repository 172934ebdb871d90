"""Theory beside simulation: predictions from the kernel's spectrum on the sphere.

Spike groups and bulk of ``K`` (:mod:`~ntphase.theory.spikes`), the smallest
eigenvalue of ``K`` and ``K_N`` (:mod:`~ntphase.theory.edges`), test risks of
NT / kernel / polynomial ridge (:mod:`~ntphase.theory.risk`), every constant of one
setting (:mod:`~ntphase.theory.summary`), and the deterministic equivalents on an
explicit spectrum they evaluate (:mod:`~ntphase.theory.equivalents`).
"""

from ntphase.theory._degrees import KMAX_CAP, KMAX_DIM_FACTOR, default_kmax
from ntphase.theory.edges import lambda_min_edge, lambda_min_mp_conjecture, lambda_min_rf_edge
from ntphase.theory.equivalents import (
    kernel_df,
    krr_risk_spectral,
    random_features_edge,
    rf_norm_spectral,
    rf_risk_spectral,
    silverstein_edge,
    solve_kappa,
)
from ntphase.theory.risk import asymptotic_risk, krr_risk, nt_ridge_norm, nt_ridge_risk, prr_risk
from ntphase.theory.spectral_law import (
    KernelSpectralLaw,
    NTKernelSpectralLaw,
    filling_degrees,
    lambda_min_nt_edge,
)
from ntphase.theory.spikes import spike_prediction
from ntphase.theory.summary import theory_summary

__all__ = [
    "KMAX_CAP",
    "KernelSpectralLaw",
    "NTKernelSpectralLaw",
    "filling_degrees",
    "lambda_min_nt_edge",
    "KMAX_DIM_FACTOR",
    "asymptotic_risk",
    "default_kmax",
    "kernel_df",
    "krr_risk",
    "krr_risk_spectral",
    "lambda_min_edge",
    "lambda_min_mp_conjecture",
    "lambda_min_rf_edge",
    "nt_ridge_norm",
    "nt_ridge_risk",
    "prr_risk",
    "random_features_edge",
    "rf_norm_spectral",
    "rf_risk_spectral",
    "silverstein_edge",
    "solve_kappa",
    "spike_prediction",
    "theory_summary",
]
