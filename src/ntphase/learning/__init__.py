"""Learning with NT features and kernels: scikit-learn style estimators (NT, KRR,
PRR), their ridge paths (dense or matrix-free), the preconditioners of their
matrix-free solves, and the test error on the sphere."""

from ntphase.learning.estimators import KernelRidgeNT, NTRidge, PolynomialRidge
from ntphase.learning.evaluation import split_test_error, test_error
from ntphase.learning.paths import choose_solver, kernel_ridge_path, nt_ridge_path, polynomial_ridge_path
from ntphase.learning.preconditioning import harmonic_preconditioner, nystrom_preconditioner

__all__ = [
    "KernelRidgeNT",
    "NTRidge",
    "PolynomialRidge",
    "choose_solver",
    "harmonic_preconditioner",
    "kernel_ridge_path",
    "nt_ridge_path",
    "nystrom_preconditioner",
    "polynomial_ridge_path",
    "split_test_error",
    "test_error",
]
