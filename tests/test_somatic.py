"""Somatic mutations' allele fractions in the purity fit (metcnv.somatic, purity.fit_purity)."""

import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
from conftest import DATA, read_truth
from test_purity import draw
from test_simulate import allele_counts

from metcnv.coverage import read_coverage
from metcnv.errors import MetcnvError
from metcnv.genome import LENGTHS
from metcnv.model import Result, Status
from metcnv.purity import BAF_CONCENTRATION, STATES, fit_purity, germline_warning
from metcnv.somatic import leave_out_chip, mutation_log_likelihood

FLAT = [(1, 1)] * 4  # no copy-number change: depth and SNPs cannot fix p


def mutations(purity, segments, ccf, depth=800, seed=0, states=None):
    """A mutation per (segment, ccf) on one copy of a (1, 1) segment unless `states`; beta-
    binomial counts at the het SNPs' overdispersion."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, share in zip(segments, ccf, strict=True):
        total = 2 if states is None else sum(states[k])
        f = purity * share / (purity * total + 2 * (1 - purity))
        n = rng.poisson(depth)
        alt = rng.binomial(n, rng.beta(BAF_CONCENTRATION * f, BAF_CONCENTRATION * (1 - f)))
        rows.append((k, n - alt, alt, BAF_CONCENTRATION))
    return pd.DataFrame(rows, columns=["segment", "ref_count", "alt_count", "concentration"])


@pytest.mark.parametrize("purity", [0.03, 0.08, 0.2, 0.5])
def test_clonal_mutations_fix_the_purity_of_a_flat_tumor(purity):
    """Depth and SNPs leave a flat genome's purity open; clonal mutations on one of two
    copies show p/2 and fix it, down to cfDNA tumor fractions."""
    held = []
    for seed in range(5):
        segments, snps = draw(purity, FLAT, seed=seed)
        assert not fit_purity(segments, snps).identifiable
        found = mutations(purity, [0, 1, 2, 3, 0], [1.0] * 5, seed=seed)
        fit = fit_purity(segments, snps, mutations=found)
        assert fit.identifiable, fit.reason
        assert "clonal somatic mutations" in fit.reason and fit.n_mutations == 5
        assert abs(fit.purity - purity) <= max(0.3 * purity, 0.03)
        held.append(fit.ci95[0] <= purity <= fit.ci95[1])
    assert sum(held) >= 4


def test_a_few_alt_reads_give_a_wide_interval_not_an_unknown_purity():
    """At 5% tumor DNA and 120x a clonal mutation shows about 3 alt reads, so purities from
    p to 2p are often within one standard error; single-copy mutations rule the gains' trade
    out, so that spread is the counts' own and the interval carries it: an estimate, wide,
    holding the truth (in the real-noise benchmark such plasma samples were left unestimated
    and their >10-copy flags missing)."""
    fits = []
    for seed in range(12):
        segments, snps = draw(0.05, FLAT, seed=seed)
        found = mutations(0.05, [0, 1, 2, 3], [1.0] * 4, depth=120, seed=seed)
        fits.append(fit_purity(segments, snps, mutations=found))
    estimated = [f for f in fits if f.identifiable]
    assert len(estimated) >= 10, [f.reason for f in fits]
    assert sum(f.ci95[0] <= 0.05 <= f.ci95[1] for f in estimated) >= len(estimated) - 1
    assert max(f.ci95[1] / f.ci95[0] for f in estimated) > 4  # wide, as the counts are


def test_a_2_percent_plasma_tumor_is_told_from_a_vanishing_one():
    """At 2% tumor DNA six clonal mutations at 500x show 2-8 alt reads each: the interval
    reaches down to about 1%, and it is an estimate only when the purity grid holds points
    below it for the fit to exclude (with 1% the lowest, 4 of these 12 were estimated)."""
    fits = []
    for seed in range(12):
        segments, snps = draw(0.02, FLAT, seed=seed)
        found = mutations(0.02, [0, 1, 2, 3, 0, 1], [1.0] * 6, depth=500, seed=seed)
        fits.append(fit_purity(segments, snps, mutations=found))
    estimated = [f for f in fits if f.identifiable]
    assert len(estimated) >= 10, [f.reason for f in fits]
    assert sum(f.ci95[0] <= 0.02 <= f.ci95[1] for f in estimated) >= len(estimated) - 1


def test_a_subclonal_mutation_does_not_pull_the_purity_down():
    segments, snps = draw(0.3, FLAT, seed=3)
    found = mutations(0.3, [0, 1, 2, 3], [1.0, 1.0, 1.0, 0.3], seed=3)
    fit = fit_purity(segments, snps, mutations=found)
    assert fit.identifiable and abs(fit.purity - 0.3) <= 0.04, (fit.purity, fit.reason)


def test_one_mutation_alone_does_not_fix_the_purity():
    """It may be subclonal: one clonal cluster needs two mutations at least."""
    segments, snps = draw(0.3, FLAT, seed=4)
    fit = fit_purity(segments, snps, mutations=mutations(0.3, [1], [1.0], seed=4))
    assert not fit.identifiable
    assert fit.ci95[0] >= 0.15  # but it bounds p from below: p/2 is the most it can show


def with_germline(found: pd.DataFrame, segments: list[int]) -> pd.DataFrame:
    """`found` and a germline het (200 of 400 reads alt) in each of `segments`."""
    leak = pd.DataFrame(
        {"segment": segments, "ref_count": 200, "alt_count": 200, "concentration": 250.0}
    )
    return pd.concat([found, leak], ignore_index=True)


def test_a_germline_variant_left_in_the_vcf_does_not_move_the_purity():
    """A germline het at 50% read as a clonal mutation would mean purity 1; one is outvoted
    by the tumor's own mutations, and no warning is needed."""
    estimates = []
    for seed in range(6):
        segments, snps = draw(0.1, FLAT, seed=seed)
        found = mutations(0.1, [0, 1, 2, 3, 0], [1.0] * 5, depth=400, seed=seed)
        fit = fit_purity(segments, snps, mutations=with_germline(found, [1]))
        estimates.append(fit.purity if fit.identifiable else np.nan)
    assert np.sum(np.abs(np.array(estimates) - 0.1) <= 0.04) >= 5, estimates
    clean = fit_purity(segments, snps, mutations=found)
    assert germline_warning(segments, snps, None, found, clean) is None


