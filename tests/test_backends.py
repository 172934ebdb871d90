"""Array backends: the same contract on every namespace, float64 guaranteed.

Every kernel, product and solve computed on a backend (NumPy, array_api_strict,
JAX on CPU; PyTorch and CuPy where installed) must equal the NumPy float64 result
to 1e-12 (relative to the largest entry). The oracle is the NumPy path of the
same function (an independent implementation: blocked NumPy / numba / SciPy
LAPACK against whole-array ``xp`` operations), and for the products the dense
matrix times the vectors. JAX arrays are created in 64-bit mode and the calls are
made with the mode off (JAX's default): without ``float64_math`` JAX truncates
float64 to float32 and the comparisons fail at ~1e-7.
"""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pytest

from ntphase._util.backend import Backend, float64_math, resolve_device
from ntphase.activations import Activation
from ntphase.kernels import (
    DeviceUnavailableError,
    infinite_kernel,
    infinite_kernel_product,
    nt_kernel,
    nt_kernel_product,
    use_device,
)
from ntphase.linalg import ConvergenceWarning, block_cg, eigenvalues, lambda_min, ridge_path, solve_ridge
from ntphase.linalg.array_api import conjugate_gradient

RTOL = 1e-12


def _strict() -> Backend:
    xps = pytest.importorskip("array_api_strict", reason="array_api_strict is not installed")
    return Backend("array_api_strict", "cpu", xps, None)


def _make(name: str) -> Backend:
    if name == "numpy":
        return resolve_device("cpu")
    if name == "array_api_strict":
        return _strict()
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed (optional backend)")
    spec = {"jax": "jax:cpu", "torch": "torch:cpu", "cupy": "cupy:cuda"}[name]
    try:
        return resolve_device(spec)
    except DeviceUnavailableError as exc:
        pytest.skip(str(exc))


@pytest.fixture(params=["numpy", "array_api_strict", "jax", "torch", "cupy"])
def backend(request) -> Backend:
    return _make(request.param)


def _put(backend: Backend, a: np.ndarray):
    if backend.library == "array_api_strict":
        return backend.xp.asarray(a)
    return backend.asarray(a)


def _host(a) -> np.ndarray:
    from ntphase._util.arrays import to_numpy

    return np.asarray(to_numpy(a))


def _assert_float64_close(got, want: np.ndarray, rtol: float = RTOL) -> None:
    host = _host(got)
    assert host.dtype == np.float64, f"result dtype {host.dtype}, expected float64"
    scale = max(float(np.max(np.abs(want))), 1e-300)
    err = float(np.max(np.abs(host - want))) / scale
    assert err <= rtol, f"relative error {err:.3e} > {rtol:g}"


def _sphere(rng, n: int, d: int) -> np.ndarray:
    X = rng.standard_normal((n, d))
    return X * (np.sqrt(d) / np.linalg.norm(X, axis=1, keepdims=True))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    n, d, N = 90, 7, 25
    return {
        "X": _sphere(rng, n, d),
        "Xt": _sphere(rng, 30, d),
        "W": rng.standard_normal((N, d)) / np.sqrt(d),
        "V": rng.standard_normal((n, 3)),
        "y": rng.standard_normal(n),
    }


@pytest.mark.parametrize("activation", ["relu", "erf", "tanh"])
@pytest.mark.parametrize("layers", ["first", "both"])
def test_nt_kernel_and_product_equal_numpy(backend, data, activation, layers):
    # oracle: the blocked NumPy K_N (and K_N @ V for the matrix-free product)
    X, W, V, Xt = (_put(backend, data[k]) for k in ("X", "W", "V", "Xt"))
    K = nt_kernel(data["X"], data["W"], activation, layers=layers)
    _assert_float64_close(nt_kernel(X, W, activation, layers=layers), K)
    _assert_float64_close(nt_kernel(Xt, W, activation, X2=X, layers=layers),
                          nt_kernel(data["Xt"], data["W"], activation, X2=data["X"], layers=layers))
    _assert_float64_close(nt_kernel_product(X, W, activation, V, layers=layers), K @ data["V"])


@pytest.mark.parametrize("activation", ["relu", "erf", "tanh", "softplus"])
@pytest.mark.parametrize("layers", ["first", "second", "both"])
def test_infinite_kernel_cross_kernel_and_product_equal_numpy(backend, data, activation, layers):
    # oracle: the NumPy infinite kernel (certified fast function, <= 1e-12 H(1) per entry);
    # relu/erf closed forms and the Hermite series (tanh, softplus) on the namespace
    X, V, Xt = (_put(backend, data[k]) for k in ("X", "V", "Xt"))
    K = infinite_kernel(data["X"], activation, layers=layers)
    _assert_float64_close(infinite_kernel(X, activation, layers=layers), K)
    _assert_float64_close(infinite_kernel(Xt, activation, X2=X, layers=layers),
                          infinite_kernel(data["Xt"], activation, X2=data["X"], layers=layers))
    got = infinite_kernel_product(X, activation, V, layers=layers, tile_rows=17)
    _assert_float64_close(got, K @ data["V"])
    got1 = infinite_kernel_product(X, activation, V[:, 0], layers=layers)
    assert tuple(got1.shape) == (data["X"].shape[0],)


