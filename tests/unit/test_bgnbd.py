import math

import numpy as np
import pytest

from models import bgnbd, gammagamma
from models.bgnbd import BGNBDParams


def paper_likelihood(r, alpha, a, b, x, t_x, T):
    """Fader, Hardie & Lee (2005), equation 6, written out directly in plain Python."""
    beta = lambda p, q: math.exp(math.lgamma(p) + math.lgamma(q) - math.lgamma(p + q))  # noqa: E731
    common = math.exp(math.lgamma(r + x) - math.lgamma(r)) * alpha**r
    term = beta(a, b + x) / beta(a, b) * common / (alpha + T) ** (r + x)
    if x > 0:
        term += beta(a + 1, b + x - 1) / beta(a, b) * common / (alpha + t_x) ** (r + x)
    return math.log(term)


def simulate(params: BGNBDParams, customers: int, T: float, seed: int):
    rng = np.random.default_rng(seed)
    lam = rng.gamma(params.r, 1 / params.alpha, customers)
    p = rng.beta(params.a, params.b, customers)
    x, t_x = np.zeros(customers), np.zeros(customers)
    for i in range(customers):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < p[i]:
                break
    return x, t_x, np.full(customers, T)


@pytest.mark.parametrize(("x", "t_x", "T"), [(0, 0.0, 38.9), (2, 30.4, 38.9), (14, 180.0, 200.0), (1, 0.5, 0.5)])
def test_likelihood_matches_the_papers_formula(x, t_x, T):
    params = BGNBDParams(0.243, 4.414, 0.793, 2.426)
    got = float(bgnbd.log_likelihood(params, [x], [t_x], [T])[0])
    assert got == pytest.approx(paper_likelihood(0.243, 4.414, 0.793, 2.426, x, t_x, T), rel=1e-10)


def test_fit_recovers_simulated_parameters_and_warm_start_is_cheaper():
    truth = BGNBDParams(0.6, 20.0, 1.2, 3.0)
    x, t_x, T = simulate(truth, 8000, 365.0, seed=1)
    cold = bgnbd.fit(x, t_x, T)
    assert cold.converged and cold.notes == "interior optimum"
    for name, tolerance in (("r", 0.1), ("alpha", 0.15), ("a", 0.3), ("b", 0.35)):
        assert getattr(cold.params, name) == pytest.approx(getattr(truth, name), rel=tolerance), name
    warm = bgnbd.fit(x, t_x, T, init=cold.params)
    assert warm.iterations < cold.iterations
    assert warm.params.r == pytest.approx(cold.params.r, rel=1e-3)


def test_prob_no_purchase_and_expected_purchases_agree_with_monte_carlo():
    params = BGNBDParams(0.5, 10.0, 1.5, 4.0)
    x, t_x, T, horizon = 3, 40.0, 60.0, 90.0
    rng = np.random.default_rng(7)
    n = 200_000
    # posterior draws: lambda | history ~ Gamma(r + x, alpha + T); alive with p_alive
    alive = rng.random(n) < float(bgnbd.p_alive(params, x, t_x, T))
    lam = rng.gamma(params.r + x, 1 / (params.alpha + T), n)
    p = rng.beta(params.a, params.b + x, n)  # dropout prob. posterior given alive
    counts = np.zeros(n)
    for i in np.flatnonzero(alive):
        t = rng.exponential(1 / lam[i])
        while t <= horizon:
            counts[i] += 1
            if rng.random() < p[i]:
                break
            t += rng.exponential(1 / lam[i])
    assert float(bgnbd.prob_no_purchase(params, horizon, x, t_x, T)) == pytest.approx(np.mean(counts == 0), abs=0.005)
    assert float(bgnbd.expected_purchases(params, horizon, x, t_x, T)) == pytest.approx(counts.mean(), rel=0.03)


def test_new_and_degenerate_customers():
    params = BGNBDParams(0.3, 30.0, 0.7, 2.0)
    assert float(bgnbd.p_alive(params, 0, 0.0, 100.0)) == 1.0
    assert float(bgnbd.prob_no_purchase(params, 0.0, 5, 10.0, 50.0)) == pytest.approx(1.0)
    # every customer buys steadily until the end: no dropout is visible
    x = np.full(500, 10.0)
    result = bgnbd.fit(x, np.full(500, 99.0), np.full(500, 100.0))
    assert np.all(np.isfinite(result.params.as_array()))
    assert "upper bound" in result.notes


def test_gamma_gamma_recovers_simulated_parameters_and_shrinks_means():
    rng = np.random.default_rng(3)
    p, q, v = 6.0, 4.0, 15.0
    nu = rng.gamma(q, 1 / v, 5000)
    x = rng.integers(1, 12, 5000)
    m = np.array([rng.gamma(p, 1 / nu_i, k).mean() for nu_i, k in zip(nu, x, strict=True)])
    result = gammagamma.fit(x, m)
    assert result.converged
    assert result.params.p == pytest.approx(p, rel=0.2)
    assert result.params.q == pytest.approx(q, rel=0.2)
    assert result.params.v == pytest.approx(v, rel=0.3)
    population = result.params.p * result.params.v / (result.params.q - 1)
    one = float(gammagamma.expected_average_value(result.params, 1, 500.0))
    many = float(gammagamma.expected_average_value(result.params, 50, 500.0))
    assert population < one < many < 500.0  # fewer orders, more shrinkage to the population mean


def test_one_customer_paths_give_the_array_functions_bits():
    """The engine's per-customer shortcuts must not move a published score by one ulp."""
    rng = np.random.default_rng(11)
    compared = 0
    for log_params in rng.uniform([-3, -2, -5, -3], [3, 8, 3, 6], size=(60, 4)):
        params = BGNBDParams(*np.exp(log_params))
        spend = gammagamma.GammaGammaParams(*np.exp(rng.uniform([0, 0, 0], [3, 3, 5])))
        for _ in range(100):
            T = int(rng.integers(0, 2000))
            t_x = int(rng.integers(0, T + 1))
            x = int(rng.integers(1, 60)) if t_x else 0
            horizon = float(rng.choice([30.0, 90.0, 365.0]))
            alive = float(bgnbd.p_alive(params, x, t_x, T))
            expected = float(bgnbd.expected_purchases(params, horizon, x, t_x, T, alive=alive))
            no_order = float(bgnbd.prob_no_purchase(params, horizon, x, t_x, T, alive=alive))
            assert bgnbd.outlook_one(params, horizon, x, t_x, T) == (alive, expected, no_order)
            mean = float(rng.lognormal(3.5, 1.0))
            assert gammagamma.average_value_one(spend, x, mean) == float(
                gammagamma.expected_average_value(spend, x, mean)
            )
            compared += 1
    assert compared == 6000
