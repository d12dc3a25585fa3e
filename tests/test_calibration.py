"""Empirical calibration (veille.study.calibration): the null recovered from simulated negative
controls, exact calibrated values in a case checked by hand, the refusal with too few controls."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from veille.study.calibration import Null, calibrate, calibrate_estimates, fit_null


def test_the_null_is_recovered_from_many_negative_controls():
    rng = np.random.default_rng(3)
    se = rng.uniform(0.05, 0.3, 400)
    b = rng.normal(0.2, np.sqrt(0.15**2 + se**2))  # systematic error: bias 0.2, spread 0.15
    null = fit_null(b, se)
    assert null.n_controls == 400 and null.message is None
    assert null.mu == pytest.approx(0.2, abs=0.03) and null.sigma == pytest.approx(0.15, abs=0.03)


def test_without_systematic_error_calibration_is_the_usual_test_shifted_by_the_bias():
    null = Null(mu=0.1, sigma=0.0, n_controls=10)
    p, lo, hi = calibrate(math.log(2.0), 0.2, null)
    z = (math.log(2.0) - 0.1) / 0.2
    assert p == pytest.approx(2 * stats.norm.sf(z), rel=1e-12)
    assert (lo, hi) == pytest.approx((math.exp(math.log(2.0) - 0.1 - 1.959963984540054 * 0.2),
                                      math.exp(math.log(2.0) - 0.1 + 1.959963984540054 * 0.2)), rel=1e-9)
    # systematic error widens the interval: sd = sqrt(0.3^2 + 0.4^2) = 0.5
    p, lo, hi = calibrate(0.0, 0.4, Null(mu=0.0, sigma=0.3, n_controls=10))
    assert p == 1.0 and math.log(hi) == pytest.approx(1.959963984540054 * 0.5)


def test_too_few_negative_controls_are_not_calibrated_and_say_so():
    est = [{"cohort_id": "c", "analysis": "iptw", "term": "exposed", "is_negative_control": nc, "status": "ok",
            "hr": hr, "se_log_hr": 0.2} for nc, hr in ((True, 1.1), (True, 0.9), (True, 1.3), (False, 2.0))]
    nulls = calibrate_estimates(est)
    assert nulls[("c", "iptw", "exposed")] == Null(
        None, None, 3, "3 estimable negative controls, at least 5 needed: not calibrated")
    assert all(e["calibrated_p"] is None and e["calibrated_ci_low"] is None for e in est)