def test_symmetric_infinite_kernel_is_exactly_symmetric_with_exact_diagonal(backend, data):
    # identity: K = K^T and K_ii = H(1) = E[sigma'(G)^2] = 1/2 for relu
    K = _host(infinite_kernel(_put(backend, data["X"]), "relu"))
    assert np.array_equal(K, K.T)
    np.testing.assert_allclose(np.diag(K), 0.5, rtol=1e-15)


def test_ridge_solve_and_spectrum_equal_numpy(backend, data):
    # oracle: SciPy Cholesky solve / LAPACK eigvalsh on the same NumPy matrix
    K = infinite_kernel(data["X"], "relu")
    Kb, yb = _put(backend, K), _put(backend, data["y"])
    alpha = solve_ridge(K, data["y"], 0.05)
    _assert_float64_close(solve_ridge(Kb, yb, 0.05), alpha)
    # residual identity: (K + lambda I) alpha = y
    np.testing.assert_allclose((K + 0.05 * np.eye(K.shape[0])) @ _host(solve_ridge(Kb, yb, 0.05)), data["y"],
                               rtol=0, atol=1e-11)
    _assert_float64_close(eigenvalues(Kb), eigenvalues(K))
    assert abs(lambda_min(Kb) - lambda_min(K, method="dense")) <= RTOL * float(np.max(np.abs(K)))


