"""Statistics of a Turing test. Positive class = synthetic throughout: sensitivity is the share of
synthetic images called synthetic, specificity the share of real images called real, and the ROC
score is +confidence for a "synthetic" call and -confidence for a "real" call.

Library calls do the statistics (scipy's exact binomial test and bootstrap, statsmodels'
confidence intervals, kappas and logistic regression); this module only arranges the data.
Chance: with as many real as synthetic readings, accuracy is tested against 0.5 (exact binomial);
with unequal numbers a reader who calls everything the larger class beats 0.5 without telling the
classes apart, so the test is then Fisher's exact test of call against truth, and the balanced
accuracy (mean of sensitivity and specificity, 0.5 by chance whatever the mix) is reported.
The pooled Wilson / exact intervals and p-value treat every reading as independent (readers and
images are not); the pooled accuracy also gets a two-way cluster bootstrap interval, and the
.imrmc export is there for a random-reader, random-case MRMC analysis in iMRMC or RJafroc.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import SynthguiError
from .design import POSITIVE_CLASS
from .session_log import Judgment

N_BOOT = 2000


@dataclass
class Proportion:
    k: int
    n: int
    estimate: float | None
    wilson: tuple[float, float] | None
    clopper_pearson: tuple[float, float] | None


@dataclass
class Roc:
    fpr: list[float]
    tpr: list[float]


@dataclass
class ReaderStats:
    reader: str
    n: int
    timed_out: int  # scored cases with no answer: the time ran out, or the image could not be shown
    accuracy: Proportion
    p_value: float | None  # two-sided test of no discrimination: see `test`
    test: str | None  # "binomial vs 0.5" (as many real as synthetic readings) or "Fisher exact" (unequal)
    balanced_accuracy: float | None  # (sensitivity + specificity) / 2
    sensitivity: Proportion
    specificity: Proportion
    auc: float | None
    auc_ci: tuple[float, float] | None  # stratified bootstrap (percentile), cases resampled within class
    roc: Roc | None
    median_rt_ms: float | None
    median_rt_ms_real: float | None
    median_rt_ms_synthetic: float | None
    cluster_ci: tuple[float, float] | None = None  # pooled accuracy: readers and images resampled


@dataclass
class ImageStat:
    case_id: str
    truth: str
    readers: int
    called_synthetic: int
    fooling_rate: float | None  # share of readers who called it wrongly (synthetic called real, or real called synthetic)


@dataclass
class Agreement:
    kind: str  # "fleiss" or "cohen A vs B"
    kappa: float | None
    ci: tuple[float, float] | None  # bootstrap over cases (percentile)
    n_cases: int
    asymptotic_ci: tuple[float, float] | None = None


@dataclass
class PositionBin:
    first: int
    last: int
    accuracy: Proportion


@dataclass
class Analysis:
    study_id: str
    positive_class: str
    readers: list[ReaderStats]
    pooled: ReaderStats
    images: list[ImageStat]
    agreement: list[Agreement]
    by_position: list[PositionBin]
    position_slope: dict | None  # logistic regression of correct ~ position (learning / fatigue)
    notes: list[str] = field(default_factory=list)


def proportion(k: int, n: int) -> Proportion:
    from statsmodels.stats.proportion import proportion_confint

    if n == 0:
        return Proportion(k, n, None, None, None)
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    wilson = (0.0 if k == 0 else float(lo), 1.0 if k == n else float(hi))  # exact ends, not 0.9999999999999999
    exact = tuple(float(x) for x in proportion_confint(k, n, alpha=0.05, method="beta"))
    return Proportion(k, n, k / n, wilson, exact)


def signed_score(j: Judgment) -> float:
    """Synthetic-ness: +confidence for a synthetic call, -confidence for a real call (+-1 without confidence)."""
    c = j.confidence if j.confidence else 1
    return float(c if j.call == "synthetic" else -c)


def auc_of(scores_syn: np.ndarray, scores_real: np.ndarray, axis: int = -1) -> np.ndarray:
    """Empirical ROC AUC (Wilcoxon): P(score_syn > score_real) + 0.5 P(tie), via Mann-Whitney U."""
    from scipy.stats import mannwhitneyu

    u = mannwhitneyu(scores_syn, scores_real, axis=axis).statistic
    return u / (scores_syn.shape[axis] * scores_real.shape[axis])


def auc_ci(scores_syn: np.ndarray, scores_real: np.ndarray, seed: int = 0) -> tuple[float, float] | None:
    """Stratified bootstrap CI: scipy resamples each class separately (paired=False)."""
    from scipy.stats import bootstrap

    if len(scores_syn) < 2 or len(scores_real) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = bootstrap((scores_syn, scores_real), auc_of, paired=False, vectorized=True, n_resamples=N_BOOT,
                        method="percentile", random_state=np.random.default_rng(seed))
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return None if math.isnan(lo) or math.isnan(hi) else (lo, hi)


def roc_points(scores_syn: np.ndarray, scores_real: np.ndarray) -> Roc:
    """Operating points for every threshold on the ordinal score, from strict to lenient."""
    fpr, tpr = [0.0], [0.0]
    for t in sorted(set(scores_syn) | set(scores_real), reverse=True):
        tpr.append(float((scores_syn >= t).mean()) if len(scores_syn) else 0.0)
        fpr.append(float((scores_real >= t).mean()) if len(scores_real) else 0.0)
    return Roc(fpr, tpr)


def chance_test(syn_called: int, n_syn: int, real_called: int, n_real: int) -> tuple[float | None, str | None]:
    """Two-sided test of "the reader cannot tell real from synthetic".

    With as many real as synthetic readings chance accuracy is 0.5 whatever the reader's bias, and the
    exact binomial test of accuracy against 0.5 is the usual Turing-test statistic. With unequal
    numbers chance accuracy depends on how often the reader says "synthetic", so the test is Fisher's
    exact test of independence between call and truth (conditional on both margins).
    """
    from scipy.stats import binomtest, fisher_exact

    n = n_syn + n_real
    if n == 0:
        return None, None
    if n_syn == n_real:
        return float(binomtest(syn_called + real_called, n, 0.5).pvalue), "binomial vs 0.5"
    table = [[syn_called, n_syn - syn_called], [n_real - real_called, real_called]]
    return float(fisher_exact(table).pvalue), "Fisher exact"


def cluster_bootstrap_accuracy(rows: list[tuple[Judgment, str]], seed: int = 0,
                               n_boot: int = N_BOOT) -> tuple[float, float] | None:
    """Percentile CI of pooled accuracy from a two-way ("pigeonhole") bootstrap: readers and images
    are resampled independently, so the interval allows for readers differing in skill and images in
    difficulty (Owen 2007; slightly conservative). Readings are not independent: Wilson's is too narrow."""
    answered = [(j.reader_id, j.case_id, float(j.call == t)) for j, t in rows if j.call is not None]
    readers = sorted({r for r, _, _ in answered})
    cases = sorted({c for _, c, _ in answered})
    if len(cases) < 2:
        return None
    ri = {r: i for i, r in enumerate(readers)}
    ci = {c: i for i, c in enumerate(cases)}
    correct = np.zeros((len(readers), len(cases)))
    seen = np.zeros_like(correct)
    for r, c, ok in answered:
        correct[ri[r], ci[c]] = ok
        seen[ri[r], ci[c]] = 1.0
    rng = np.random.default_rng(seed)
    wr = rng.multinomial(len(readers), np.full(len(readers), 1 / len(readers)), size=n_boot).astype(float)
    wc = rng.multinomial(len(cases), np.full(len(cases), 1 / len(cases)), size=n_boot).astype(float)
    num = np.einsum("br,rc,bc->b", wr, correct, wc)
    den = np.einsum("br,rc,bc->b", wr, seen, wc)
    acc = num[den > 0] / den[den > 0]
    return float(np.percentile(acc, 2.5)), float(np.percentile(acc, 97.5))


