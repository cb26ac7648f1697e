"""Score each tool's MET calls against the truth; write results.tsv, tables.md, summary.json.

Definitions (the same for both tools; docs/validation.md gives the reasons):
- focal amplification called: metcnv status high_level_focal_amplification or
  focal_amplification; CNVkit: the segment holding MET has a called copy number >= 6 and
  is shorter than 3 Mb; any focal call (reported, no target): also metcnv focal_gain, and
  a CNVkit MET segment shorter than 3 Mb at >= 3 copies;
- true focal amplification: MET in an amplicon < 3 Mb at >= 6 tumor copies ('positive');
- negatives: neutral, other_amp, polysomy, arm_gain, broad_gain and normal samples, on
  which no focal amplification may be called;
- relative error: |estimated - true MET tumor copy number| / true; a sample without an
  estimate counts as an infinite error; also for the unrounded estimates (CNVkit's
  clonal call rounds to an integer, which is exact whenever it lands on the integer truth);
- interval coverage: the true MET tumor copy number lies inside the tool's 95% interval;
- >10 flag: metcnv over_10_copies; CNVkit called copy number > 10. Truth: MET CN > 10.

Runs: metcnv is run twice on the same coverage, `given` (the true purity, as CNVkit) and
`hidden` (no purity: metcnv estimates it from depth and allele fractions, or says it
cannot); the hidden run's rows are labelled `metcnv_hidden` in the tables. A third run,
`mutations` (`metcnv_mutations`), is the hidden one with the sample's somatic mutations
counted too: their allele fractions enter the fit. PureCN (`purecn`) gives a purity only
and is scored in the purity tables alone.

Purity (the hidden run and PureCN), per stratum of the true tumor fraction (PURITY_STRATA):
- estimated: metcnv purity.source 'estimated' (it used the reads' purity); 'none' is a
  "not identifiable"; PureCN always estimates, unless it failed (purity_source 'failed':
  not estimated, and not counted as saying "not identifiable" either);
- absolute error |estimate - truth| and relative error |estimate - truth| / truth, over
  the estimated samples; interval coverage: truth inside the estimate's 95% interval, over
  the estimates that have one (PureCN's have none: "-");
- confident wrong: the 95% interval misses the truth by more than 0.1;
- by design (truth purity_class, as `purity_design`): identifiable = a loss of
  heterozygosity besides MET; gains = other events only (one-allele or balanced gains:
  they bound the purity, never fix it); flat = MET alone. The purity targets
  (PURITY_TARGETS) are on the identifiable tumors, except "says so", which is on every
  tumor not identifiable by design. In the mutations run a tumor with MIN_CLONAL_MUTATIONS
  clonal mutations is identifiable by design whatever its copy-number events (truth
  n_mutations).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

AMP_MIN_CN, HIGH_LEVEL_CN = 6.0, 10.0
NEGATIVE_CLASSES = ("neutral", "other_amp", "polysomy", "arm_gain", "broad_gain", "normal")
LOW_TF = (0.05, 0.1)  # the target for >= 10 copies at low tumor fraction
TARGETS = {  # name: (description, check on the value)
    "false_focal": ("false focal amplification calls on negatives", "0 of >= 100"),
    "sens_ge6_tf_ge0.2": ("sensitivity, focal CN >= 6 at TF >= 0.2", ">= 95%"),
    "sens_ge10_tf_0.05_0.1": ("sensitivity, focal CN >= 10 at TF 0.05-0.1", ">= 90%"),
    "median_rel_err": ("median relative error, CN >= 4 at TF >= 0.2", "<= 10%"),
    "p90_rel_err": ("90th percentile relative error, CN >= 4 at TF >= 0.2", "<= 25%"),
    "ci_coverage": ("95% interval coverage (all samples with a purity)", "90-98%"),
}


PURITY_STRATA = (  # (label, low, high): low <= true tumor fraction < high
    ("0.02-0.1", 0.0, 0.1),
    ("0.1-0.3", 0.1, 0.3),
    (">=0.3", 0.3, 1.01),
)
CONFIDENT_MISS = 0.1  # a 95% interval this far from the truth is a confident wrong estimate
PURITY_TARGETS = {  # name: (description, target)
    "purity_abs_median": ("purity abs. error median, TF >= 0.1, identifiable by design", "<= 0.03"),
    "purity_abs_p90": ("purity abs. error p90, TF >= 0.1, identifiable by design", "<= 0.08"),
    "purity_rel_median_low": (
        "purity median relative error, TF 0.02-0.1, identifiable by design",
        "<= 25%",
    ),
    "purity_coverage": ("purity 95% interval coverage (estimated samples)", "90-98%"),
    "purity_says_so": ("not identifiable by design and saying so", ">= 95%"),
}
PURITY_COLUMNS = ("purity_est", "purity_ci_low", "purity_ci_high")
MIN_CLONAL_MUTATIONS = 2  # metcnv.somatic.MIN_PINNING: clonal mutations that fix a purity


def merged(truth: pd.DataFrame, rows: list[dict]) -> pd.DataFrame:
    """Truth joined to each tool's calls: one row per sample, tool and run; `label` names
    the tool and run (metcnv, metcnv_hidden, cnvkit, purecn)."""
    calls = pd.DataFrame(rows)
    if "run" not in calls:
        calls["run"] = "given"
    calls["run"] = calls["run"].fillna("given")
    for column in PURITY_COLUMNS:
        if column not in calls:
            calls[column] = None
    for column in ("purity_source", "tumor_cn_min"):
        if column not in calls:
            calls[column] = None
    calls["label"] = [
        tool if run == "given" or tool == "purecn" else f"{tool}_{run}"
        for tool, run in zip(calls["tool"], calls["run"], strict=True)
    ]
    table = truth.merge(calls, on="sample", how="inner")
    table["purity_design"] = table.get("purity_class")  # what the purity tables group by
    if "n_mutations" in table:
        pinned = (table["label"] == "metcnv_mutations") & (
            table["n_mutations"] >= MIN_CLONAL_MUTATIONS
        )
        table.loc[pinned, "purity_design"] = "identifiable"
    for column in PURITY_COLUMNS:
        table[column] = pd.to_numeric(table[column], errors="coerce")
    for column in (
        "tumor_cn",
        "tumor_cn_unrounded",
        "ci_low",
        "ci_high",
        "tumor_cn_min",
        "segment_size",
        "sample_cn",
    ):
        table[column] = pd.to_numeric(table[column], errors="coerce")
    table["focal_amp"] = table["focal_amp"].fillna(False).astype(bool)
    table["focal_any"] = table["focal_any"].fillna(False).astype(bool)
    table["rel_err"] = _relative_error(table, "tumor_cn")
    table["rel_err_unrounded"] = _relative_error(table, "tumor_cn_unrounded")
    table["covered"] = (table["ci_low"] <= table["met_cn"]) & (table["met_cn"] <= table["ci_high"])
    table["true_over_10"] = table["met_cn"] > HIGH_LEVEL_CN
    table["purity_estimated"] = table["purity_est"].notna()
    table["purity_abs_err"] = (table["purity_est"] - table["purity"]).abs()
    table["purity_rel_err"] = table["purity_abs_err"] / table["purity"]
    low, high, truth_p = table["purity_ci_low"], table["purity_ci_high"], table["purity"]
    table["purity_covered"] = (low <= truth_p) & (truth_p <= high)
    table["purity_confident_wrong"] = (truth_p < low - CONFIDENT_MISS) | (
        truth_p > high + CONFIDENT_MISS
    )
    return table


def _relative_error(table: pd.DataFrame, estimate: str) -> pd.Series:
    """|estimate - truth| / truth; infinite where a sample with a purity has no estimate."""
    error = (table[estimate] - table["met_cn"]).abs() / table["met_cn"]
    error[table[estimate].isna() & table["purity"].notna()] = np.inf
    return error


def _quantile(values, q: float) -> float:
    """np.quantile, without interpolating between infinite errors (no estimate), which
    would be inf - inf; then the nearest rank."""
    values = np.asarray(values, dtype=float)
    method = "inverted_cdf" if np.isinf(values).any() else "linear"
    return float(np.quantile(values, q, method=method))


def _pct(k: int, n: int) -> str:
    return f"{k}/{n} ({100 * k / n:.0f}%)" if n else "-"


def _frac(k: int, n: int) -> float | None:
    return k / n if n else None


def _positives(t: pd.DataFrame) -> pd.DataFrame:
    return t[(t["klass"] == "positive") & (t["met_cn"] >= AMP_MIN_CN)]


def metrics(t: pd.DataFrame) -> dict:
    """The headline numbers of one tool (t: its rows of merged())."""
    pos = _positives(t)
    hi_tf = pos[pos["purity"] >= 0.2]
    low = pos[pos["purity"].isin(LOW_TF) & (pos["met_cn"] >= HIGH_LEVEL_CN)]
    neg = t[t["klass"].isin(NEGATIVE_CLASSES)]
    scored = t[(t["met_cn"] >= 4) & (t["purity"] >= 0.2)]
    err, unrounded = scored["rel_err"], scored["rel_err_unrounded"]
    with_purity = t[t["purity"].notna()]
    flag = with_purity["over_10"]
    flag_known = flag.notna()
    flag_right = flag_known & (flag.astype(bool) == with_purity["true_over_10"])
    above = hi_tf[hi_tf["met_cn"] > AMP_MIN_CN]
    off_10 = with_purity[with_purity["met_cn"] != HIGH_LEVEL_CN]
    off_10_right = flag_right[with_purity["met_cn"] != HIGH_LEVEL_CN]
    return {
        "false_focal": int(neg["focal_amp"].sum()),
        "negatives": len(neg),
        "false_focal_any": int(neg["focal_any"].sum()),
        "sens_ge6_tf_ge0.2": _frac(int(hi_tf["focal_amp"].sum()), len(hi_tf)),
        "n_ge6_tf_ge0.2": len(hi_tf),
        "sens_ge10_tf_0.05_0.1": _frac(int(low["focal_amp"].sum()), len(low)),
        "n_ge10_tf_0.05_0.1": len(low),
        "median_rel_err": float(np.median(err)) if len(err) else None,
        "p90_rel_err": float(_quantile(err, 0.9)) if len(err) else None,
        "n_rel_err": len(err),
        "median_rel_err_unrounded": float(np.median(unrounded)) if len(unrounded) else None,
        "p90_rel_err_unrounded": float(_quantile(unrounded, 0.9)) if len(unrounded) else None,
        "ci_coverage": _frac(int(with_purity["covered"].sum()), len(with_purity)),
        "n_ci": len(with_purity),
        "over10_accuracy": _frac(int(flag_right.sum()), len(with_purity)),
        "over10_no_call": int((~flag_known).sum()),
        "over10_accuracy_given": _frac(int(flag_right.sum()), int(flag_known.sum())),
        "n_over10_given": int(flag_known.sum()),
        # The same two without the samples whose truth sits exactly on the threshold (a
        # continuous estimate of a true 6 or 10 falls on either side half of the time):
        "sens_gt6_tf_ge0.2": _frac(int(above["focal_amp"].sum()), len(above)),
        "n_gt6_tf_ge0.2": len(above),
        "over10_accuracy_without_10": _frac(int(off_10_right.sum()), len(off_10)),
        "n_without_10": len(off_10),
        **_sensitivities(pos),
    }


def _sensitivities(pos: pd.DataFrame) -> dict:
    """Focal amplification calls among the true ones at every tumor fraction: all, exactly
    6 copies, >= 8 copies, and the >10 flag among those above 10 (hidden vs given)."""
    out = {}
    for name, pick in (
        ("sens_all", pos["met_cn"] >= AMP_MIN_CN),
        ("sens_eq6", pos["met_cn"] == AMP_MIN_CN),
        ("sens_ge8", pos["met_cn"] >= 8),
    ):
        s = pos[pick]
        out[name] = _frac(int(s["focal_amp"].sum()), len(s))
        out[f"n_{name}"] = len(s)
    over = pos[pos["true_over_10"]]
    out["sens_over10"] = _frac(int((over["over_10"] == True).sum()), len(over))  # noqa: E712
    out["n_sens_over10"] = len(over)
    return out


def _in_stratum(t: pd.DataFrame, low: float, high: float) -> pd.Series:
    return (t["purity"] >= low - 1e-9) & (t["purity"] < high - 1e-9)


def purity_metrics(t: pd.DataFrame) -> dict:
    """The purity numbers of one purity-estimating run (t: its rows of merged())."""
    tumors = t[t["purity"].notna()]
    ident = tumors[tumors["purity_design"] == "identifiable"]
    est = ident[ident["purity_estimated"]]
    hi = est[est["purity"] >= 0.1 - 1e-9]
    low = est[(est["purity"] >= 0.02 - 1e-9) & (est["purity"] <= 0.1 + 1e-9)]
    estimated = tumors[tumors["purity_estimated"]]
    with_ci = estimated[estimated["purity_ci_low"].notna()]
    failed = tumors["purity_source"] == "failed"
    not_ident = tumors[(tumors["purity_design"] != "identifiable") & ~failed]
    says = not_ident[~not_ident["purity_estimated"]]
    flat = tumors[(tumors["purity_design"] == "flat") & ~failed]
    return {
        "purity_abs_median": _q(hi["purity_abs_err"], 0.5),
        "purity_abs_p90": _q(hi["purity_abs_err"], 0.9),
        "n_purity_abs": len(hi),
        "purity_rel_median_low": _q(low["purity_rel_err"], 0.5),
        "n_purity_rel_low": len(low),
        "purity_coverage": _frac(int(with_ci["purity_covered"].sum()), len(with_ci)),
        "n_purity_ci": len(with_ci),
        "n_purity_estimated": len(estimated),
        "n_purity_failed": int(failed.sum()),
        "purity_says_so": _frac(len(says), len(not_ident)),
        "n_not_identifiable_design": len(not_ident),
        "purity_flat_says_so": _frac(int((~flat["purity_estimated"]).sum()), len(flat)),
        "n_flat": len(flat),
        "purity_identifiable_estimated": _frac(len(est), len(ident)),
        "n_identifiable_design": len(ident),
        "purity_confident_wrong": (
            int(with_ci["purity_confident_wrong"].sum()) if len(with_ci) else None
        ),
    }


def _q(values: pd.Series, q: float) -> float | None:
    return float(np.quantile(values, q)) if len(values) else None


def purity_target_met(name: str, m: dict) -> bool | None:
    value = m.get(name)
    if value is None:
        return None
    return {
        "purity_abs_median": value <= 0.03,
        "purity_abs_p90": value <= 0.08,
        "purity_rel_median_low": value <= 0.25,
        "purity_coverage": 0.90 <= value <= 0.98,
        "purity_says_so": value >= 0.95,
    }[name]


def _fmt_purity(name: str, m: dict) -> str:
    value = m.get(name)
    if value is None:
        return "-"
    n = {
        "purity_abs_median": "n_purity_abs",
        "purity_abs_p90": "n_purity_abs",
        "purity_rel_median_low": "n_purity_rel_low",
        "purity_coverage": "n_purity_ci",
        "purity_says_so": "n_not_identifiable_design",
        "purity_flat_says_so": "n_flat",
        "purity_identifiable_estimated": "n_identifiable_design",
    }.get(name)
    if name == "purity_confident_wrong":
        return f"{value}/{m['n_purity_ci']}"
    text = f"{value:.3f}" if name.startswith("purity_abs") else f"{100 * value:.1f}%"
    return f"{text} (n={m[n]})"


def purity_headline(by_run: dict[str, dict]) -> pd.DataFrame:
    rows = []
    for name, (text, goal) in {
        **PURITY_TARGETS,
        "purity_flat_says_so": ("flat tumors (MET alone) saying not identifiable", "-"),
        "purity_identifiable_estimated": ("identifiable by design and estimated", "-"),
        "purity_confident_wrong": (
            f"confident wrong estimates (95% interval misses truth by > {CONFIDENT_MISS:g})",
            "-",
        ),
    }.items():
        row = {"metric": text, "target": goal}
        for label, m in by_run.items():
            row[label] = _fmt_purity(name, m)
            met = purity_target_met(name, m) if name in PURITY_TARGETS else None
            row[label] += "" if met is None else (" ✓" if met else " ✗")
        rows.append(row)
    return pd.DataFrame(rows)


def purity_by_stratum(t: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Per true tumor-fraction stratum and design class: how each run's purity fared."""
    rows = []
    for stratum, low, high in PURITY_STRATA:
        for klass in ("identifiable", "gains", "flat"):
            row = {"TF": stratum, "by design": klass}
            for label in labels:
                s = t[(t["label"] == label) & _in_stratum(t, low, high)]
                s = s[s["purity_design"] == klass]
                est = s[s["purity_estimated"]]
                with_ci = est[est["purity_ci_low"].notna()]
                err = est["purity_abs_err"]
                failed = s["purity_source"] == "failed"
                row[f"{label} n"] = len(s)
                row[f"{label} not ident."] = int((~s["purity_estimated"] & ~failed).sum())
                if failed.any():
                    row[f"{label} failed"] = int(failed.sum())
                row[f"{label} abs.err med/p90"] = (
                    f"{err.median():.3f}/{_quantile(err, 0.9):.3f}" if len(err) else "-"
                )
                row[f"{label} rel.err med"] = (
                    f"{100 * est['purity_rel_err'].median():.0f}%" if len(est) else "-"
                )
                row[f"{label} CI cov"] = _pct(int(with_ci["purity_covered"].sum()), len(with_ci))
                row[f"{label} conf. wrong"] = (
                    int(with_ci["purity_confident_wrong"].sum()) if len(with_ci) else "-"
                )
            rows.append(row)
    return pd.DataFrame(rows)