def test_germline_variants_that_carry_the_estimate_are_warned_about():
    """Four germline hets left in the VCF of a flat plasma sample at 10% fit as the clonal
    mutations of a pure tumor, the tumor's own then subclonal: the reads cannot tell the two
    apart, so the estimate comes with a warning naming the fit without them."""
    for seed in range(3):
        segments, snps = draw(0.1, FLAT, seed=seed)
        found = mutations(0.1, [0, 1, 2, 3, 0], [1.0] * 5, depth=400, seed=seed)
        leaky = with_germline(found, [0, 1, 2, 3])
        fit = fit_purity(segments, snps, mutations=leaky)
        assert fit.identifiable and fit.purity > 0.9  # the hazard itself
        warning = germline_warning(segments, snps, None, leaky, fit)
        assert warning is not None and "rests on 4 somatic mutation(s)" in warning
        instead = float(re.search(r"without them it is (\d+)%", warning).group(1)) / 100
        assert abs(instead - 0.1) <= 0.03, warning


def test_mutations_in_gained_segments_keep_the_gains_trade_open():
    """(2,1) at p with a mutation on one copy fits like (3,1) at p/2 with it on two: such
    mutations fix nothing; only a single-copy segment's do."""
    states = [(1, 1), (2, 1), (2, 1), (1, 1)]
    for seed in range(4):
        segments, snps = draw(0.4, states, seed=seed)
        found = mutations(0.4, [1, 2, 1], [1.0, 1.0, 1.0], seed=seed, states=states)
        fit = fit_purity(segments, snps, mutations=found)
        assert not fit.identifiable and fit.ci95[1] >= 0.4, fit.reason