def reader_stats(name: str, rows: list[tuple[Judgment, str]]) -> ReaderStats:
    answered = [(j, t) for j, t in rows if j.call is not None]
    timed_out = len(rows) - len(answered)
    n = len(answered)
    correct = sum(j.call == t for j, t in answered)
    syn = [j for j, t in answered if t == "synthetic"]
    real = [j for j, t in answered if t == "real"]
    s_syn = np.array([signed_score(j) for j in syn])
    s_real = np.array([signed_score(j) for j in real])
    auc = float(auc_of(s_syn, s_real)) if len(syn) and len(real) else None
    sens = proportion(sum(j.call == "synthetic" for j in syn), len(syn))
    spec = proportion(sum(j.call == "real" for j in real), len(real))
    p_value, test = chance_test(sens.k, sens.n, spec.k, spec.n)

    def med(js: list[Judgment]) -> float | None:
        v = [j.rt_ms for j in js if j.rt_ms is not None]
        return float(np.median(v)) if v else None

    return ReaderStats(
        reader=name, n=n, timed_out=timed_out, accuracy=proportion(correct, n),
        p_value=p_value, test=test,
        balanced_accuracy=(sens.estimate + spec.estimate) / 2 if sens.n and spec.n else None,
        sensitivity=sens, specificity=spec,
        auc=auc, auc_ci=auc_ci(s_syn, s_real) if auc is not None else None,
        roc=roc_points(s_syn, s_real) if auc is not None else None,
        median_rt_ms=med([j for j, _ in answered]), median_rt_ms_real=med(real), median_rt_ms_synthetic=med(syn),
    )