def hidden_vs_given(t: pd.DataFrame, pairs: list[tuple[str, str]]) -> pd.DataFrame:
    """Focal amplification sensitivity (CN 6, CN >= 8, >10 flag) and false focal calls on
    negatives per stratum and design class, hidden run next to the given run (target:
    within 5 points), and how often the hidden run's lower bound (no purity) holds."""
    rows = []
    strata = [*PURITY_STRATA, ("all", 0.0, 1.01)]
    for klass in ("all", "identifiable", "gains", "flat"):
        for stratum, low, high in strata:
            row = {"TF": stratum, "by design": klass}
            in_class = t["purity_class"] == klass if klass != "all" else t["label"].notna()
            for given, hidden in pairs:
                values = {}
                for label in (given, hidden):
                    s = t[(t["label"] == label) & _in_stratum(t, low, high) & in_class]
                    values[label] = {**_sensitivities(_positives(s))}
                    neg = s[s["klass"].isin(NEGATIVE_CLASSES)]
                    values[label]["false"] = f"{int(neg['focal_amp'].sum())}/{len(neg)}"
                    bounded = s[s["tumor_cn_min"].notna()]
                    values[label]["bound"] = _pct(
                        int((bounded["tumor_cn_min"] <= bounded["met_cn"] + 1e-9).sum()),
                        len(bounded),
                    )
                for key, text in (
                    ("sens_eq6", "CN=6"),
                    ("sens_ge8", "CN>=8"),
                    ("sens_over10", ">10 flag"),
                ):
                    g, h = values[given][key], values[hidden][key]
                    n = values[given][f"n_{key}"]
                    cell = "-" if g is None else f"{100 * g:.0f}% / {100 * h:.0f}%"
                    if g is not None:
                        ok = abs(h - g) <= 0.05
                        cell += f" (n={n}) {'✓' if ok else '✗'}"
                    row[f"{text} {given}/{hidden}"] = cell
                row[f"false focal {given}/{hidden}"] = (
                    f"{values[given]['false']} / {values[hidden]['false']}"
                )
                row[f"{hidden} lower bound <= truth"] = values[hidden]["bound"]
            rows.append(row)
    return pd.DataFrame(rows)


