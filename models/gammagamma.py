"""Gamma-Gamma (Fader, Hardie & Lee 2005): a customer's expected spend per order.

Order values vary around each customer's own mean; the means vary across customers.
Fit on customers with at least one repeat purchase (``x >= 1``), as is standard, by
bounded maximum likelihood over log-parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import gammaln

LOG_BOUNDS = ((-6.0, 8.0), (np.log(1.0001), 8.0), (-6.0, 12.0))  # p, q (> 1 for a finite mean), v
START = np.log([2.0, 3.0, 50.0])


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float


@dataclass(frozen=True)
class GammaGammaFit:
    params: GammaGammaParams
    log_likelihood: float
    converged: bool
    n_customers: int


def log_likelihood(params: GammaGammaParams, x: ArrayLike, m: ArrayLike) -> NDArray[np.float64]:
    """Per-customer log-likelihood of ``x`` orders with mean value ``m``."""
    p, q, v = params.p, params.q, params.v
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(x * m + v)
    )


def fit(x: ArrayLike, m: ArrayLike, init: GammaGammaParams | None = None) -> GammaGammaFit:
    """Maximum likelihood on customers with ``x >= 1`` and a positive mean value."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    keep = (x >= 1) & (m > 0)
    x, m = x[keep], m[keep]
    if not x.size:  # nobody has ordered twice yet: nothing to fit
        params = init or GammaGammaParams(*np.exp(START))
        return GammaGammaFit(params, float("nan"), False, 0)

    def objective(log_params: NDArray[np.float64]) -> float:
        return -float(np.mean(log_likelihood(GammaGammaParams(*np.exp(log_params)), x, m)))

    start = np.log([init.p, init.q, init.v]) if init is not None else START
    start = np.clip(start, [lo for lo, _ in LOG_BOUNDS], [hi for _, hi in LOG_BOUNDS])
    result = minimize(objective, start, method="L-BFGS-B", bounds=LOG_BOUNDS)
    return GammaGammaFit(GammaGammaParams(*np.exp(result.x)), -float(result.fun), bool(result.success), int(x.size))


def expected_average_value(params: GammaGammaParams, x: ArrayLike, m: ArrayLike) -> NDArray[np.float64]:
    """E[spend per order | x orders averaging m]: the posterior mean, shrunk toward the population."""
    p, q, v = params.p, params.q, params.v
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    return (p * (v + x * m)) / (p * x + q - 1)


def average_value_one(params: GammaGammaParams, x: int, m: float) -> float:
    """``expected_average_value`` for one customer: the same steps on scalars, the same bits."""
    p, q, v = params.p, params.q, params.v
    return float((p * (v + float(x) * m)) / (p * float(x) + q - 1))
