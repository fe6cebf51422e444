"""Analysis numbers against values computed by hand (shown in the comments), and the report files."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from synthgui.cli import main as cli_main
from synthgui.core.study.analysis import analyse, scored_judgments
from synthgui.core.study.design import load_study
from synthgui.core.study.key import load_key
from synthgui.core.study.report import imrmc, long_csv
from synthgui.core.study.session_log import Judgment, SessionLog

CASES = ["s1", "s2", "s3", "s4", "s5", "r1", "r2", "r3", "r4", "r5"]
TRUTH = {c: ("synthetic" if c[0] == "s" else "real") for c in CASES}
# (call, confidence) per case; A: 7/10 correct, B: 6/10 correct
A = [("synthetic", 5), ("synthetic", 4), ("synthetic", 2), ("real", 2), ("real", 4),
     ("real", 5), ("real", 3), ("real", 1), ("synthetic", 1), ("real", 3)]
B = [("synthetic", 3), ("synthetic", 3), ("real", 3), ("real", 3), ("synthetic", 3),
     ("real", 3), ("synthetic", 3), ("real", 3), ("synthetic", 3), ("real", 3)]


def judgments() -> list[Judgment]:
    out = []
    for reader, calls in (("A", A), ("B", B)):
        for seq, (case, (call, conf)) in enumerate(zip(CASES, calls)):
            out.append(Judgment("sid", reader, "main", seq, case, call, conf, rt_ms=1000.0 + 100 * seq))
    out.append(Judgment("sid", "A", "practice", 0, "p1", "real", 5))  # never scored
    return out


def test_reader_statistics_match_hand_computation():
    res = analyse(judgments(), TRUTH, "sid")
    assert res.positive_class == "synthetic"
    a = res.readers[0]
    assert a.reader == "A" and a.n == 10
    assert a.accuracy.k == 7 and a.accuracy.estimate == pytest.approx(0.7)
    # two-sided exact binomial: 2 * P(X >= 7 | n=10, p=.5) = 2 * 176/1024
    assert a.p_value == pytest.approx(352 / 1024)
    # Wilson 95% for 7/10: (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), z = 1.959964
    assert a.accuracy.wilson == pytest.approx((0.396780, 0.892210), abs=1e-5)
    # Clopper-Pearson: Beta(0.025; 7, 4) and Beta(0.975; 8, 3), tabulated as (0.3475, 0.9333)
    assert a.accuracy.clopper_pearson == pytest.approx((0.3475, 0.9333), abs=5e-5)
    assert a.sensitivity.k == 3 and a.sensitivity.n == 5  # synthetic called synthetic
    assert a.specificity.k == 4 and a.specificity.n == 5  # real called real
    # signed scores syn (+5,+4,+2,-2,-4) vs real (-5,-3,-1,+1,-3): wins 5+5+5+3+1 = 19 of 25 pairs
    assert a.auc == pytest.approx(19 / 25)
    lo, hi = a.auc_ci
    assert lo < 0.76 < hi and 0 <= lo and hi <= 1
    assert a.median_rt_ms == pytest.approx(1450.0)
    pooled = res.pooled
    assert pooled.accuracy.k == 13 and pooled.n == 20
    # 2 * sum_{k=13..20} C(20,k) / 2^20 = 2 * 137980 / 1048576
    assert pooled.p_value == pytest.approx(2 * 137980 / 1048576)


def test_agreement_and_fooling_rates_match_hand_computation():
    res = analyse(judgments(), TRUTH, "sid")
    fleiss = next(x for x in res.agreement if x.kind == "fleiss")
    cohen = next(x for x in res.agreement if x.kind == "cohen A vs B")
    # 7 of 10 cases agreed; Cohen: pe = .4*.5 + .6*.5 = .5 -> (.7-.5)/.5
    assert cohen.kappa == pytest.approx(0.4)
    # Fleiss: P = .7, pooled share synthetic = 9/20 -> Pe = .45^2 + .55^2 = .505 -> (.7-.505)/.495
    assert fleiss.kappa == pytest.approx(0.195 / 0.495)
    assert fleiss.ci[0] < fleiss.kappa < fleiss.ci[1]
    assert cohen.asymptotic_ci[0] < 0.4 < cohen.asymptotic_ci[1]
    fool = {i.case_id: i.fooling_rate for i in res.images}
    assert fool["s4"] == 1.0 and fool["s5"] == 0.5 and fool["s3"] == 0.5 and fool["s1"] == 0.0
    assert fool["r4"] == 1.0  # a real image both called synthetic
    assert [b.accuracy.n for b in res.by_position] == [4, 4, 4, 4, 4]
    # positions 1-2: A right twice, B right twice
    assert res.by_position[0].accuracy.k == 4


def test_latest_revision_counts_and_unknown_cases_are_refused():
    js = judgments()
    js.append(Judgment("sid", "A", "main", 3, "s4", "synthetic", 5, revision=1))
    rows = scored_judgments(js, TRUTH)
    assert len(rows) == 20
    assert analyse(js, TRUTH).readers[0].accuracy.k == 8
    from synthgui.core.errors import SynthguiError

    with pytest.raises(SynthguiError, match="not in the answer key"):
        analyse(js + [Judgment("sid", "A", "main", 11, "zz", "real")], TRUTH)


def test_imrmc_and_csv_exports():
    rows = scored_judgments(judgments(), TRUTH)
    text, mapping = imrmc(rows)
    lines = text.splitlines()
    assert "positive class (truth 1) = synthetic" in lines[0]
    assert lines[1:5] == ["NR: 2", "N0: 5", "N1: 5", "NM: 1"]
    data = lines[lines.index("BEGIN DATA:") + 1:]
    truth_rows = [x for x in data if x.startswith("-1,")]
    assert len(truth_rows) == 10 and sum(x.endswith(",1") for x in truth_rows) == 5
    reader_rows = [x.split(",") for x in data if not x.startswith("-1,")]
    assert len(reader_rows) == 20 and all(len(r) == 4 for r in reader_rows)
    a, s1, r1 = mapping["readers"]["A"], mapping["cases"]["s1"], mapping["cases"]["r1"]
    assert [str(a), str(s1), "1", "10"] in reader_rows  # +5 -> 10
    assert [str(a), str(r1), "1", "1"] in reader_rows  # -5 -> 1
    text = long_csv(judgments(), TRUTH)
    assert text.startswith("# positive class = synthetic")
    parsed = list(csv.DictReader(text.splitlines()[1:]))
    assert len(parsed) == 21
    assert {r["phase"] for r in parsed} == {"main", "practice"}
    row = next(r for r in parsed if r["reader_id"] == "A" and r["case_id"] == "s5")
    assert row["score"] == "-4" and row["correct"] == "0"


def test_cli_analyze_end_to_end(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for cls in ("real", "syn"):
        (tmp_path / cls).mkdir()
        for i in range(6):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    assert cli_main(["study", "build", "--real", str(tmp_path / "real"), "--synthetic", str(tmp_path / "syn"),
                     "--out", str(tmp_path / "st"), "--size", "32"]) == 0
    study = load_study(tmp_path / "st")
    truth = load_key(tmp_path / "st.key.json").truth()
    for reader, right in (("alice", 1.0), ("bob", 0.5)):
        with SessionLog(study, reader) as log:
            for seq, (phase, case_id) in enumerate(log.order):
                t = truth[case_id]
                call = t if seq < right * len(log.order) else ("real" if t == "synthetic" else "synthetic")
                log.record(Judgment(study.study_id, reader, phase, seq, case_id, call, 4, rt_ms=800.0))
    out = tmp_path / "report"
    capsys.readouterr()
    assert cli_main(["study", "analyze", str(tmp_path / "st"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "positive class = synthetic" in printed and "2 reader(s), 24 scored" in printed
    html = (out / "report.html").read_text()
    assert "Positive class = synthetic" in html and html.count("<svg") == 3
    import re
    import xml.etree.ElementTree as ET

    for svg in re.findall(r"<svg.*?</svg>", html, flags=re.S):
        ET.fromstring(svg)  # each plot is well-formed SVG
    data = json.loads((out / "analysis.json").read_text())
    assert data["positive_class"] == "synthetic"
    assert {r["reader"]: r["accuracy"]["k"] for r in data["readers"]} == {"alice": 12, "bob": 6}
    assert (out / "study.imrmc").read_text().count("\n") > 24
    # the same sessions copied again are not double counted
    merged = tmp_path / "merged.sqlite"
    assert cli_main(["study", "merge", str(tmp_path / "st"), "--out", str(merged)]) == 0
    assert cli_main(["study", "analyze", str(tmp_path / "st"), "--key", str(tmp_path / "st.key.json"),
                     "--sessions", str(merged), str(tmp_path / "st" / "sessions"), "--out", str(tmp_path / "r2")]) == 0
    assert "24 scored" in capsys.readouterr().out
    assert cli_main(["study", "analyze", str(tmp_path / "st"), "--key", str(tmp_path / "nokey.json"),
                     "--out", str(tmp_path / "r3")]) == 2
