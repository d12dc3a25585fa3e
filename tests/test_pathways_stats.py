"""Pathways statistics without a database: sequence distances, CLARA on planted trajectories,
the latent-class mixture on planted count profiles, event counts of sequences, standardized rates, intervals, funnel limits, path masking, indicator files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from veille.errors import VeilleError
from veille.pathways.clustering import Clara, distances
from veille.pathways.clusters import Trajectories, central_sequences, event_counts, refill_channel
from veille.pathways.indicators import read_indicators
from veille.pathways.mixture import PoissonMixture
from veille.pathways.rates import funnel_limits, standardized_rate, wilson_interval
from veille.pathways.sequences import OUT, encode, substitution_costs
from veille.pathways.summaries import mask_paths


def test_encode_and_costs():
    codes = encode(["AGM.", "X"], months=4)
    assert codes.tolist() == [[0, 6, 12, OUT], [23, OUT, OUT, OUT]]
    cost = substitution_costs()
    # 'A' (none, low, no stay) vs 'X' (insulin, complete, hospitalised): 0.5 x 3 + 3 x 2 + 0.25
    assert cost[0, 23] == 7.75
    assert cost[0, OUT] == 0.0 and cost[OUT, OUT] == 0.0
    with pytest.raises(ValueError, match="outside A-X"):
        encode(["AZ"])


def test_distances_average_over_common_months():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 25, size=(7, 12)).astype(np.int8)
    b = rng.integers(0, 25, size=(5, 12)).astype(np.int8)
    cost = substitution_costs()
    common = np.array([[((x != OUT) & (y != OUT)).sum() for y in b] for x in a])
    brute = np.array([[cost[x, y].sum() for y in b] for x in a]) * 12 / common
    assert np.allclose(distances(a, b, cost, chunk=3), brute)
    never = np.full((1, 12), OUT, np.int8)
    assert distances(never, b[:1], cost)[0, 0] == cost.max() * 12


def _planted(n_per: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # 6 x treatment + 2 x monitoring + hospitalised: one class with complete monitoring, one
    # class with low monitoring, escalating, gaps in treatment with low monitoring
    seqs, truth = [], []
    for j, p in enumerate(_planted_pattern(j) for j in range(4)):
        s = np.tile(p, (n_per, 1))
        flip = rng.random(s.shape) < 0.15
        s[flip] = rng.integers(0, 24, flip.sum())
        seqs.append(s)
        truth += [j] * n_per
    return np.vstack(seqs).astype(np.int8), np.array(truth)


def test_clara_recovers_planted_trajectories():
    rng = np.random.default_rng(7)
    codes, truth = _planted(500, rng)
    model = Clara(sample_size=400, n_samples=3, seed=3).fit(codes)
    res = model.result_
    assert res.k == 4
    assert adjusted_rand_score(truth, res.labels) > 0.95
    assert model.summary["chosen"].sum() == 1
    assert np.allclose(res.distance, distances(codes, res.medoids, model.cost).min(axis=1))


def test_central_sequences_are_the_planted_patterns():
    # each planted class is its pattern with 15 % of months redrawn at random: the most central
    # members are among the least noisy ones (a typical member differs in 14 % of its months),
    # so the medoid is the pattern in all but one or two months
    rng = np.random.default_rng(3)
    codes, truth = _planted(300, rng)
    # 30 clean copies of pattern 0 observed 6 months only: closest to everything over those
    # months, but no candidate (observed under 75 % of the 36 months)
    short = np.full((30, 36), OUT, np.int8)
    short[:, :6] = _planted_pattern(0)[:6]
    codes, truth = np.vstack([codes, short]), np.r_[truth, np.zeros(30, int)]
    central = central_sequences(codes, truth, 4, n=3, sample_size=200, seed=0)
    assert min((c != OUT).sum(axis=1).min() for c in central) >= 27
    everyone = central_sequences(codes, truth, 4, n=1, sample_size=400, seed=0, min_observed=0)
    assert (everyone[0] != OUT).sum() == 6  # without the rule, a short copy would be the medoid
    patterns = [_planted_pattern(j) for j in range(4)]
    assert [c.shape for c in central] == [(3, 36)] * 4
    for j, c in enumerate(central):
        off = (c != patterns[j]).mean(axis=1)
        assert off[0] <= 2 / 36 and (off <= 4 / 36).all(), (j, off)
    assert [len(c) for c in central_sequences(codes, np.full(len(codes), 1), 2)] == [0, 3]  # empty cluster 0


def _planted_pattern(j: int, months: int = 36) -> np.ndarray:
    return [np.full(months, 6 + 4), np.full(months, 6),
            np.r_[np.full(12, 6 + 2), np.full(12, 12 + 2), np.full(12, 18 + 2)],
            np.tile([6, 6, 0, 0], months // 4)][j]


# monthly rates of (tests, interruptions, visits) in four planted classes, and their shares
PLANTED_RATES = np.array([[0.40, 0.005, 0.02], [0.05, 0.005, 0.005],
                          [0.40, 0.005, 0.25], [0.15, 0.080, 0.02]])


def _planted_counts(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    truth = rng.choice(4, size=n, p=[0.35, 0.25, 0.25, 0.15])
    exposure = rng.integers(12, 37, n)
    counts = rng.poisson(PLANTED_RATES[truth] * exposure[:, None])
    return pd.DataFrame(counts, columns=["tests", "stops", "visits"]), exposure, truth


def test_mixture_recovers_planted_classes_and_rates():
    counts, exposure, truth = _planted_counts(4000, np.random.default_rng(5))
    model = PoissonMixture(sample_size=2000, seed=1).fit(counts, exposure)
    res = model.result_
    assert res.k == 4  # the smallest ICL on the 2,000-row sample
    summary = model.summary
    assert summary["k"].tolist() == list(range(2, 9))
    assert summary.loc[summary["chosen"], "k"].tolist() == [4]
    assert summary.loc[summary["icl"].idxmin(), "k"] == 4
    # BIC = -2 log L + (k - 1 + 3k) log(2,000); ICL adds twice the entropy of the memberships,
    # between 0 and 2 x 2,000 x log k
    params = summary["k"] - 1 + 3 * summary["k"]
    assert np.allclose(summary["bic"], -2 * summary["log_likelihood"] + params * np.log(2000))
    entropy = (summary["icl"] - summary["bic"]) / 2
    assert ((entropy > 0) & (entropy < 2000 * np.log(summary["k"]))).all()
    # as good as the classifier that knows the planted rates and shares (Bayes rule)
    log_terms = (counts.to_numpy() @ np.log(PLANTED_RATES).T
                 - exposure[:, None] * PLANTED_RATES.sum(axis=1) + np.log([0.35, 0.25, 0.25, 0.15]))
    oracle = adjusted_rand_score(truth, np.argmax(log_terms, axis=1))
    assert 0.75 < oracle < 0.85
    assert adjusted_rand_score(truth, res.labels) > oracle - 0.02
    # each planted class is found again: its nearest fitted class has its rates, within 4
    # standard errors of a rate estimated over the class's ~ 4,000 x share x 24 months, plus
    # 15 % for the patients the overlap puts in the wrong class
    fitted = model.rates.to_numpy()
    shares = np.array([0.35, 0.25, 0.25, 0.15])
    for planted, share in zip(PLANTED_RATES, shares, strict=True):
        nearest = fitted[np.argmin(np.abs(np.log(fitted / planted)).sum(axis=1))]
        tolerance = 4 * np.sqrt(planted / (4000 * share * 24)) + 0.15 * planted
        assert (np.abs(nearest - planted) <= tolerance).all(), (nearest, planted, tolerance)
    assert list(model.rates.columns) == ["tests", "stops", "visits"]
    sizes = np.bincount(res.labels)
    assert (np.diff(sizes) <= 0).all()  # numbered by decreasing size
    assert ((res.probability > 0.25) & (res.probability <= 1)).all()
    assert np.median(res.probability) > 0.95  # measured 0.98: most patients are clear-cut


def test_mixture_with_a_given_k_and_bad_input():
    counts, exposure, _ = _planted_counts(300, np.random.default_rng(2))
    model = PoissonMixture(k=3, seed=0).fit(counts, exposure)
    assert model.result_.k == 3 and model.summary.empty
    # identical rows all get the same most likely class: the empty ones are dropped
    same = PoissonMixture(k=3, seed=0).fit(pd.DataFrame({"a": [2] * 20}), np.full(20, 12))
    assert same.result_.k == 1 and (same.result_.labels == 0).all()
    assert same.rates.to_dict("list") == {"a": [pytest.approx(2 / 12)]}
    with pytest.raises(ValueError, match="^choosing k needs a sample of more than 2 rows$"):
        PoissonMixture(sample_size=2).fit(counts, exposure)
    with pytest.raises(ValueError, match="^exposure must be positive"):
        PoissonMixture(k=2).fit(counts, np.zeros(300))
    with pytest.raises(ValueError, match="^counts must be finite and non-negative$"):
        PoissonMixture(k=2).fit(-counts, exposure)
    with pytest.raises(ValueError, match="^clustering needs at least 3 sequences$"):
        PoissonMixture(k=2).fit(counts[:2], exposure[:2])


def test_binomial_channel_separates_classes_the_counts_cannot():
    # two planted classes with the same monthly test rate, told apart only by their share of
    # late refills (0.2 against 0.6, 5 to 30 refills each): the channel the generator's
    # non-adherent patients differ by
    rng = np.random.default_rng(11)
    n = 3000
    truth = rng.choice(2, size=n, p=[0.6, 0.4])
    exposure = rng.integers(12, 61, n)
    counts = pd.DataFrame({"tests": rng.poisson(0.3 * exposure)})
    trials = rng.integers(5, 31, n)[:, None]
    late = pd.DataFrame({"late": rng.binomial(trials[:, 0], np.where(truth == 1, 0.6, 0.2))})
    blind = PoissonMixture(sample_size=2000, seed=0).fit(counts, exposure)
    assert adjusted_rand_score(truth, blind.result_.labels) < 0.05
    model = PoissonMixture(sample_size=2000, seed=0).fit(counts, exposure, late, trials)
    assert model.result_.k == 2
    # as good as the Bayes rule that knows the planted shares and probabilities
    x, m = late["late"].to_numpy(), trials[:, 0]
    oracle = np.argmax(np.log([0.6, 0.4]) + x[:, None] * np.log([0.2, 0.6])
                       + (m - x)[:, None] * np.log([0.8, 0.4]), axis=1)
    best = adjusted_rand_score(truth, oracle)
    assert 0.75 < best < 0.85
    assert adjusted_rand_score(truth, model.result_.labels) > best - 0.02
    p = model.probabilities
    assert list(p.columns) == ["late"]
    # within 4 standard errors of a share estimated over ~ 17 refills x 1,800 and 1,200 patients
    assert p["late"].tolist() == [pytest.approx(0.2, abs=0.01), pytest.approx(0.6, abs=0.015)]
    assert model.summary.loc[model.summary["chosen"], "k"].tolist() == [2]


def test_mixture_log_likelihood_with_one_class_is_the_closed_form():
    from scipy import stats

    counts = pd.DataFrame({"a": [0, 3, 5, 1]})
    exposure = np.array([2.0, 4.0, 6.0, 1.0])
    late = pd.DataFrame({"late": [0, 2, 1, 3]})
    trials = np.array([[1], [4], [2], [3]])
    model = PoissonMixture(k=1).fit(counts, exposure, late, trials)
    rate, p = 9 / 13, 6 / 10
    expected = (stats.poisson.logpmf(counts["a"], rate * exposure).sum()
                + stats.binom.logpmf(late["late"], trials[:, 0], p).sum())
    assert model.rates.to_dict("list") == {"a": [pytest.approx(rate)]}
    assert model.probabilities.to_dict("list") == {"late": [pytest.approx(p)]}
    from veille.pathways.mixture import Binomial, fit_em
    fit = fit_em(counts.to_numpy(float), exposure, 1, np.random.default_rng(0),
                 binomial=Binomial(late.to_numpy(float), trials.astype(float)))
    assert fit.log_likelihood == pytest.approx(expected, rel=1e-12)
    assert fit.n_parameters() == 2  # one rate, one probability, no free weight
    with pytest.raises(ValueError, match="^successes must lie between 0 and trials$"):
        PoissonMixture(k=1).fit(counts, exposure, late, trials - 2)
    with pytest.raises(ValueError, match="^successes and trials must be two"):
        PoissonMixture(k=1).fit(counts, exposure, late, trials[:3])


def test_event_counts_of_sequences():
    # letters: 6 x treatment + 2 x monitoring + hospitalised ('A' none, 'G' one class,
    # 'H' one class in hospital, 'B' none in hospital)
    codes = encode(["GGAAGHHA", "BAGG..GA", "........"], months=8)
    traj = Trajectories(np.array([1, 2, 3]), codes, pd.DataFrame({"age": [60, 70, 80]}),
                        pd.DataFrame({"hba1c": [2, 0, 0]}),
                        pd.DataFrame({"refill_intervals": [7, 3, 0], "late_refills": [1, 2, 0]}))
    late, intervals = refill_channel(traj)
    assert late.to_dict("list") == {"late_refills": [1, 2, 0]}
    assert intervals.tolist() == [[7], [3], [0]]
    counts, exposure = event_counts(traj)
    assert exposure.tolist() == [8, 6, 0]
    assert counts.to_dict("list") == {
        # a treated month then an observed untreated one; months 4-5 of patient 2 unobserved
        "hba1c": [2, 0, 0], "treatment_stops": [2, 1, 0],
        # runs of hospitalised months (one run of two for patient 1, the first month for 2)
        "hospital_admissions": [1, 1, 0],
    }


def test_standardized_rate_by_hand():
    strata = pd.DataFrame({"age_band": ["0-4", "90+"], "events": [10.0, 30.0],
                           "person_years": [100.0, 50.0]})
    ev, py, crude, dsr, lo, hi = standardized_rate(strata, {"0-4": 5000, "90+": 1000})
    w = np.array([5 / 6, 1 / 6])
    assert (ev, py, crude) == (40.0, 150.0, 40 / 150)
    assert dsr == pytest.approx(w[0] * 0.1 + w[1] * 0.6)
    assert lo < dsr < hi


def test_wilson_and_funnel():
    lo, hi = wilson_interval(np.array([8]), np.array([10]))
    assert (round(float(lo[0]), 4), round(float(hi[0]), 4)) == (0.4902, 0.9433)
    lo95, hi95 = funnel_limits(0.5, np.array([100, 10000]), 0.95)
    assert lo95[0] < lo95[1] < 0.5 < hi95[1] < hi95[0]
    assert hi95[1] == pytest.approx(0.5 + 1.96 * 0.005, abs=5e-4)


def test_mask_paths_folds_small_paths_into_their_prefix():
    df = pd.DataFrame({"path": ["a", "a > b", "a > c", "a > d", "e"], "patients": [50, 12, 6, 5, 3]})
    out = mask_paths(df)
    assert out.values.tolist() == [["a", 50], ["a > b", 12], ["a > other", 11]]


def test_shipped_indicators_and_bad_files(tmp_path):
    ids = [ind.id for ind, _ in read_indicators()]
    assert ids == ["diabetes_hba1c", "diabetes_creatinine", "diabetes_eye_exam", "diabetes_lipids",
                   "post_mi_statin", "post_mi_beta_blocker", "post_mi_antiplatelet", "post_mi_triple"]
    bad = tmp_path / "bad.yml"
    bad.write_text("id: x\nlabel: y\npopulation: {kind: atc, codes: [A10]}\n"
                   "window: {kind: after_index, length: 30}\nitems: [{kind: nabm, codes: ['1577']}]\n")
    with pytest.raises(VeilleError) as exc:
        read_indicators(bad)
    assert str(exc.value) == f"{bad}: an atc population needs a calendar window"
    bad.write_text("id: x\nlabel: y\npopulation: {kind: atc, codes: [A10]}\n"
                   "window: {kind: calendar, length: 1}\nitems: [{kind: loinc, codes: ['1']}]\n")
    with pytest.raises(VeilleError) as exc:
        read_indicators(bad)
    assert str(exc.value) == (f"{bad}: items[0].kind: must be 'nabm', 'ccam', 'atc' or 'visit_specialty', "
                              "got 'loinc'")
    bad.write_text("indicators:\n- id: x\n  label: y\n  populaton: {kind: atc, codes: [A10]}\n")
    with pytest.raises(VeilleError) as exc:
        read_indicators(bad)
    assert str(exc.value) == f"{bad}: indicators[0]: unknown key 'populaton' (did you mean 'population'?)"
    bad.write_text("id: x\nlabel: [y\n")
    with pytest.raises(VeilleError) as exc:
        read_indicators(bad)
    assert str(exc.value) == f"{bad}: line 3 not valid YAML (expected ',' or ']', but got '<stream end>')"


def test_bad_input_is_one_readable_line(tmp_path):
    from veille.pathways.evaluate import read_truth

    bad = tmp_path / "truth.json"
    bad.write_text("{\"fraud\": {}}")
    with pytest.raises(VeilleError, match=r"^truth.json has no 'pathways' section \(patient -> archetype\)$"):
        read_truth(bad)
    with pytest.raises(VeilleError, match=r"^truth file not found: "):
        read_truth(tmp_path / "missing.json")
    from typer.testing import CliRunner
    from veille.pathways.cli import pathways_app

    # the CLI prints a VeilleError as one line "error: ..." (exit 2); the command raises it
    # before touching the database, naming the option
    out = CliRunner().invoke(pathways_app, ["run", "--k", "1"])
    assert isinstance(out.exception, VeilleError)
    assert str(out.exception) == "--k: must be 0 (automatic) or at least 2, got 1"
    out = CliRunner().invoke(pathways_app, ["run", "--method", "kmeans"])
    assert str(out.exception) == "--method: must be 'mixture' or 'clara', got 'kmeans'"


def test_care_rates_match_the_scalar_formula():
    from veille.pathways.rates import ESP2013
    from veille.pathways.summaries import CARE_MEASURES, care_rates

    rng = np.random.default_rng(3)
    rows = []
    for year in (2020, 2021):
        for sex in ("1", "2"):
            for dpt in ("075", "013"):
                for band in ("60-64", "65-69", "90+"):
                    row = {"year": year, "age_band": band, "sex": sex, "department": dpt,
                           "person_years": float(rng.uniform(5, 50))}
                    row.update({m: float(rng.poisson(20)) for m in CARE_MEASURES})
                    rows.append(row)
    strata = pd.DataFrame(rows)
    out = care_rates(strata).set_index(["measure", "stratum_kind", "stratum", "year"])
    sel = strata[(strata["year"] == 2021) & (strata["sex"] == "2")]
    by_band = sel.groupby("age_band", as_index=False).agg(events=("gp_visits", "sum"),
                                                          person_years=("person_years", "sum"))
    expected = standardized_rate(by_band, ESP2013)
    got = out.loc[("gp_visits", "sex", "2", 2021)]
    assert (got["events"], got["person_years"], got["crude_rate"]) == pytest.approx(expected[:3])
    assert (got["std_rate"], got["ci_low"], got["ci_high"]) == pytest.approx(expected[3:])
