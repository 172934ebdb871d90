"""Learning with NT features and kernels: scikit-learn style estimators (NT, KRR,
PRR), their ridge paths, and the test error on the sphere."""

from ntphase.learning.estimators import KernelRidgeNT, NTRidge, PolynomialRidge
from ntphase.learning.evaluation import split_test_error, test_error
from ntphase.learning.paths import kernel_ridge_path, nt_ridge_path, polynomial_ridge_path

__all__ = [
    "KernelRidgeNT",
    "NTRidge",
    "PolynomialRidge",
    "kernel_ridge_path",
    "nt_ridge_path",
    "polynomial_ridge_path",
    "split_test_error",
    "test_error",
]