def test_ill_conditioned_ridge_falls_back_to_host_pseudo_inverse(backend):
    # oracle: the NumPy solve_ridge (eigendecomposition pseudo-inverse) on a rank-2 matrix
    rng = np.random.default_rng(3)
    B = rng.standard_normal((12, 2))
    K = B @ B.T
    y = rng.standard_normal(12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = solve_ridge(K, y, 0.0)
        got = solve_ridge(_put(backend, K), _put(backend, y), 0.0)
    _assert_float64_close(got, want, rtol=1e-10)


def test_conjugate_gradient_equals_dense_solve(backend, data):
    # oracle: the dense Cholesky solve of (K + lambda I) alpha = y
    K = infinite_kernel(data["X"], "relu")
    Kb = _put(backend, K)
    xp = backend.xp
    ridge = 0.1

    def matvec(v):
        return xp.matmul(Kb, v) + ridge * v

    with float64_math(xp):
        x, its, res = conjugate_gradient(matvec, _put(backend, data["y"]), tol=1e-13)
    assert res <= 1e-13 and 0 < its <= K.shape[0]
    _assert_float64_close(x, np.linalg.solve(K + ridge * np.eye(K.shape[0]), data["y"]), rtol=1e-11)


def _cg_bound(A: np.ndarray, rtol: float) -> float:
    # ||x - x*|| / ||x*|| <= cond(A) ||r|| / ||b|| (perturbation bound), with a 10x margin
    return 10.0 * rtol * float(np.linalg.cond(A))


def test_block_cg_on_the_namespace_equals_dense_solve(backend, data):
    # oracle: dense LAPACK solves of (K + lambda_j I) x_j = b_j, to the CG tolerance times cond
    K = infinite_kernel(data["X"], "relu")
    B = data["V"][:, :2]
    ridges = np.array([0.05, 0.2])
    n = K.shape[0]
    want = np.stack([np.linalg.solve(K + r * np.eye(n), B[:, j]) for j, r in enumerate(ridges)], axis=1)
    Bb = _put(backend, B)
    X, info = block_cg(_put(backend, K), Bb, ridge=ridges, rtol=1e-12)
    assert type(X) is type(Bb) and info.converged and np.all(info.residuals <= 1e-12)
    _assert_float64_close(X, want, rtol=_cg_bound(K + 0.05 * np.eye(n), 1e-12))
    # the NumPy twin takes as many steps to within one (same recursion, different rounding)
    _, info_np = block_cg(K, B, ridge=ridges, rtol=1e-12)
    assert np.all(np.abs(info.iterations - info_np.iterations) <= 1)


def test_block_cg_on_the_namespace_takes_a_callable_and_a_preconditioner(backend, data):
    # oracle: the dense solve of (K + 0.1 I) x = y; A a callable on device arrays, M a Jacobi matrix
    K = infinite_kernel(data["X"], "relu")
    n = K.shape[0]
    Kb, xp = _put(backend, K), backend.xp
    Mb = _put(backend, np.diag(1.0 / (np.diag(K) + 0.1)))
    x, info = block_cg(lambda V: xp.matmul(Kb, V), _put(backend, data["y"]), Mb, ridge=0.1, rtol=1e-12)
    assert tuple(x.shape) == (n,) and info.converged
    A = K + 0.1 * np.eye(n)
    _assert_float64_close(x, np.linalg.solve(A, data["y"]), rtol=_cg_bound(A, 1e-12))


def test_block_cg_on_the_namespace_warns_when_capped(backend, data):
    # the cap can fail the solve: 2 steps on a 90 x 90 system leave a residual far above 1e-12
    K = infinite_kernel(data["X"], "relu")
    with pytest.warns(ConvergenceWarning, match="did not reach rtol"):
        _, info = block_cg(_put(backend, K), _put(backend, data["y"]), ridge=0.01, rtol=1e-12, maxiter=2)
    assert not info.converged and info.residuals[0] > 1e-6
    # the reported residual is the true one: oracle ||b - (K + lambda I) x|| / ||b|| on the host
    with pytest.warns(ConvergenceWarning):
        x, info = block_cg(_put(backend, K), _put(backend, data["y"]), ridge=0.01, rtol=1e-12, maxiter=2)
    r = data["y"] - (K + 0.01 * np.eye(K.shape[0])) @ _host(x)
    assert abs(info.residuals[0] - np.linalg.norm(r) / np.linalg.norm(data["y"])) <= 1e-12


def test_ridge_path_on_the_namespace_equals_numpy(backend, data):
    # oracle: the NumPy ridge_path (scipy.linalg.eigh) on the same matrix; K_test predictions too
    K = infinite_kernel(data["X"], "relu")
    K_test = infinite_kernel(data["Xt"], "relu", X2=data["X"])
    lambdas = [0.0, 1e-3, 0.1, 1.0]
    want = ridge_path(K, data["y"], lambdas, K_test)
    got = ridge_path(_put(backend, K), _put(backend, data["y"]), lambdas, K_test)
    for field in ("coef", "train_error", "norm", "dof", "gcv", "predictions_test"):
        _assert_float64_close(getattr(got, field), getattr(want, field), rtol=1e-11)
    np.testing.assert_array_equal(got.rank, want.rank)


@pytest.fixture(scope="module")
def sphere_data():
    from ntphase.data import sample_sphere

    return sample_sphere(50, 6, rng=0), np.random.default_rng(1).standard_normal(50)


@pytest.mark.parametrize("which", ["krr", "nt"])
def test_matrix_free_estimators_run_on_the_use_device_target(sphere_data, which):
    # oracle: dense solves (K + lambda I)^{-1} y on the host, to the CG tolerance times cond
    pytest.importorskip("jax", reason="jax is not installed")
    from ntphase.learning import KernelRidgeNT, NTRidge

    X, y = sphere_data
    lam = 0.05
    with use_device("jax:cpu"):
        if which == "krr":
            model = KernelRidgeNT("relu", ridge=lam, solver="cg", rtol=1e-12).fit(X, y)
        else:
            model = NTRidge("tanh", width=20, ridge=lam, solver="cg", rtol=1e-12, random_state=0).fit(X, y)
    K = infinite_kernel(X, "relu") if which == "krr" else nt_kernel(X, model.weights_, "tanh")
    A = K + lam * np.eye(X.shape[0])
    assert model.solver_ == "cg+harmonic" and isinstance(model.dual_coef_, np.ndarray)
    _assert_float64_close(model.dual_coef_, np.linalg.solve(A, y), rtol=_cg_bound(A, 1e-12))


def test_matrix_free_path_runs_on_the_use_device_target(sphere_data):
    # oracle: dense solves on the host; without preconditioner the device path is one batched block CG
    pytest.importorskip("jax", reason="jax is not installed")
    from ntphase.learning import kernel_ridge_path

    X, y = sphere_data
    K = infinite_kernel(X, "relu")
    lambdas = [0.05, 0.5]
    with use_device("jax:cpu"):
        path = kernel_ridge_path(X, y, "relu", lambdas, solver="cg", rtol=1e-12, preconditioner="none")
    for coef, lam in zip(path.coef, lambdas):
        A = K + lam * np.eye(X.shape[0])
        _assert_float64_close(coef, np.linalg.solve(A, y), rtol=_cg_bound(A, 1e-12))


def test_jax_float64_needs_the_x64_context():
    # the precision guard can fail: the same JAX float64 product made outside
    # float64_math is truncated to float32 (error ~1e-7), inside it is exact to 1e-15
    jax = pytest.importorskip("jax", reason="jax is not installed")
    jnp = jax.numpy
    rng = np.random.default_rng(0)
    A = rng.standard_normal((40, 40))
    with float64_math(jnp):
        Aj = jnp.asarray(A)
    assert not jax.config.jax_enable_x64  # the default, restored after the block
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outside = np.asarray(Aj @ Aj)
    with float64_math(jnp):
        inside = np.asarray(Aj @ Aj)
    exact = A @ A
    assert np.max(np.abs(outside - exact)) > 1e-9 * np.max(np.abs(exact))
    assert np.max(np.abs(inside - exact)) <= 1e-14 * np.max(np.abs(exact))


def _probe_activation(seen: list):
    """ReLU whose sigma' records the torch TF32 flags when nt_kernel calls it."""
    torch = pytest.importorskip("torch", reason="torch is not installed (optional backend)")

    def dsigma(x, xp):
        seen.append((torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
                     torch.get_float32_matmul_precision()))
        return xp.astype(x > 0, x.dtype)

    def sigma(x, xp):
        return xp.where(x > 0, x, xp.zeros_like(x))

    return torch, Activation("relu-probe", None, (0.0,), sigma, dsigma)


def test_torch_tf32_is_off_inside_the_call_and_restored_after(data):
    # oracle: the flags observed inside the call; the user's settings after it
    seen: list = []
    torch, act = _probe_activation(seen)
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
             torch.get_float32_matmul_precision())
    try:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.set_float32_matmul_precision("medium")
        K = nt_kernel(torch.as_tensor(data["X"]), torch.as_tensor(data["W"]), act)
        assert seen and all(s == (False, False, "highest") for s in seen)
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        assert torch.get_float32_matmul_precision() == "medium"
        _assert_float64_close(K, nt_kernel(data["X"], data["W"], "relu"))
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[:2]
        torch.set_float32_matmul_precision(saved[2])