def test_multiplicity_is_averaged_over_the_copies_of_the_major_allele():
    """On (3, 1) a clonal mutation may sit on 1, 2 or 3 copies; the likelihood must not
    reject a mutation on all three copies."""
    found = pd.DataFrame(
        {"segment": [0], "ref_count": [600], "alt_count": [400], "concentration": [1e5]}
    )  # f = 0.4 = 3p/(4p + 2(1-p)) at p = 0.5
    ll, clonal = mutation_log_likelihood(0.5, STATES, found)
    three_one = np.flatnonzero((STATES[:, 0] == 3) & (STATES[:, 1] == 1))[0]
    one_one = np.flatnonzero((STATES[:, 0] == 1) & (STATES[:, 1] == 1))[0]
    assert clonal[0, three_one] > 0.99
    assert ll[0, three_one] - ll[0, one_one] > 30  # (1,1) shows at most 0.25


# --- counted in the same pass, from the user's VCF ----------------------------------------
def test_mutations_are_counted_in_the_same_pass_as_the_snps(example_pon, tmp_path):
    from metcnv.cli import main

    bam, vcf = DATA / "blood_lowpurity.bam", DATA / "blood_lowpurity.somatic.vcf.gz"
    both, snps_only = tmp_path / "both.coverage.tsv.gz", tmp_path / "snps.coverage.tsv.gz"
    argv = ["coverage", str(bam), "--pon", str(example_pon)]
    assert main([*argv, "--out", str(both), "--mutations", str(vcf)]) == 0
    assert main([*argv, "--out", str(snps_only)]) == 0
    counted, alone = read_coverage(both), read_coverage(snps_only)
    pd.testing.assert_frame_equal(counted.alleles, alone.alleles)  # SNPs as without
    assert (tmp_path / "both.somatic_alleles.tsv.gz").is_file()
    table = counted.mutations
    assert len(table) == 5 and counted.meta["mutations_kept"] == "5"
    ref, alt, _, _ = allele_counts(bam, table.assign(pos=table["pos"] - 1))  # pysam's pileup
    assert table["ref_count"].tolist() == ref.tolist()
    assert table["alt_count"].tolist() == alt.tolist()
    assert table["alt_count"].sum() > 20  # a 10% plasma sample shows its mutations


