"""Linear algebra on symmetric kernels: eigenvalues and ``lambda_min`` of a matrix or
any ``LinearOperator`` (dense, Lanczos, LOBPCG), and ridge regression paths and solves."""

from ntphase.linalg.eigen import (
    LambdaMinResult,
    choose_method,
    eigenvalues,
    lambda_min,
    spike_groups,
    top_eigenvalues,
)
from ntphase.linalg.ridge import (
    RidgePath,
    RidgeSolution,
    min_norm_interpolator,
    primal_ridge_path,
    ridge_path,
    ridge_path_auto,
    solve_ridge,
)

__all__ = [
    "LambdaMinResult",
    "RidgePath",
    "RidgeSolution",
    "choose_method",
    "eigenvalues",
    "lambda_min",
    "min_norm_interpolator",
    "primal_ridge_path",
    "ridge_path",
    "ridge_path_auto",
    "solve_ridge",
    "spike_groups",
    "top_eigenvalues",
]
