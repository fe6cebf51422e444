"""The study statistics against independent references: scipy's binomial test and its intervals,
Mann-Whitney / pair counting for the AUC, and the textbook kappa formulas on small hand-made tables."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import binomtest, fisher_exact, mannwhitneyu

from synthgui.core.study.analysis import (
    agreement,
    analyse,
    auc_ci,
    auc_of,
    proportion,
    scored_judgments,
)
from synthgui.core.study.report import html_report
from synthgui.core.study.session_log import Judgment


def _study(n_syn: int, n_real: int) -> dict[str, str]:
    return {f"s{i}": "synthetic" for i in range(n_syn)} | {f"r{i}": "real" for i in range(n_real)}


def _judge(truth: dict[str, str], calls: dict[str, dict[str, tuple]]) -> list[Judgment]:
    """calls[reader][case] = (call, confidence); every reader sees the cases in key order."""
    out = []
    for reader, by_case in calls.items():
        for seq, case in enumerate(c for c in truth if c in by_case):
            call, conf = by_case[case]
            out.append(Judgment("sid", reader, "main", seq, case, call, conf, rt_ms=900.0,
                                timed_out=call is None))
    return out


def _fleiss_textbook(counts: np.ndarray) -> float:
    """Fleiss (1971): counts[i, j] = raters putting subject i in category j, m raters each."""
    n_sub, m = counts.shape[0], counts[0].sum()
    p_j = counts.sum(0) / (n_sub * m)
    p_i = ((counts ** 2).sum(1) - m) / (m * (m - 1))
    p_bar, pe = p_i.mean(), (p_j ** 2).sum()
    return (p_bar - pe) / (1 - pe)


def _cohen_textbook(a: list[int], b: list[int]) -> float:
    """Cohen (1960): (po - pe) / (1 - pe) from the 2x2 table of two raters."""
    a, b = np.asarray(a), np.asarray(b)
    po = np.mean(a == b)
    pe = a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean())
    return (po - pe) / (1 - pe)


# -- positive class, hand counts -----------------------------------------------------------------
def test_sensitivity_is_synthetic_called_synthetic_and_counts_match_hand_counts():
    truth = _study(6, 4)
    calls = {"A": {"s0": ("synthetic", 5), "s1": ("synthetic", 2), "s2": ("real", 1), "s3": ("synthetic", 4),
                   "s4": ("real", 3), "s5": (None, None),
                   "r0": ("real", 4), "r1": ("synthetic", 2), "r2": ("real", 5), "r3": (None, None)}}
    res = analyse(_judge(truth, calls), truth, "sid")
    a = res.readers[0]
    # answered: 5 synthetic (3 called synthetic), 3 real (2 called real); 2 unanswered left out everywhere
    assert (a.n, a.timed_out) == (8, 2)
    assert (a.sensitivity.k, a.sensitivity.n) == (3, 5) and (a.specificity.k, a.specificity.n) == (2, 3)
    assert (a.accuracy.k, a.accuracy.n) == (5, 8)
    assert {i.case_id: i.readers for i in res.images}["s5"] == 0
    assert sum(b.accuracy.n for b in res.by_position) == 8
    page = html_report(res, [], "t")
    assert "Positive class = synthetic" in page and "Sensitivity = synthetic images called synthetic" in page


# -- intervals ---------------------------------------------------------------------------------
@pytest.mark.parametrize("k,n", [(0, 1), (1, 1), (0, 12), (12, 12), (7, 10), (3, 40)])
def test_intervals_are_wilson_and_clopper_pearson_as_scipy_computes_them(k, n):
    p = proportion(k, n)
    ref = binomtest(k, n)
    assert p.estimate == k / n
    assert p.wilson == pytest.approx(tuple(ref.proportion_ci(method="wilson")), abs=1e-9)
    assert p.clopper_pearson == pytest.approx(tuple(ref.proportion_ci(method="exact")), abs=1e-9)
    assert 0.0 <= p.wilson[0] <= p.estimate <= p.wilson[1] <= 1.0
    assert 0.0 <= p.clopper_pearson[0] <= p.estimate <= p.clopper_pearson[1] <= 1.0
    assert proportion(0, 0).estimate is None and proportion(0, 0).wilson is None


# -- the test against chance ---------------------------------------------------------------------
def test_balanced_study_uses_the_exact_two_sided_binomial_test_against_one_half():
    truth = _study(9, 9)
    rng = np.random.default_rng(3)
    calls = {"A": {c: (str(rng.choice(["real", "synthetic"])), 3) for c in truth}}
    a = analyse(_judge(truth, calls), truth).readers[0]
    assert a.p_value == pytest.approx(binomtest(a.accuracy.k, a.n, 0.5, alternative="two-sided").pvalue)


def test_unbalanced_study_a_reader_who_cannot_tell_is_not_above_chance():
    # 16 synthetic, 4 real; the reader calls everything "synthetic": no discrimination at all,
    # yet 80% accurate. The binomial test against 0.5 called this p = 0.012.
    truth = _study(16, 4)
    a = analyse(_judge(truth, {"A": {c: ("synthetic", 3) for c in truth}}), truth).readers[0]
    assert a.accuracy.estimate == pytest.approx(0.8)
    assert a.balanced_accuracy == pytest.approx(0.5)  # (sensitivity + specificity) / 2
    assert a.p_value == pytest.approx(1.0)
    # a reader who does discriminate: p from Fisher's exact test of call vs truth
    calls = {c: ("synthetic" if c[0] == "s" and int(c[1:]) < 12 or c == "r0" else "real", 3) for c in truth}
    b = analyse(_judge(truth, {"B": calls}), truth).readers[0]
    table = [[12, 4], [1, 3]]  # rows truth synthetic/real, columns called synthetic/real
    assert b.p_value == pytest.approx(fisher_exact(table).pvalue)
    assert b.balanced_accuracy == pytest.approx((12 / 16 + 3 / 4) / 2)
    page = html_report(analyse(_judge(truth, {"B": calls}), truth), [], "t")
    assert "Fisher" in page and "balanced accuracy" in page


def test_tiny_p_values_are_not_printed_as_zero():
    truth = _study(20, 20)
    res = analyse(_judge(truth, {"A": {c: ("synthetic" if c[0] == "s" else "real", 5) for c in truth}}), truth)
    assert res.readers[0].p_value < 1e-4
    page = html_report(res, [], "t")
    assert "0.0000<" not in page and "&lt;0.0001" in page


# -- ROC AUC -------------------------------------------------------------------------------------
def test_auc_equals_pair_counting_with_ties_and_its_interval_is_reproducible():
    rng = np.random.default_rng(0)
    for _ in range(50):
        x = rng.choice([-5, -3, -1, 1, 2, 5], rng.integers(1, 9)).astype(float)
        y = rng.choice([-5, -3, -1, 1, 2, 5], rng.integers(1, 9)).astype(float)
        pairs = np.mean([(s > r) + 0.5 * (s == r) for s, r in itertools.product(x, y)])
        assert float(auc_of(x, y)) == pytest.approx(pairs)
        assert float(auc_of(x, y)) == pytest.approx(mannwhitneyu(x, y).statistic / (len(x) * len(y)))
    syn, real = np.array([5., 4, 2, -2, -4]), np.array([-5., -3, -1, 1, -3])
    assert auc_ci(syn, real) == auc_ci(syn, real)  # seeded
    truth = _study(4, 4)
    same = analyse(_judge(truth, {"A": {c: ("real", 3) for c in truth}}), truth).readers[0]
    assert same.auc == 0.5 and same.auc_ci == (0.5, 0.5)  # a reader who always answers the same
    # without confidence the score is +-1, and the AUC is then the balanced accuracy
    calls = {c: ("synthetic" if c in ("s0", "s1", "s2", "r0") else "real", None) for c in truth}
    r = analyse(_judge(truth, {"A": calls}), truth).readers[0]
    assert r.auc == pytest.approx((3 / 4 + 3 / 4) / 2)


# -- kappas --------------------------------------------------------------------------------------
def _rows(calls: dict[str, list[int]]) -> list[tuple[Judgment, str]]:
    out = []
    for reader, cs in calls.items():
        for i, c in enumerate(cs):
            out.append((Judgment("sid", reader, "main", i, f"c{i}", "synthetic" if c else "real", 3), "real"))
    return out


def test_kappas_match_the_textbook_formulas():
    # Wikipedia's Cohen example: 50 items, yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> kappa 0.4
    a = [1] * 25 + [0] * 25
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    res = agreement(_rows({"A": a, "B": b}), ["A", "B"])
    cohen = next(x for x in res if x.kind.startswith("cohen"))
    assert cohen.kappa == pytest.approx(0.4) == pytest.approx(_cohen_textbook(a, b))
    # three readers on eight cases, Fleiss (1971)
    m = {"A": [1, 1, 0, 0, 1, 0, 1, 1], "B": [1, 0, 0, 0, 1, 0, 1, 0], "C": [1, 1, 0, 1, 1, 0, 0, 0]}
    counts = np.array([[sum(m[r][i] for r in m), 3 - sum(m[r][i] for r in m)] for i in range(8)])
    res = agreement(_rows(m), ["A", "B", "C"])
    assert next(x for x in res if x.kind == "fleiss").kappa == pytest.approx(_fleiss_textbook(counts))
    for x, y in (("A", "B"), ("A", "C"), ("B", "C")):
        assert next(k for k in res if k.kind == f"cohen {x} vs {y}").kappa == pytest.approx(_cohen_textbook(m[x], m[y]))


def test_kappa_edge_cases():
    assert agreement(_rows({"A": [1, 0, 1]}), ["A"]) == []  # one reader: no agreement to measure
    perfect = agreement(_rows({"A": [1, 0, 1, 0], "B": [1, 0, 1, 0]}), ["A", "B"])
    assert all(x.kappa == pytest.approx(1.0) for x in perfect)
    # four cases do not make kappa certainly 1: no zero-width "95% interval" 1.000-1.000
    assert all(x.ci is None and x.asymptotic_ci is None for x in perfect)
    # every call "synthetic" by both: po = pe = 1, kappa 0/0, reported as undefined (not 0, not 1)
    degenerate = agreement(_rows({"A": [1, 1, 1], "B": [1, 1, 1]}), ["A", "B"])
    assert all(x.kappa is None and x.asymptotic_ci is None for x in degenerate)
    # a category one reader never uses: A always "synthetic", B mixed -> pe = po -> kappa 0
    never = agreement(_rows({"A": [1, 1, 1, 1], "B": [1, 0, 1, 1]}), ["A", "B"])
    assert next(x for x in never if x.kind.startswith("cohen")).kappa == pytest.approx(0.0)


def test_cohen_asymptotic_interval_stays_within_the_range_of_kappa():
    # kappa = 5/7 on eight cases: the Wald interval kappa +- 1.96 SE reached 1.216
    a, b = [0, 0, 1, 1, 1, 1, 0, 1], [0, 0, 1, 1, 1, 1, 1, 1]
    cohen = next(x for x in agreement(_rows({"A": a, "B": b}), ["A", "B"]) if x.kind.startswith("cohen"))
    assert cohen.kappa == pytest.approx(_cohen_textbook(a, b))
    lo, hi = cohen.asymptotic_ci
    assert -1.0 <= lo < cohen.kappa < hi <= 1.0


# -- pooled accuracy and clustering ----------------------------------------------------------------
def test_pooled_accuracy_allows_for_readers_and_images_being_clustered():
    # 5 readers, 10 images: 7 images every reader gets right, 3 every reader gets wrong. There are
    # 10 independent images here, not 50 independent readings: 7/10 is no evidence against chance.
    truth = _study(5, 5)
    easy = {"s0", "s1", "s2", "s3", "r0", "r1", "r2"}
    wrong = {"synthetic": "real", "real": "synthetic"}
    calls = {f"R{i}": {c: (t if c in easy else wrong[t], 3) for c, t in truth.items()} for i in range(5)}
    res = analyse(_judge(truth, calls), truth)
    pooled = res.pooled
    assert pooled.accuracy.estimate == pytest.approx(0.7)
    assert pooled.p_value < 0.05 and pooled.accuracy.wilson[0] > 0.5  # naive: as if 50 independent readings
    lo, hi = pooled.cluster_ci
    assert lo < 0.5 < hi
    assert res.pooled.cluster_ci == analyse(_judge(truth, calls), truth).pooled.cluster_ci  # seeded
    page = html_report(res, [], "t")
    assert "cluster bootstrap" in page and "as if independent" in page


def test_cluster_interval_covers_the_reader_and_image_spread_of_a_simulation():
    """Readers differ in skill and images in difficulty: the two-way interval is wider than Wilson's."""
    rng = np.random.default_rng(7)
    truth = _study(15, 15)
    skill = rng.normal(0.4, 0.5, 5)
    ease = rng.normal(0, 1.5, 30)
    calls = {}
    for r, s in enumerate(skill):
        calls[f"R{r}"] = {}
        for i, (c, t) in enumerate(truth.items()):
            right = rng.random() < 1 / (1 + np.exp(-(s + ease[i])))
            calls[f"R{r}"][c] = (t if right else ("real" if t == "synthetic" else "synthetic"), 3)
    pooled = analyse(_judge(truth, calls), truth).pooled
    lo, hi = pooled.cluster_ci
    assert lo < pooled.accuracy.estimate < hi
    assert hi - lo > pooled.accuracy.wilson[1] - pooled.accuracy.wilson[0]
    assert scored_judgments(_judge(truth, calls), truth)  # the rows the CLI passes to the report


def test_the_vectorised_cohen_bootstrap_is_statsmodels_kappa_on_the_same_resamples():
    """All resamples at once (20 readers have 190 pairs) must give the interval that resampling one
    by one through statsmodels gives."""
    import warnings

    from statsmodels.stats.inter_rater import cohens_kappa

    from synthgui.core.study.analysis import _bootstrap_cases, _cohen_bootstrap

    def kappa(a, b):
        table = np.zeros((2, 2))
        np.add.at(table, (a, b), 1)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(cohens_kappa(table, return_results=False))

    rng = np.random.default_rng(3)
    for n, agree in ((12, 0.7), (30, 0.5), (9, 0.95)):
        a = rng.integers(0, 2, n)
        b = np.where(rng.random(n) < agree, a, 1 - a)
        slow = _bootstrap_cases(lambda idx: kappa(a[idx], b[idx]), n, n_boot=300)
        fast = _cohen_bootstrap(a, b, n_boot=300)
        assert (slow is None and fast is None) or np.allclose(slow, fast)