def scored_judgments(judgments: list[Judgment], truth: dict[str, str]) -> list[tuple[Judgment, str]]:
    """Main-phase judgments, the latest revision per reader and case, each with its truth."""
    latest: dict[tuple[str, str], Judgment] = {}
    for j in judgments:
        if j.phase != "main":
            continue
        key = (j.reader_id, j.case_id)
        if key not in latest or j.revision > latest[key].revision:
            latest[key] = j
    unknown = sorted({j.case_id for j in latest.values() if j.case_id not in truth})
    if unknown:
        raise SynthguiError(f"{len(unknown)} judged case(s) are not in the answer key (e.g. {unknown[0]}): "
                            "wrong key for these sessions?")
    return sorted(((j, truth[j.case_id]) for j in latest.values()), key=lambda x: (x[0].reader_id, x[0].seq))


def _fleiss(matrix: np.ndarray) -> float:
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    table, _ = aggregate_raters(matrix, n_cat=2)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(fleiss_kappa(table, method="fleiss"))


def _cohen(a: np.ndarray, b: np.ndarray) -> tuple[float, tuple[float, float] | None]:
    from statsmodels.stats.inter_rater import cohens_kappa

    table = np.zeros((2, 2))
    np.add.at(table, (a, b), 1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cohens_kappa(table)
    if math.isnan(res.kappa) or not res.std_kappa > 0:  # undefined, or a zero SE at kappa = 1: no interval
        return float(res.kappa), None
    return float(res.kappa), (max(-1.0, float(res.kappa_low)), min(1.0, float(res.kappa_upp)))


def _bootstrap_cases(stat, n_cases: int, seed: int = 0, n_boot: int = N_BOOT) -> tuple[float, float] | None:
    """Percentile CI from resampling cases (rows) with replacement; degenerate resamples are skipped."""
    rng = np.random.default_rng(seed)
    return _percentile_ci(np.array([stat(rng.integers(0, n_cases, n_cases)) for _ in range(n_boot)]), n_boot)


def _cohen_bootstrap(a: np.ndarray, b: np.ndarray, seed: int = 0, n_boot: int = N_BOOT) -> tuple[float, float] | None:
    """``_bootstrap_cases`` of Cohen's kappa, all resamples at once: (p_o - p_e) / (1 - p_e) on two
    binary raters is the 2 x 2 table's kappa, and a study with 20 readers has 190 pairs to resample."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), (n_boot, len(a)))
    ra, rb = a[idx], b[idx]
    p_a, p_b = ra.mean(axis=1), rb.mean(axis=1)
    p_o = (ra == rb).mean(axis=1)
    p_e = p_a * p_b + (1 - p_a) * (1 - p_b)
    with np.errstate(all="ignore"):
        return _percentile_ci((p_o - p_e) / (1 - p_e), n_boot)


def _percentile_ci(values: np.ndarray, n_boot: int) -> tuple[float, float] | None:
    values = values[np.isfinite(values)]
    if len(values) < n_boot // 2 or values.min() == values.max():  # e.g. perfect agreement in every resample
        return None
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def agreement(rows: list[tuple[Judgment, str]], readers: list[str]) -> list[Agreement]:
    """Fleiss' kappa over all readers on the cases every reader called, and Cohen's kappa for each
    pair on the cases both called (Cohen's kappa is defined on the items two raters share: a
    reader who stopped early must not take every other pair's agreement away)."""
    calls: dict[str, dict[str, int]] = {}
    for j, _ in rows:
        if j.call is not None:
            calls.setdefault(j.case_id, {})[j.reader_id] = int(j.call == "synthetic")
    if len(readers) < 2:
        return []
    out = []
    cases = sorted(c for c, by in calls.items() if all(r in by for r in readers))
    if len(cases) >= 2:
        m = np.array([[calls[c][r] for r in readers] for c in cases])
        kappa = _fleiss(m)
        out.append(Agreement("fleiss", None if math.isnan(kappa) else kappa,
                             _bootstrap_cases(lambda idx: _fleiss(m[idx]), len(cases)), len(cases)))
    for i in range(len(readers)):
        for k in range(i + 1, len(readers)):
            both = sorted(c for c, by in calls.items() if readers[i] in by and readers[k] in by)
            if len(both) < 2:
                continue
            a = np.array([calls[c][readers[i]] for c in both])
            b = np.array([calls[c][readers[k]] for c in both])
            kap, asym = _cohen(a, b)
            boot = _cohen_bootstrap(a, b)
            out.append(Agreement(f"cohen {readers[i]} vs {readers[k]}", None if math.isnan(kap) else kap, boot,
                                 len(both), asym))
    return out


def by_position(rows: list[tuple[Judgment, str]], bins: int = 5) -> tuple[list[PositionBin], dict | None]:
    """Accuracy by position in each reader's sequence (equal-width bins), and a logistic slope per 100 cases."""
    answered = [(j.seq, int(j.call == t)) for j, t in rows if j.call is not None]
    if not answered:
        return [], None
    pos = np.array([p for p, _ in answered])
    ok = np.array([c for _, c in answered])
    top = int(pos.max()) + 1
    width = max(1, math.ceil(top / bins))
    out = []
    for lo in range(0, top, width):
        sel = (pos >= lo) & (pos < lo + width)
        out.append(PositionBin(lo + 1, min(lo + width, top), proportion(int(ok[sel].sum()), int(sel.sum()))))
    slope = None
    if len(set(ok)) == 2 and len(set(pos)) > 1:
        import statsmodels.api as sm

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = sm.Logit(ok, sm.add_constant(pos / 100.0)).fit(disp=0)
            slope = {"log_odds_per_100_cases": float(fit.params[1]), "p_value": float(fit.pvalues[1])}
        except Exception:  # perfect separation or singular: no slope to report
            slope = None
    return out, slope


def analyse(judgments: list[Judgment], truth: dict[str, str], study_id: str = "") -> Analysis:
    rows = scored_judgments(judgments, truth)
    if not rows:
        raise SynthguiError("no scored judgments to analyse (only practice cases, or no sessions)")
    readers = sorted({j.reader_id for j, _ in rows})
    per_reader = [reader_stats(r, [(j, t) for j, t in rows if j.reader_id == r]) for r in readers]
    pooled = reader_stats("pooled", rows)
    pooled.cluster_ci = cluster_bootstrap_accuracy(rows)
    images = []
    for case_id in sorted({j.case_id for j, _ in rows}):
        calls = [j for j, _ in rows if j.case_id == case_id and j.call is not None]
        t = truth[case_id]
        wrong = sum(j.call != t for j in calls)
        images.append(ImageStat(case_id, t, len(calls), sum(j.call == "synthetic" for j in calls),
                                wrong / len(calls) if calls else None))
    bins, slope = by_position(rows)
    notes = [f"Positive class = {POSITIVE_CLASS}: sensitivity = synthetic images called synthetic, "
             "specificity = real images called real, ROC score = +confidence (synthetic call) / -confidence (real call).",
             "Pooled Wilson / exact intervals and p-value treat readings as if independent (they are not: the same "
             "readers and the same images recur), so they are too narrow / too small when readers differ in skill "
             "or images in difficulty. The pooled accuracy's cluster bootstrap interval (readers and images "
             "resampled) allows for that; for random readers and cases use the .imrmc export "
             "(iMRMC, RJafroc StSingleTreatmentRandomReader with fomNh=0.5)."]
    if any(r.test == "Fisher exact" for r in per_reader + [pooled]):
        notes.append("Unequal numbers of real and synthetic readings: accuracy is not compared with 0.5 (calling "
                     "everything the larger class would beat it); p-values are from Fisher's exact test of call "
                     "against truth, and the balanced accuracy (mean of sensitivity and specificity) has chance 0.5.")
    unscored = len({j.case_id for j, _ in rows}) < len([c for c in truth])
    if unscored:
        notes.append("Not every case in the key was judged by someone (sessions unfinished).")
    return Analysis(study_id, POSITIVE_CLASS, per_reader, pooled, images, agreement(rows, readers), bins, slope, notes)
