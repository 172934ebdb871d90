"""Linear algebra on symmetric kernels: eigenvalues and ``lambda_min`` of a matrix or
any ``LinearOperator`` (dense, Lanczos, LOBPCG, preconditioned Davidson), ridge
regression paths and solves (dense, or block/multi-shift conjugate gradients with
Woodbury and Nystrom preconditioners)."""

from ntphase.linalg.cg import CGInfo, ConvergenceWarning, block_cg, ridge_path_cg
from ntphase.linalg.eigen import (
    LambdaMinResult,
    choose_method,
    eigenvalues,
    lambda_min,
    spike_groups,
    top_eigenvalues,
)
from ntphase.linalg.preconditioners import NystromPreconditioner, WoodburyPreconditioner
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
    "CGInfo",
    "ConvergenceWarning",
    "LambdaMinResult",
    "NystromPreconditioner",
    "WoodburyPreconditioner",
    "block_cg",
    "RidgePath",
    "RidgeSolution",
    "choose_method",
    "eigenvalues",
    "lambda_min",
    "min_norm_interpolator",
    "primal_ridge_path",
    "ridge_path",
    "ridge_path_auto",
    "ridge_path_cg",
    "solve_ridge",
    "spike_groups",
    "top_eigenvalues",
]
