"""The accuracy benchmark, small: metcnv on simulated BAMs with known truth (~3 min; 167 s).

Runs benchmarks/accuracy/run.py at `--scale small` (metcnv only) through the same code and
command lines as the full benchmark of docs/validation.md: 6 tissue normals, MET amplicons
of 8, 12 and 20 tumor copies at tumor fractions 0.2, 0.5 and 1, two low-fraction plasma
samples (20 copies at 0.1, 40 at 0.05), and negatives (neutral tumors, polysomy 7, a 7q
arm gain, EGFR and ERBB2 amplifications, two normals called against the others), at 250x.

The asserts are the issue's targets, on these few samples. No truth sits exactly on a
decision threshold (6 copies for amplification, 10 for the >10 flag): an unbiased estimate
of a true 6 falls below 6 about half of the time, so on three samples such a target would
be a coin toss; the full benchmark measures those cases (docs/validation.md). The target for
10+ copies at tumor fractions 0.05-0.1 is missed on the full benchmark; the two
low-fraction samples here only guard the detection of clear cases.

Every BAM carries its own person's germline SNPs and every tumor 3-6 clonal somatic
mutations (and up to 2 subclonal), and metcnv is run three times on the same BAMs:
purity given (the asserts above), hidden (metcnv estimates it) and hidden with the
mutations' VCF (their allele fractions enter the fit). Three cases
are for the estimate: purity_loh_cn12_tf0.5 (chr17p loss and chr12 copy-neutral LOH: the
purity is identifiable), purity_loh_cn20_tf0.1 (plasma, chr17 loss and chr12 CN-LOH) and
purity_flat_cn8_tf0.3 (MET alone: not identifiable). Before the fit left out segments
under 3 Mb and dropped the homozygous-deletion state, a 2-3 bin segment of thin off-target
bins (0-4 reads each) at log2 ~ -2.3 fitted as (0, 0) had pinned them at 0.98 (95% CI
0.90-1.00) and 0.81 (0.74-0.87); these asserts guard against that.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "accuracy" / "run.py"
spec = importlib.util.spec_from_file_location("accuracy_benchmark", RUN)
benchmark = importlib.util.module_from_spec(spec)
spec.loader.exec_module(benchmark)  # puts benchmarks/accuracy on sys.path for its modules


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[dict, pd.DataFrame]:
    out = tmp_path_factory.mktemp("accuracy")
    argv = ["--out", str(out), "--scale", "small", "--tools", "metcnv", "--purity", "all"]
    summary = benchmark.main(argv)
    return summary, pd.read_csv(out / "results.tsv", sep="\t"), out


@pytest.fixture(scope="module")
def result(run) -> dict:
    return run[0]["metrics"]["metcnv"]  # the purity-given run


@pytest.fixture(scope="module")
def hidden(run) -> pd.DataFrame:
    table = run[1]
    return table[table["label"] == "metcnv_hidden"].set_index("sample")


@pytest.fixture(scope="module")
def with_mutations(run) -> pd.DataFrame:
    table = run[1]
    return table[table["label"] == "metcnv_mutations"].set_index("sample")


def test_score_only_scores_the_calls_in_out_without_the_bams(run, tmp_path):
    """`--score-only` gives the same scores from the calls alone: a copy of the metcnv
    folder without the data folder (no BAM to write or read) scores every run as before."""
    summary, _, out = run
    shutil.copytree(out / "metcnv", tmp_path / "metcnv")
    argv = ["--out", str(tmp_path), "--scale", "small", "--score-only"]
    again = benchmark.main(argv)
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").glob("*.bam"))
    for part in ("metrics", "purity"):  # as JSON, where NaN equals NaN
        assert json.dumps(again[part], sort_keys=True) == json.dumps(summary[part], sort_keys=True)
    assert (
        "scored only (--score-only): the calls of metcnv (given, hidden, mutations)"
        in (tmp_path / "tables.md").read_text()
    )


def test_no_false_focal_amplification_on_negatives(result):
    # 3 neutral tumors, polysomy 7, 7q gain, EGFR and ERBB2 amplicons, 2 normals.
    assert result["negatives"] == 9
    assert result["false_focal"] == 0
    assert result["false_focal_any"] == 0  # not even a focal gain below 6 copies


def test_sensitivity_for_focal_amplification_at_tumor_fraction_from_20_percent(result):
    assert result["n_ge6_tf_ge0.2"] == 11
    assert result["sens_ge6_tf_ge0.2"] >= 0.95


def test_high_copy_amplifications_seen_at_low_tumor_fraction(result):
    assert result["n_ge10_tf_0.05_0.1"] == 3
    assert result["sens_ge10_tf_0.05_0.1"] == 1.0


def test_relative_error_of_tumor_copy_number(result):
    assert result["n_rel_err"] == 13  # 11 amplicons, polysomy 7 and 7q gain at 4 copies
    assert result["median_rel_err"] <= 0.10
    assert result["p90_rel_err"] <= 0.25


def test_95_percent_intervals_hold_the_truth(result):
    # 90-98% over the full benchmark; of 21 intervals at 95%, 0-3 miss with probability 0.98.
    assert result["n_ci"] == 21
    assert result["ci_coverage"] >= 18 / 21


def test_over_10_flag(result):
    # Every flag given is right. other_ERBB2_cn15_tf0.3 may get none: on this 3-chromosome
    # genome its 27 amplified exons are a quarter of the targets that set the zero line,
    # and QC (profile correlation with the normals) fails it, as it should.
    assert result["over10_no_call"] <= 1
    right = round(result["over10_accuracy"] * result["n_ci"])
    assert right == result["n_ci"] - result["over10_no_call"]


def test_rounded_estimates_are_also_scored_unrounded():
    # CNVkit's clonal call rounds 5.4 to 6 and 10.5 to 10: no error against the integer
    # truth, which the median relative error rewards; the unrounded rows show the estimate.
    import score

    truth = pd.DataFrame(
        {"sample": ["a", "b", "c"], "klass": "positive", "met_cn": [6.0, 10.0, 8.0], "purity": 0.5}
    )
    estimates = {"a": (6.0, 5.4), "b": (10.0, 10.5), "c": (8.0, None)}
    calls = [
        {"sample": name, "tool": "cnvkit", "tumor_cn": cn, "tumor_cn_unrounded": unrounded}
        | {"focal_amp": True, "focal_any": True, "over_10": False}
        | dict.fromkeys(("ci_low", "ci_high", "segment_size", "sample_cn"))
        for name, (cn, unrounded) in estimates.items()
    ]
    table = score.merged(truth, calls)
    assert table["rel_err"].tolist() == [0.0, 0.0, 0.0]
    assert table["rel_err_unrounded"].tolist() == pytest.approx([0.1, 0.05, float("inf")])
    scored = score.metrics(table[table["sample"] != "c"])
    assert scored["median_rel_err"] == 0.0
    assert scored["median_rel_err_unrounded"] == pytest.approx(0.075)


def test_no_false_focal_amplification_on_negatives_with_the_purity_hidden(run, hidden):
    assert run[0]["metrics"]["metcnv_hidden"]["negatives"] == 9
    negatives = hidden[hidden["negative"] == 1]
    assert not negatives["focal_amp"].any()


def test_identifiable_purity_is_estimated_within_its_interval(hidden):
    row = hidden.loc["purity_loh_cn12_tf0.5"]
    assert row["purity_source"] == "estimated"
    assert row["purity_ci_low"] <= row["purity"] <= row["purity_ci_high"]
    assert abs(row["purity_est"] - row["purity"]) <= 0.05


def test_flat_tumor_purity_is_not_identifiable(hidden):
    assert hidden.loc["purity_flat_cn8_tf0.3", "purity_source"] == "none"


def test_real_noise_maps_genes_onto_the_same_real_genes_and_reads_profiles_from_a_shift():
    # `run.py --noise real`: a simulated gene's targets take the real panel's targets of
    # that gene, in order; other targets the nearest free real one at the same relative
    # position (no real target twice); each sample reads one real profile from its own start.
    import real_noise

    real = pd.DataFrame(
        {
            "chrom": "chr7",
            "start": [1_000_000, 50_000_000, 116_300_000, 116_310_000, 116_320_000, 150_000_000],
            "name": ["CGH", "CGH", "MET", "MET", "MET", "CGH"],
        }
    ).assign(end=lambda f: f["start"] + 200)
    simulated = pd.DataFrame(
        {
            "chrom": "chr7",
            "start": [1_000_000, 116_000_000, 116_700_000, 116_750_000, 116_790_000],
            "gene": ["chr7_backbone", "chr7_backbone", "MET", "MET", "MET"],
        }
    ).assign(end=lambda f: f["start"] + 200)
    where = real_noise.target_map(simulated, real, "hg38")
    assert where.tolist() == [0, 5, 2, 3, 4]  # 116 Mb's nearest free target is at 150 Mb
    profiles = real_noise.Profiles(
        bins=real,
        efficiency=np.arange(6.0),
        scale=np.full(6, 2.0),
        z={"t": np.array([0.0, 1, 2, 3, 4, 5]), "n": np.zeros(6)},
        normals=("n",),
        tumors=("t",),
    )
    offsets = real_noise.log2_offsets(profiles, where, False, np.random.default_rng(1))
    shift = (offsets - profiles.efficiency[where]) / 2 - where
    assert len(set(np.mod(shift, 6))) == 1  # one start for the whole profile
    normal = real_noise.log2_offsets(profiles, where, True, np.random.default_rng(1))
    assert normal.tolist() == profiles.efficiency[where].tolist()


def test_mutations_fix_the_purity_of_a_flat_tumor(hidden, with_mutations):
    """MET alone, no other copy-number change: depth and SNPs leave the purity open, its
    six clonal mutations at ~15% fix it."""
    row = with_mutations.loc["purity_flat_cn8_tf0.3"]
    assert hidden.loc["purity_flat_cn8_tf0.3", "purity_source"] == "none"
    assert row["purity_source"] == "estimated"
    assert row["purity_ci_low"] <= row["purity"] <= row["purity_ci_high"]
    assert row["focal_amp"]


def test_mutations_give_no_confident_wrong_purity_and_no_false_focal_call(run, with_mutations):
    purity = run[0]["purity"]["metcnv_mutations"]
    assert purity["purity_confident_wrong"] == 0
    assert purity["n_purity_estimated"] >= 15  # of 21 tumors
    assert purity["purity_abs_median"] <= 0.03
    negatives = with_mutations[with_mutations["negative"] == 1]
    assert not negatives["focal_amp"].any()