def write_vcf(path: Path, records: list[str], index: bool = True) -> Path:
    """A bgzipped somatic VCF of tab-separated `records` (sorted here), indexed unless not;
    its FILTER may be PASS or a Mutect2-like weak_evidence."""
    header = [
        "##fileformat=VCFv4.2",
        *(f"##contig=<ID={c},length={n}>" for c, n in CONTIGS.items()),
        '##FILTER=<ID=PASS,Description="All filters passed">',
        '##FILTER=<ID=weak_evidence,Description="Mutect2 filter">',
        '##INFO=<ID=SOMATIC,Number=0,Type=Flag,Description="somatic">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    order = list(CONTIGS)
    records = sorted(records, key=lambda r: (order.index(r.split()[0]), int(r.split()[1])))
    plain = path.with_suffix("")
    plain.write_text("\n".join(header + records) + "\n")
    pysam.tabix_compress(str(plain), str(path), force=True)
    if index:
        pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


# the bundled reference's contigs, and chrX, where the panel has no bins
CONTIGS = {c: LENGTHS["hg38"][c] for c in ("chr7", "chr8", "chr12", "chr17", "chrX")}


def test_records_the_fit_cannot_use_are_counted_by_reason(example_pon, tmp_path, capsys):
    from metcnv.cli import main

    snp = pd.read_csv(DATA / "snps.vcf.gz", sep="\t", comment="#", header=None, nrows=1)
    chrom, pos = snp.iloc[0, 0], int(snp.iloc[0, 1])
    vcf = write_vcf(
        tmp_path / "somatic.vcf.gz",
        [
            "chr7\t55030207\t.\tC\tA\t.\tPASS\tSOMATIC",  # kept
            "chr7\t55030300\t.\tC\tA\t.\tweak_evidence\tSOMATIC",  # filtered
            f"{chrom}\t{pos}\t.\t{snp.iloc[0, 3]}\t{snp.iloc[0, 4]}\t.\tPASS\tSOMATIC",
            "chr7\t55030400\t.\tCA\tC\t.\tPASS\tSOMATIC",  # an indel
            "chr7\t1000\t.\tN\tA\t.\tPASS\tSOMATIC",  # not an SNV base either
            "chrX\t150000000\t.\tA\tG\t.\tPASS\tSOMATIC",  # outside the bins
        ],
    )
    out = tmp_path / "s.coverage.tsv.gz"
    argv = ["coverage", str(DATA / "blood_lowpurity.bam"), "--pon", str(example_pon)]
    assert main([*argv, "--out", str(out), "--mutations", str(vcf)]) == 0
    printed = capsys.readouterr().out
    assert (
        "alleles at 1 somatic mutations (sites skipped: 0 multiallelic, 2 not snv, "
        "1 outside bins, 1 filtered, 1 at snp site)"
    ) in printed
    assert read_coverage(out).mutations["pos"].tolist() == [55030207]


def test_a_mutations_vcf_without_an_index_is_refused_with_the_fix(example_pon, tmp_path, capsys):
    from metcnv.cli import main

    vcf = write_vcf(tmp_path / "somatic.vcf.gz", ["chr7\t55030207\t.\tC\tA\t.\tPASS\t."], False)
    out = tmp_path / "s.coverage.tsv.gz"
    argv = ["coverage", str(DATA / "blood_lowpurity.bam"), "--pon", str(example_pon)]
    assert main([*argv, "--out", str(out), "--mutations", str(vcf)]) != 0
    error = capsys.readouterr().err.strip().splitlines()
    assert error == [f"metcnv: error: {vcf}: no index found; bgzip it and run `tabix -p vcf {vcf}`"]
    assert not list(tmp_path.glob("s.*"))  # nothing half-written


def test_edited_mutation_counts_are_refused(example_pon, tmp_path):
    from metcnv.cli import main

    out = tmp_path / "s.coverage.tsv.gz"
    argv = ["coverage", str(DATA / "blood_lowpurity.bam"), "--pon", str(example_pon)]
    vcf = DATA / "blood_lowpurity.somatic.vcf.gz"
    assert main([*argv, "--out", str(out), "--mutations", str(vcf)]) == 0
    counts = tmp_path / "s.somatic_alleles.tsv.gz"
    with gzip.open(counts, "at") as handle:
        handle.write("chr7\t1\tA\tC\t\t1\t1\t0\n")
    with pytest.raises(
        MetcnvError, match="MD5 differs .* recount with `metcnv coverage --mutations`"
    ):
        read_coverage(out)


def test_mutations_in_clonal_haematopoiesis_genes_are_left_out():
    """A mutation in a target bin of a CHIP gene (also one labelled with two genes) leaves
    the fit, with the reason; one in another gene's bin, in an off-target bin or already
    left out for another reason keeps its state."""
    bins = pd.DataFrame(
        {
            "chrom": ["chr1", "chr1", "chr1", "chr2"],
            "start": [100, 200, 1000, 100],
            "end": [200, 300, 5000, 200],
            "gene": ["DNMT3A", "TP53", "-", "TET2,ASXL1"],
            "kind": ["target", "target", "offtarget", "target"],
        }
    )
    table = pd.DataFrame(
        {
            "chrom": ["chr1", "chr1", "chr1", "chr2", "chr1"],
            "pos": [150, 250, 2000, 101, 101],
            "used": [True, True, True, True, False],
            "reason": ["", "", "", "", "depth below 20"],
        }
    )
    warning = leave_out_chip(table, bins, ["DNMT3A", "TET2", "ASXL1"])
    assert table["used"].tolist() == [False, True, True, False, False]
    assert table["reason"].tolist() == [
        "in DNMT3A, a clonal haematopoiesis gene",
        "",
        "",
        "in TET2, a clonal haematopoiesis gene",
        "depth below 20",
    ]
    assert warning.startswith(
        "2 of 5 somatic mutations lie in clonal haematopoiesis genes (DNMT3A, TET2)"
    )
    assert leave_out_chip(table, bins, ["JAK2"]) is None


def test_a_blood_samples_chip_gene_mutation_is_not_fitted(mutation_results, example_pon, tmp_path):
    """`--chip-genes` names the genes; in a blood sample a mutation there is listed but not
    fitted, and the warning says so; a tumor biopsy's is fitted (EGFR stands in for a CHIP
    gene: the bundled panel has none)."""
    from metcnv.cli import main

    coverage = mutation_results["blood_followup"] / "blood_followup.coverage.tsv.gz"
    reasons = {}
    for sample_type in ("blood", "tumor"):
        out = tmp_path / sample_type
        argv = ["call", str(coverage), "--pon", str(example_pon), "--out", str(out)]
        argv += ["--sample-type", sample_type, "--chip-genes", "EGFR,DNMT3A", "--exit-zero"]
        assert main(argv) == 0
        table = pd.read_csv(out / "blood_followup.mutations.tsv", sep="\t", keep_default_na=False)
        result = Result.from_json((out / "blood_followup.metcnv.json").read_text(), "")
        assert result.purity.fit.n_mutations == table["used"].sum()
        egfr = table["pos"] == 55030207
        reasons[sample_type] = (table.loc[egfr, "reason"].item(), result.warnings)
    assert reasons["blood"][0] == "in EGFR, a clonal haematopoiesis gene"
    assert any("clonal haematopoiesis genes (EGFR)" in w for w in reasons["blood"][1])
    assert reasons["tumor"][0] == ""
    assert not any("haematopoiesis" in w for w in reasons["tumor"][1])


# --- the bundled cases ----------------------------------------------------------------------
TRUTH = {row["sample"]: row for row in read_truth()}


def clonal(sample: str) -> int:
    """The clonal mutations the simulator gave a bundled case (truth.tsv)."""
    return sum(m.split(":")[-1] == "1" for m in TRUTH[sample]["mutations"].split(";"))


def test_mutations_give_every_bundled_case_its_tumor_fraction(mutation_results):
    """With its somatic mutations every case's tumor fraction is estimated, the flat tumor
    and the 3% blood sample too, which depth and SNPs alone leave open (estimated_results).
    Seven 95% intervals miss three or more times by chance 0.4% of the time (two: 4%,
    which these seeded cases do: 0.405-0.50 for 0.4 and 0.61-0.74 for 0.6)."""
    held = []
    for sample, folder in mutation_results.items():
        result = Result.from_json((folder / f"{sample}.metcnv.json").read_text(), sample)
        truth = float(TRUTH[sample]["purity"])
        purity = result.purity
        assert clonal(sample) >= 2 and purity.source == "estimated", (sample, purity.reason)
        assert purity.fit.n_mutations >= 3  # not those inside an amplicon
        assert abs(purity.value - truth) <= max(0.08, 0.5 * truth), sample
        held.append(purity.ci95[0] <= truth <= purity.ci95[1])
        table = pd.read_csv(folder / f"{sample}.mutations.tsv", sep="\t")
        assert table["used"].sum() == purity.fit.n_mutations
    assert sum(held) >= len(held) - 2


def test_the_3_percent_blood_sample_gets_a_call_from_its_mutations(mutation_results):
    """At 3% no LOH shows in the SNPs; five truncal mutations at ~1.5% set the tumor
    fraction, and MET's 25 copies are called high-level."""
    folder = mutation_results["blood_followup"]
    result = Result.from_json((folder / "blood_followup.metcnv.json").read_text(), "")
    assert "clonal somatic mutations" in result.purity.reason
    assert result.met.status is Status.HIGH_LEVEL_FOCAL_AMPLIFICATION
    low, high = result.met.tumor_copy_number_ci95
    assert low <= float(TRUTH["blood_followup"]["met_tumor_cn"]) <= high


def test_the_report_lists_the_mutations_the_tumor_fraction_rests_on(
    mutation_results, example_results
):
    """A clinician reading '4% tumor DNA, from 5 clonal somatic mutations' sees which, with
    their reads; a sample counted without a VCF shows no such table."""
    folder = mutation_results["blood_followup"]
    html = (folder / "blood_followup.report.html").read_text()
    table = pd.read_csv(folder / "blood_followup.mutations.tsv", sep="\t")
    assert "Somatic mutations of the sample" in html and len(table) >= 5
    for m in table.itertuples():
        row = f'{m.chrom}:{m.pos:,} {m.ref}&gt;{m.alt}</td><td class="num">{m.alt_count} / '
        assert row in html, row
    plain = example_results["blood_followup"] / "blood_followup.report.html"
    assert "Somatic mutations of the sample" not in plain.read_text()