def target_met(name: str, m: dict) -> bool | None:
    value = m[name]
    if value is None:
        return None
    return {
        "false_focal": value == 0 and m["negatives"] >= 100,
        "sens_ge6_tf_ge0.2": value >= 0.95,
        "sens_ge10_tf_0.05_0.1": value >= 0.90,
        "median_rel_err": value <= 0.10,
        "p90_rel_err": value <= 0.25,
        "ci_coverage": 0.90 <= value <= 0.98,
    }[name]


def better(name: str, a: float | None, b: float | None) -> bool | None:
    """Is metcnv's value `a` better than CNVkit's `b`?"""
    if a is None or b is None or a == b:
        return None  # shown as a tie
    if name == "ci_coverage":
        return abs(a - 0.95) < abs(b - 0.95)
    if name.startswith(("sens", "over10")):
        return a > b
    return a < b


def _fmt(name: str, m: dict) -> str:
    value = m[name]
    if value is None:
        return "-"
    if name in ("false_focal", "false_focal_any"):
        return f"{value}/{m['negatives']}"
    if name.startswith(("median_rel_err", "p90_rel_err")):
        return f"{100 * value:.1f}%" + ("" if name.startswith("p90") else f" (n={m['n_rel_err']})")
    n = {
        "sens_ge6_tf_ge0.2": m["n_ge6_tf_ge0.2"],
        "sens_ge10_tf_0.05_0.1": m["n_ge10_tf_0.05_0.1"],
        "ci_coverage": m["n_ci"],
        "over10_accuracy": m["n_ci"],
        "over10_accuracy_given": m["n_over10_given"],
        "sens_gt6_tf_ge0.2": m["n_gt6_tf_ge0.2"],
        "over10_accuracy_without_10": m["n_without_10"],
    }[name]
    return f"{100 * value:.1f}% (n={n})"