def test_use_device_computes_numpy_inputs_on_the_device_and_returns_numpy(data):
    # oracle: the NumPy path outside the context
    pytest.importorskip("jax", reason="jax is not installed")
    with use_device("jax:cpu") as backend:
        assert backend is not None and backend.library == "jax"
        K = nt_kernel(data["X"], data["W"], "tanh")
        Ki = infinite_kernel(data["X"], "tanh")
        e = eigenvalues(Ki)
        a = solve_ridge(Ki, data["y"], 0.1)
    assert isinstance(K, np.ndarray) and isinstance(e, np.ndarray) and isinstance(a, np.ndarray)
    _assert_float64_close(K, nt_kernel(data["X"], data["W"], "tanh"))
    Ki_np = infinite_kernel(data["X"], "tanh")
    _assert_float64_close(Ki, Ki_np)
    _assert_float64_close(e, eigenvalues(Ki_np))
    _assert_float64_close(a, solve_ridge(Ki_np, data["y"], 0.1), rtol=1e-11)


@pytest.mark.parametrize("spec", ["cuda", "cuda:1", "torch:cuda", "cupy:cuda", "jax:cuda"])
def test_missing_device_is_a_one_line_error_naming_what_is_missing(spec):
    try:
        backend = resolve_device(spec)
    except DeviceUnavailableError as exc:
        message = str(exc)
        assert "\n" not in message and spec in message
        assert "not installed" in message or "is False" in message or "no GPU" in message or "sees" in message \
            or "driver" in message
    else:  # a machine with a GPU: the device resolved
        assert backend.device.startswith("cuda")


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "cpu:0", "", "numpy:cuda:0:1"])
def test_malformed_device_is_a_value_error(spec):
    with pytest.raises(ValueError, match="device"):
        resolve_device(spec)


def test_cli_device_cuda_fails_with_one_line_when_no_gpu(tmp_path):
    # the CLI checks the device before reading the config: a missing GPU is exit code 2 and one line
    try:
        resolve_device("cuda")
        pytest.skip("a CUDA device is present on this machine")
    except DeviceUnavailableError:
        pass
    from typer.testing import CliRunner

    from ntphase.cli import app

    result = CliRunner().invoke(app, ["run", str(tmp_path / "absent.yaml"), "--device", "cuda", "-o", str(tmp_path)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --device cuda: no CUDA device:"), result.output


def test_backend_of_reads_library_and_device_from_the_inputs(backend, data):
    # identity: the backend found from arrays made on a backend is that backend
    from ntphase._util.backend import backend_of

    found = backend_of(_put(backend, data["X"]), None)
    assert found.library == backend.library and found.device == backend.device
    with pytest.raises(TypeError, match="same array library"):
        if backend.library == "numpy":
            pytest.importorskip("array_api_strict")
            backend_of(data["X"], _strict().xp.asarray(data["W"]))
        else:
            backend_of(_put(backend, data["X"]), data["W"])
