"""Study outputs: long CSV, iMRMC input (also read by RJafroc), JSON, and an HTML report with SVG plots.

Every output states the positive class (synthetic). Plots are inline SVG, so the report is one
file that opens in any browser and adds no plotting dependency.
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import asdict
from pathlib import Path

from ..atomic import write_text_atomic
from .analysis import Analysis, Proportion, ReaderStats
from .design import POSITIVE_CLASS
from .session_log import Judgment

CSV_COLUMNS = ("reader_id", "case_id", "phase", "seq", "truth", "call", "correct", "confidence", "score",
               "diagnosis", "note", "rt_ms", "decode_ms", "timed_out", "revision", "zoom_events", "shown_at",
               "answered_at", "judgment_id")
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def long_csv(judgments: list[Judgment], truth: dict[str, str]) -> str:
    """One row per judgment (practice included, marked), positive class stated in the header comment."""
    buf = io.StringIO()
    buf.write(f"# positive class = {POSITIVE_CLASS}; score = +confidence for a synthetic call, -confidence for real\n")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for j in sorted(judgments, key=lambda j: (j.reader_id, j.phase != "practice", j.seq, j.revision)):
        t = truth.get(j.case_id, "")
        conf = j.confidence if j.confidence else 1
        score = "" if j.call is None else (conf if j.call == "synthetic" else -conf)
        w.writerow([j.reader_id, j.case_id, j.phase, j.seq, t, j.call or "", "" if j.call is None else int(j.call == t),
                    j.confidence or "", score, j.diagnosis or "", j.note or "", j.rt_ms if j.rt_ms is not None else "",
                    j.decode_ms if j.decode_ms is not None else "", int(j.timed_out), j.revision, len(j.zoom),
                    j.shown_at or "", j.answered_at, j.judgment_id])
    return buf.getvalue()


def imrmc(analysis_rows: list[tuple[Judgment, str]]) -> tuple[str, dict]:
    """iMRMC input: header, ``BEGIN DATA:``, truth rows (reader -1, modality 0), then reader rows.

    Reader, case and modality ids are integers (RJafroc needs that for this format); the returned
    mapping ties them to reader pseudonyms and case ids. Score = the signed confidence shifted to
    1..10 (higher = more likely synthetic), so it is positive as some readers of the format expect.
    """
    cases = sorted({j.case_id for j, _ in analysis_rows})
    truth = {j.case_id: t for j, t in analysis_rows}
    real = [c for c in cases if truth[c] == "real"]
    syn = [c for c in cases if truth[c] == "synthetic"]
    case_num = {c: i + 1 for i, c in enumerate(real + syn)}
    readers = sorted({j.reader_id for j, _ in analysis_rows})
    reader_num = {r: i + 1 for i, r in enumerate(readers)}
    lines = [f"synthgui Turing test; positive class (truth 1) = {POSITIVE_CLASS}; modality 1 = human reading",
             f"NR: {len(readers)}", f"N0: {len(real)}", f"N1: {len(syn)}", "NM: 1", "", "BEGIN DATA:"]
    lines += [f"-1,{case_num[c]},0,{int(truth[c] == 'synthetic')}" for c in real + syn]
    for j, _ in sorted(analysis_rows, key=lambda x: (reader_num[x[0].reader_id], case_num[x[0].case_id])):
        if j.call is None:
            continue
        conf = j.confidence if j.confidence else 1
        signed = conf if j.call == "synthetic" else -conf
        score = signed + 6 if signed < 0 else signed + 5  # -5..-1 -> 1..5, 1..5 -> 6..10
        lines.append(f"{reader_num[j.reader_id]},{case_num[j.case_id]},1,{score}")
    return "\n".join(lines) + "\n", {"readers": reader_num, "cases": case_num}


def to_json(analysis: Analysis, extra: dict) -> str:
    data = {"positive_class": POSITIVE_CLASS, **asdict(analysis), **extra}
    return json.dumps(data, indent=1, default=str)


# -- HTML --------------------------------------------------------------------------------------
def _fmt(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _ci(ci: tuple[float, float] | None) -> str:
    return "n/a" if ci is None else f"{ci[0]:.3f}–{ci[1]:.3f}"


def _p(p: float | None) -> str:
    return "n/a" if p is None else "<0.0001" if p < 1e-4 else f"{p:.4f}"


def _prop(p: Proportion) -> str:
    return f"{_fmt(p.estimate)} ({p.k}/{p.n}; Wilson {_ci(p.wilson)}; exact {_ci(p.clopper_pearson)})"


def svg_roc(readers: list[ReaderStats], size: int = 320) -> str:
    pad = 40
    span = size - 2 * pad
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size + 150}" height="{size}" role="img" '
             f'aria-label="ROC curves per reader">',
             f'<rect x="{pad}" y="{pad}" width="{span}" height="{span}" fill="none" stroke="#888"/>',
             f'<line x1="{pad}" y1="{pad + span}" x2="{pad + span}" y2="{pad}" stroke="#bbb" stroke-dasharray="4"/>',
             f'<text x="{pad + span / 2}" y="{size - 8}" text-anchor="middle" font-size="11">1 − specificity '
             f'(real called synthetic)</text>',
             f'<text x="12" y="{pad + span / 2}" font-size="11" transform="rotate(-90 12 {pad + span / 2})" '
             f'text-anchor="middle">sensitivity (synthetic called synthetic)</text>']
    for i, r in enumerate([r for r in readers if r.roc is not None]):
        colour = PALETTE[i % len(PALETTE)]
        pts = " ".join(f"{pad + x * span:.1f},{pad + span - y * span:.1f}" for x, y in zip(r.roc.fpr, r.roc.tpr))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{pad + span + 10}" y="{pad + 14 * (i + 1)}" font-size="11" fill="{colour}">'
                     f'{html.escape(r.reader)} AUC {_fmt(r.auc, 2)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_accuracy(readers: list[ReaderStats], width: int = 480) -> str:
    row = 22
    height = 40 + row * len(readers)
    left, span = 110, width - 140
    x = lambda v: left + v * span  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="accuracy with 95% Wilson intervals">',
             f'<line x1="{x(0.5)}" y1="10" x2="{x(0.5)}" y2="{height - 20}" stroke="#bbb" stroke-dasharray="4"/>']
    for t in (0, 0.25, 0.5, 0.75, 1):
        parts.append(f'<text x="{x(t)}" y="{height - 5}" font-size="10" text-anchor="middle">{t:g}</text>')
    for i, r in enumerate(readers):
        y = 20 + i * row
        parts.append(f'<text x="{left - 8}" y="{y + 4}" font-size="11" text-anchor="end">{html.escape(r.reader)}</text>')
        if r.accuracy.wilson is not None:
            lo, hi = r.accuracy.wilson
            parts.append(f'<line x1="{x(lo):.1f}" y1="{y}" x2="{x(hi):.1f}" y2="{y}" stroke="#333" stroke-width="2"/>')
            parts.append(f'<circle cx="{x(r.accuracy.estimate):.1f}" cy="{y}" r="4" fill="#1f77b4"/>')
    parts.append("</svg>")
    return "".join(parts)


def svg_histogram(values: list[float], bins: int = 10, width: int = 480, height: int = 200) -> str:
    counts = [0] * bins
    for v in values:
        counts[min(int(v * bins), bins - 1)] += 1
    top = max(counts) or 1
    left, bottom = 40, height - 30
    bar = (width - left - 10) / bins
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="histogram of per-image fooling rates">']
    for i, c in enumerate(counts):
        h = (bottom - 10) * c / top
        parts.append(f'<rect x="{left + i * bar + 1:.1f}" y="{bottom - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
                     f'fill="#d62728"><title>{i / bins:.1f}–{(i + 1) / bins:.1f}: {c}</title></rect>')
    for t in (0, 0.5, 1):
        parts.append(f'<text x="{left + t * bins * bar:.1f}" y="{height - 12}" font-size="10" text-anchor="middle">{t:g}</text>')
    parts.append(f'<text x="{left - 6}" y="16" font-size="10" text-anchor="end">{top}</text>')
    parts.append(f'<text x="{left + bins * bar / 2:.1f}" y="{height - 1}" font-size="11" text-anchor="middle">'
                 f'share of readers who called the synthetic image real</text></svg>')
    return "".join(parts)


def html_report(analysis: Analysis, audits: list[dict], title: str) -> str:
    esc = html.escape
    rows = []
    for r in analysis.readers + [analysis.pooled]:
        name = esc(r.reader)
        acc = _prop(r.accuracy)
        if r is analysis.pooled:
            name += " (Wilson, exact and p as if independent)"
            acc += f"; cluster bootstrap {_ci(r.cluster_ci)}"
        rows.append(f"<tr><td>{name}</td><td>{r.n}</td><td>{acc}</td><td>{_fmt(r.balanced_accuracy)}</td>"
                    f"<td>{esc(_p(r.p_value))} ({esc(r.test or 'n/a')})</td>"
                    f"<td>{_prop(r.sensitivity)}</td><td>{_prop(r.specificity)}</td>"
                    f"<td>{_fmt(r.auc)} ({_ci(r.auc_ci)})</td><td>{_fmt(r.median_rt_ms, 0)}</td><td>{r.timed_out}</td></tr>")
    agree = "".join(f"<tr><td>{esc(a.kind)}</td><td>{_fmt(a.kappa)}</td><td>{_ci(a.ci)}</td>"
                    f"<td>{_ci(a.asymptotic_ci)}</td><td>{a.n_cases}</td></tr>" for a in analysis.agreement)
    pos = "".join(f"<tr><td>{b.first}–{b.last}</td><td>{_prop(b.accuracy)}</td></tr>" for b in analysis.by_position)
    fooling = [i.fooling_rate for i in analysis.images if i.truth == "synthetic" and i.fooling_rate is not None]
    top_fool = sorted((i for i in analysis.images if i.truth == "synthetic" and i.fooling_rate is not None),
                      key=lambda i: -i.fooling_rate)[:10]
    fool_rows = "".join(f"<tr><td>{esc(i.case_id)}</td><td>{i.fooling_rate:.2f}</td><td>{i.readers}</td></tr>" for i in top_fool)
    warn = [w for a in audits for w in a.get("warnings", [])]
    images = [a for a in audits if a.get("stage") == "study images"]
    audit_html = ""
    if not any(a.get("leaks") for a in images):
        audit_html = ("<p class=ok>No file-level feature separates real from synthetic study images better than chance.</p>"
                      if all(a.get("conclusive", True) for a in images) else
                      "<p class=warn>⚠ Too few scored images for the leak audit to show a leak even if there were "
                      "one.</p>")
    audit_html += "".join(f"<p class=warn>⚠ {esc(w)}</p>" for w in warn)
    slope = analysis.position_slope
    slope_txt = ("n/a" if not slope else
                 f"{slope['log_odds_per_100_cases']:+.3f} log-odds of a correct call per 100 cases (p={slope['p_value']:.3g})")
    notes = "".join(f"<li>{esc(n)}</li>" for n in analysis.notes)
    return f"""<!doctype html><html lang=en><head><meta charset=utf-8><title>{esc(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:left}}.warn{{color:#a00}}.ok{{color:#070}}
.pos{{background:#eef;padding:.5em 1em;border-left:4px solid #336}}</style></head><body>
<h1>{esc(title)}</h1>
<p class=pos><b>Positive class = {POSITIVE_CLASS}.</b> Sensitivity = synthetic images called synthetic; specificity =
real images called real; balanced accuracy = their mean. Chance: with as many real as synthetic readings,
accuracy is tested against 0.5 (exact two-sided binomial test); with unequal numbers, where calling everything the
larger class beats 0.5, by Fisher's exact two-sided test of call against truth. Intervals are 95%: Wilson and
exact (Clopper-Pearson). ROC from the confidence-signed score (+confidence for a synthetic call, −confidence for a
real call), AUC CI by stratified bootstrap over cases. Unanswered cases (timed out or image not shown) are left out
of every figure and counted in their own column.</p>
<p>The pooled row's Wilson and exact intervals and p-value treat all readings as if independent; the same readers
and images recur, so they are too narrow (too small) when readers differ in skill or images in difficulty. Its
cluster bootstrap interval resamples readers and images and allows for that.</p>
<h2>Readers</h2><table><tr><th>reader</th><th>n</th><th>accuracy</th><th>balanced accuracy</th>
<th>p, no discrimination (test)</th><th>sensitivity</th>
<th>specificity</th><th>AUC (95% CI)</th><th>median RT ms</th><th>unanswered (timed out or image not shown)</th></tr>{''.join(rows)}</table>
<h2>Accuracy with 95% Wilson intervals</h2>{svg_accuracy(analysis.readers + [analysis.pooled])}
<h2>ROC per reader</h2>{svg_roc(analysis.readers + [analysis.pooled])}
<h2>Agreement between readers</h2><table><tr><th>statistic</th><th>kappa</th><th>bootstrap 95% CI</th>
<th>asymptotic 95% CI</th><th>cases</th></tr>{agree}</table>
<h2>Fooling rate per synthetic image</h2>{svg_histogram(fooling)}
<table><tr><th>case</th><th>fooling rate</th><th>readers</th></tr>{fool_rows}</table>
<h2>Accuracy by position in the sequence</h2><table><tr><th>positions</th><th>accuracy</th></tr>{pos}</table>
<p>Trend: {slope_txt}</p>
<h2>Leak audit (at build time)</h2>{audit_html}
<h2>Notes</h2><ul>{notes}</ul></body></html>"""


def write_report(out_dir: Path, analysis: Analysis, judgments: list[Judgment], truth: dict[str, str],
                 rows: list[tuple[Judgment, str]], audits: list[dict], title: str) -> list[Path]:
    out_dir = Path(out_dir)
    text, mapping = imrmc(rows)
    files = {
        "judgments.csv": long_csv(judgments, truth),
        "study.imrmc": text,
        "analysis.json": to_json(analysis, {"imrmc_ids": mapping, "leak_audit": audits}),
        "report.html": html_report(analysis, audits, title),
    }
    for name, content in files.items():
        write_text_atomic(out_dir / name, content)
    return [out_dir / n for n in files]