def markdown(frame: pd.DataFrame) -> str:
    cells = frame.map(str)  # astype(str) keeps NaN missing under pandas 3
    head = "| " + " | ".join(cells.columns) + " |"
    rule = "| " + " | ".join("---" for _ in cells.columns) + " |"
    body = ["| " + " | ".join(row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def headline(by_tool: dict[str, dict]) -> pd.DataFrame:
    rows = []
    tools = list(by_tool)
    for name, (text, goal) in {
        **TARGETS,
        "over10_accuracy": (">10-copy flag accuracy (all samples with a purity)", "-"),
        "over10_accuracy_given": (">10-copy flag accuracy where a flag is given", "-"),
        "sens_gt6_tf_ge0.2": ("sensitivity, focal CN >= 8 at TF >= 0.2 (no CN 6)", "-"),
        "over10_accuracy_without_10": (">10-copy flag accuracy without true CN 10", "-"),
        "false_focal_any": ("any focal call (gain or amplification) on negatives", "-"),
        "median_rel_err_unrounded": (
            "median relative error, unrounded (CNVkit: before its integer call)",
            "-",
        ),
        "p90_rel_err_unrounded": ("90th percentile relative error, unrounded", "-"),
    }.items():
        row = {"metric": text, "target": goal}
        for tool in tools:
            row[tool] = _fmt(name, by_tool[tool])
            if name in TARGETS:
                met = target_met(name, by_tool[tool])
                row[tool] += "" if met is None else (" ✓" if met else " ✗")
        if {"metcnv", "cnvkit"} <= set(tools):
            won = better(name, by_tool["metcnv"][name], by_tool["cnvkit"][name])
            tie = by_tool["metcnv"][name] is not None and by_tool["cnvkit"][name] is not None
            row["metcnv better"] = {True: "yes", False: "no", None: "tie" if tie else "-"}[won]
        rows.append(row)
    return pd.DataFrame(rows)


def by_fraction(t: pd.DataFrame, tools: list[str]) -> pd.DataFrame:
    """Per tumor-fraction stratum: sensitivities, errors, interval coverage, per tool."""
    rows = []
    for fraction in sorted(t["purity"].dropna().unique()):
        row = {"TF": f"{fraction:g}"}
        for tool in tools:
            s = t[(t["label"] == tool) & (t["purity"] == fraction)]
            pos = _positives(s)
            ge10 = pos[pos["met_cn"] >= HIGH_LEVEL_CN]
            over = s[s["true_over_10"] & (s["klass"] == "positive")]
            err = s[s["met_cn"] >= 4]["rel_err"]
            row[f"{tool} CN>=6"] = _pct(int(pos["focal_amp"].sum()), len(pos))
            row[f"{tool} CN>=10"] = _pct(int(ge10["focal_amp"].sum()), len(ge10))
            row[f"{tool} >10 flag"] = _pct(int((over["over_10"] == True).sum()), len(over))  # noqa: E712
            row[f"{tool} rel.err med/p90"] = (
                f"{100 * np.median(err):.0f}/{100 * _quantile(err, 0.9):.0f}%" if len(err) else "-"
            )
            row[f"{tool} CI cov"] = _pct(int(s["covered"].sum()), len(s))
        rows.append(row)
    return pd.DataFrame(rows)


def by_stratum(t: pd.DataFrame, tools: list[str]) -> pd.DataFrame:
    """Per tumor-fraction stratum (PURITY_STRATA, and all): focal amplification calls among
    the true ones, the >10 flag among true > 10 copies, the unrounded copy-number error
    (MET >= 4 copies; the median and 90th percentile of |estimate - truth| in copies and
    relative), interval coverage, and focal amplification calls on negatives (normals,
    which have no tumor fraction, under "all" only)."""
    rows = []
    for stratum, low, high in [*PURITY_STRATA, ("all", None, None)]:
        row = {"TF": stratum}
        for tool in tools:
            s = t[t["label"] == tool]
            s = s if low is None else s[_in_stratum(s, low, high)]
            pos = _positives(s)
            over = pos[pos["true_over_10"]]
            scored = s[s["met_cn"] >= 4]
            copies = (scored["tumor_cn_unrounded"] - scored["met_cn"]).abs().fillna(np.inf)
            neg = s[s["klass"].isin(NEGATIVE_CLASSES)]
            row[f"{tool} focal amp"] = _pct(int(pos["focal_amp"].sum()), len(pos))
            row[f"{tool} >10 flag"] = _pct(int((over["over_10"] == True).sum()), len(over))  # noqa: E712
            row[f"{tool} CN error med/p90 (copies; relative)"] = (
                f"{_quantile(copies, 0.5):.2f}/{_quantile(copies, 0.9):.2f}; "
                f"{100 * _quantile(scored['rel_err_unrounded'], 0.5):.0f}/"
                f"{100 * _quantile(scored['rel_err_unrounded'], 0.9):.0f}%"
                if len(scored)
                else "-"
            )
            row[f"{tool} CI cov"] = _pct(int(s["covered"].sum()), int(s["purity"].notna().sum()))
            row[f"{tool} false focal"] = f"{int(neg['focal_amp'].sum())}/{len(neg)}"
        rows.append(row)
    return pd.DataFrame(rows)


def by_copy_number(t: pd.DataFrame, tools: list[str]) -> pd.DataFrame:
    """Per true MET copy number of the focal amplifications: calls and estimates."""
    rows = []
    pos = _positives(t)
    for cn in sorted(pos["met_cn"].unique()):
        row = {"MET CN": f"{cn:g}"}
        for tool in tools:
            s = pos[(pos["label"] == tool) & (pos["met_cn"] == cn)]
            for label, pick in (
                ("TF>=0.2", s["purity"] >= 0.2),
                ("TF 0.05-0.1", s["purity"].isin(LOW_TF)),
            ):
                row[f"{tool} called {label}"] = _pct(
                    int(s[pick]["focal_amp"].sum()), int(pick.sum())
                )
            est = s[s["purity"] >= 0.2]["tumor_cn"]
            row[f"{tool} estimate TF>=0.2 median [range]"] = (
                f"{est.median():.1f} [{est.min():.1f}-{est.max():.1f}]"
                if est.notna().any()
                else "-"
            )
        rows.append(row)
    return pd.DataFrame(rows)


def by_class(t: pd.DataFrame, tools: list[str]) -> pd.DataFrame:
    """Focal amplification calls per sample class (negatives: specificity), and focal
    calls of any level (gains below 6 copies included)."""
    rows = []
    order = [*NEGATIVE_CLASSES, "large_amplicon", "focal_gain", "positive"]
    for klass in order:
        for panel in ("hybrid", "amplicon"):
            s = t[(t["klass"] == klass) & (t["panel"] == panel)]
            if s.empty:
                continue
            row = {
                "class": klass,
                "panel": panel,
                "negative": "yes" if klass in NEGATIVE_CLASSES else "no",
            }
            for tool in tools:
                mine = s[s["label"] == tool]
                row[f"{tool} focal amp called"] = _pct(int(mine["focal_amp"].sum()), len(mine))
                if klass in NEGATIVE_CLASSES:
                    row[f"{tool} specificity"] = f"{100 * (1 - mine['focal_amp'].mean()):.0f}%"
                else:
                    row[f"{tool} specificity"] = "-"
                row[f"{tool} any focal call"] = _pct(int(mine["focal_any"].sum()), len(mine))
            rows.append(row)
    return pd.DataFrame(rows)


def by_depth(t: pd.DataFrame, tools: list[str]) -> pd.DataFrame:
    rows = []
    for depth in sorted(t.loc[t["purity"].notna(), "depth"].unique()):
        row = {"depth": f"{depth:g}x"}
        for tool in tools:
            s = t[(t["label"] == tool) & (t["depth"] == depth) & (t["panel"] == "hybrid")]
            m = metrics(s)
            row[f"{tool} sens CN>=6 TF>=0.2"] = _fmt("sens_ge6_tf_ge0.2", m)
            row[f"{tool} med rel.err"] = _fmt("median_rel_err", m)
            row[f"{tool} CI cov"] = _fmt("ci_coverage", m)
        rows.append(row)
    return pd.DataFrame(rows)


def report(
    truth: pd.DataFrame,
    rows: list[dict],
    out: Path,
    timings: dict,
    command: str,
    notes: list[str] = (),
) -> dict:
    """Write results.tsv, tables.md and summary.json; return the numbers and the text."""
    t = merged(truth, rows)
    labels = set(t["label"])
    runs = ("metcnv_hidden", "metcnv_mutations")
    tools = [tool for tool in ("metcnv", *runs, "cnvkit") if tool in labels]
    purity_runs = [label for label in (*runs, "purecn") if label in labels]
    t.to_csv(out / "results.tsv", sep="\t", index=False)
    by_tool = {tool: metrics(t[t["label"] == tool]) for tool in tools}
    by_purity = {label: purity_metrics(t[t["label"] == label]) for label in purity_runs}
    steps = ", ".join(
        f"{k} {timings[k]['seconds'] / 60:.1f} min wall / "
        f"{timings[k].get('cpu_seconds', 0) / 60:.1f} min CPU"
        for k in ("simulation", *tools, *purity_runs)
        if k in timings and "error" not in timings[k]
    )
    sections = [
        f"Command: `{command}`",
        "",
        f"Samples called: {t['sample'].nunique()} "
        f"({t.drop_duplicates('sample')['negative'].sum()} negatives); "
        f"runtime {timings['total_seconds'] / 60:.1f} min wall, "
        f"{timings.get('cpu_seconds', 0) / 60:.1f} min CPU" + (f" ({steps})" if steps else ""),
        *(f"\n**{note}**" for note in notes),
    ]
    tables = {
        "Targets": headline(by_tool),
        "By tumor-fraction stratum (focal amplification calls among true focal amplifications; "
        ">10 flag among those above 10 copies; unrounded copy-number error for MET >= 4 "
        "copies; interval coverage over all samples with a purity; focal amplification calls "
        "on negatives)": by_stratum(t, tools),
        "By tumor fraction (focal calls among true focal amplifications; relative error for "
        "MET CN >= 4; 95% interval coverage over all samples with a purity)": by_fraction(t, tools),
        "By true MET copy number (focal amplifications, both panels)": by_copy_number(t, tools),
        "Focal amplification calls by sample class": by_class(t, tools),
        "By depth (hybrid panel)": by_depth(t, tools),
    }
    if purity_runs:
        tables["Tumor fraction from the reads: targets (hidden run; PureCN)"] = purity_headline(
            by_purity
        )
        tables[
            "Tumor fraction from the reads, by true tumor fraction and design class "
            "(abs./rel. error and coverage over the estimated samples)"
        ] = purity_by_stratum(t, purity_runs)
        ran = set(t.loc[t["label"] == "purecn", "sample"])
        if ran and ran != set(t.loc[t["purity"].notna(), "sample"]):  # PureCN ran on a subset
            shared = t[t["sample"].isin(ran)]
            on_shared = {
                label: purity_metrics(shared[shared["label"] == label]) for label in purity_runs
            }
            title = f"on the {len(ran)} tumors PureCN ran on (--purecn-per-cell)"
            tables[f"Tumor fraction from the reads, {title}"] = purity_headline(on_shared)
            tables[f"Tumor fraction by true tumor fraction and design class, {title}"] = (
                purity_by_stratum(shared, purity_runs)
            )
    pairs = [("metcnv", run) for run in runs if {"metcnv", run} <= labels]
    if pairs:
        tables[
            "Purity hidden vs given, by design class: focal amplification sensitivity (given / "
            "hidden; target within 5 points), false focal calls on negatives, and how often "
            "the hidden run's copy-number lower bound (no purity) holds"
        ] = hidden_vs_given(t, pairs)
    for title, frame in tables.items():
        sections += ["", f"### {title}", "", markdown(frame)]
    text = "\n".join(sections)
    (out / "tables.md").write_text(text + "\n")
    summary = {
        "command": command,
        "metrics": by_tool,
        "purity": by_purity,
        "timings": timings,
        "notes": list(notes),
    }
    summary["text"] = text
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary
