"""``ntphase theory``: JSON equals theory_summary, tables show the numbers, bad input exits 2 cleanly.

Oracle: the library functions (theory_summary, krr_risk, prr_risk, nt_ridge_risk,
asymptotic_risk) called directly; JSON floats round-trip exactly (repr).
"""

import json

import pytest
from typer.testing import CliRunner

from ntphase import theory
from ntphase.cli import app

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, ["theory", *args])


def test_json_equals_theory_summary():
    result = _run("--activation", "relu", "--d", "20", "--n", "2000", "--lmax", "5", "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    expected = json.loads(json.dumps(theory.theory_summary("relu", 20, 2000, 5)))
    assert got == expected
    for key in ("level", "H1", "second_moment", "hermite_mu", "gamma_level_d_infinity", "degrees",
                "gamma_above_level", "spikes", "lambda_min_edge"):
        assert key in got
    assert len(got["hermite_mu"]) == 9
    assert [row["degree"] for row in got["degrees"]] == list(range(6))


def test_relu_tables_show_level_and_gamma():
    result = _run("--activation", "relu", "--d", "20", "--n", "2000")
    assert result.exit_code == 0, result.output
    summary = theory.theory_summary("relu", 20, 2000, 6)
    out = result.output
    assert "level l" in out
    assert "E[sigma'(G)^2]" in out  # labels are printed literally (not as rich markup)
    assert f"gamma_>{summary['level']}" in out
    assert f"{summary['gamma_above_level']:.6g}" in out
    assert f"{summary['gamma_level_d_infinity']:.6g}" in out
    assert "8645" in out  # B(20, 4), in the degree table


def test_risk_mode_json_matches_library():
    energies = {1: 0.5, 2: 0.3, 4: 0.2}
    result = _run("--activation", "relu", "--d", "20", "--n", "1000", "--json", "--risk",
                  "--energy", "1=0.5", "--energy", "2=0.3", "--energy", "4=0.2",
                  "--noise", "0.5", "--ridge", "0,0.01", "--ridge", "0.1", "--width", "200")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["risk"]["rows"]
    assert [r["ridge"] for r in rows] == [0.0, 0.01, 0.1]
    level = theory.theory_summary("relu", 20, 1000, 1)["level"]
    for r in rows:
        lam = r["ridge"]
        assert r["krr_risk"] == pytest.approx(float(theory.krr_risk("relu", 20, 1000, lam, energies, noise=0.5)), rel=1e-12)
        assert r["prr_risk"] == pytest.approx(float(theory.prr_risk("relu", 20, 1000, lam, energies, noise=0.5)), rel=1e-12)
        assert r["nt_ridge_risk"] == pytest.approx(
            float(theory.nt_ridge_risk("relu", 20, 1000, 200, lam, energies, noise=0.5)), rel=1e-12)
        assert r["asymptotic_risk"] == pytest.approx(float(theory.asymptotic_risk(energies, level, "relu", 20)))


def test_risk_mode_tables():
    result = _run("--activation", "tanh", "--d", "10", "--n", "500", "--risk", "--energy", "1=1",
                  "--ridge", "0.01", "--width", "100")
    assert result.exit_code == 0, result.output
    assert "KRR" in result.output and "N=100" in result.output


def test_help_shows_formulas():
    result = _run("--help")
    assert result.exit_code == 0
    assert "gamma_{>l}" in result.output and "xi_{d,k}" in result.output


@pytest.mark.parametrize(
    "args,word",
    [
        (["--activation", "relu", "--d", "1", "--n", "100"], "d must be"),
        (["--activation", "nope", "--d", "10", "--n", "100"], "activation"),
        (["--activation", "relu", "--d", "10", "--n", "0"], "n must be"),
        (["--activation", "relu", "--d", "10", "--n", "100", "--risk", "--energy", "two=1"], "--energy"),
        (["--activation", "relu", "--d", "10", "--n", "100", "--risk", "--ridge", "-1"], "--ridge"),
        (["--activation", "relu", "--d", "10", "--n", "100", "--risk", "--width", "0"], "--width"),
        (["--activation", "relu", "--d", "10", "--n", "100", "--layers", "third"], "layers"),
    ],
)
def test_bad_input_exits_2_without_traceback(args, word):
    result = _run(*args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert word in result.output


def test_width_prints_the_kn_law_edge():
    # Oracle: the library's lambda_min_nt_edge (same kmax as the summary), called directly.
    expected = theory.lambda_min_nt_edge("relu", 20, 400, 40, kmax=theory.default_kmax(20, 400))
    result = _run("--activation", "relu", "--d", "20", "--n", "400", "--width", "40", "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert got["width"] == 40 and got["lambda_min_nt_edge"] == expected
    assert 0 < expected < got["lambda_min_edge"]  # Nd/n = 2: below lambda_min(K), above 0
    assert got["filling_degrees"] == [] and "warning" not in result.stderr
    table = _run("--activation", "relu", "--d", "20", "--n", "400", "--width", "40")
    assert table.exit_code == 0, table.output
    assert "lambda_min(K_N), N=40, Nd/n=2" in table.stdout and f"{expected:.6g}" in table.stdout
    # below the threshold the predicted lambda_min(K_N) is 0 (rank K_N <= N d < n)
    below = json.loads(_run("--activation", "relu", "--d", "20", "--n", "400", "--width", "10", "--json").stdout)
    assert below["lambda_min_nt_edge"] == 0.0


def test_filling_degree_warning():
    # Oracle: B(20, 3) = 1520 is within a factor 0.9 of n = 1400 and erf has xi_{20,3} > 0
    # (filling_degrees); the warning goes to stderr, so --json stdout stays one JSON object.
    result = _run("--activation", "erf", "--d", "20", "--n", "1400", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["filling_degrees"] == [{"degree": 3, "multiplicity": 1520, "fraction": 1520 / 1400}]
    assert "warning: degree 3 has B(d,k) = 1520" in result.stderr
    quiet = _run("--activation", "erf", "--d", "20", "--n", "600")  # B(20,2) = 209, B(20,3) = 1520: far from 600
    assert quiet.exit_code == 0 and "warning" not in quiet.stderr
