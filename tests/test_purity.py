"""The purity/ploidy fit on segments and allele counts drawn from its own model."""

import gzip

import numpy as np
import pandas as pd
import pytest
from conftest import DATA, read_truth

from metcnv.bins import site_bins
from metcnv.copynumber import copy_ratio
from metcnv.model import Ploidy, Purity, Result, Sample, Status
from metcnv.purity import (
    BAF_CONCENTRATION,
    LR_95,
    PURITY_GRID,
    SNP_LIKELIHOOD_COLUMNS,
    STATES,
    STRAY_SITE,
    _broad_segments,
    _identifiable,
    _interval,
    allele_copies,
    allelic_contrast,
    beside_focal_segments,
    chosen_purity,
    expected_baf,
    fit_purity,
    fit_sites,
    het_concentration,
    minor_allele_fraction,
    snp_log_likelihood,
)

EVENTS = [(1, 1), (1, 0), (2, 1), (1, 1), (1, 1)]  # a loss (LOH) and a gain of one allele


def draw(purity, states, seed, n_snps=30, depth=150, se=0.02, sizes=None):
    """Segments (20 Mb unless `sizes`; log2, se) and SNPs (HWE genotypes, beta-binomial
    het counts) of a tumor."""
    rng = np.random.default_rng(seed)
    states = np.array(states)
    total = states.sum(axis=1)
    log2 = np.log2(copy_ratio(total, purity, 2.0)) + rng.normal(0, se, len(states))
    ends = np.cumsum(sizes or [20_000_000] * len(states))
    segments = pd.DataFrame({"chrom": "chr1", "start": ends - (sizes or 20_000_000), "end": ends})
    segments = segments.assign(log2=log2, se=se)
    rows = []
    for k, (major, minor) in enumerate(states):
        baf = expected_baf(purity, np.array([[major, minor]]))[0]
        for _ in range(n_snps):
            q = rng.uniform(0.3, 0.5)
            genotype = rng.choice(3, p=[(1 - q) ** 2, 2 * q * (1 - q), q * q])
            n = rng.poisson(depth * copy_ratio(major + minor, purity, 2.0))
            f = [0.005, baf if rng.random() < 0.5 else 1 - baf, 0.995][genotype]
            alt = rng.binomial(n, rng.beta(BAF_CONCENTRATION * f, BAF_CONCENTRATION * (1 - f)))
            rows.append((k, n - alt, alt, q, 0.5, BAF_CONCENTRATION))
    columns = ["segment", *SNP_LIKELIHOOD_COLUMNS]
    return segments, pd.DataFrame(rows, columns=columns)


@pytest.mark.parametrize("purity", [0.3, 0.6])
def test_events_fix_the_purity(purity):
    segments, snps = draw(purity, EVENTS, seed=1)
    fit = fit_purity(segments, snps)
    assert fit.identifiable, fit.reason
    assert abs(fit.purity - purity) <= 0.05
    assert fit.ci95[0] <= purity <= fit.ci95[1]
    assert abs(fit.ploidy - 2) <= 0.1
    assert fit.solutions[0].purity == fit.purity


def test_intervals_hold_the_truth_about_95_percent_of_the_time():
    held = []
    for seed in range(30):
        segments, snps = draw(0.4, EVENTS, seed=100 + seed)
        low, high = fit_purity(segments, snps).ci95
        held.append(low <= 0.4 <= high)
    assert 25 <= sum(held) <= 30


def test_a_flat_tumor_has_no_identifiable_purity():
    segments, snps = draw(0.5, [(1, 1)] * 3, seed=2)
    fit = fit_purity(segments, snps)
    assert not fit.identifiable
    assert fit.ci95[0] <= 0.05 and fit.ci95[1] >= 0.9


@pytest.mark.parametrize("gain", [(2, 1), (2, 2)])
def test_gains_alone_bound_the_purity_without_fixing_it(gain):
    """(2,1) at p fits like (3,1) at p/2 and (2,2) like (3,3): ties, so no estimate; but
    no clonal state explains the gain at a purity much above the truth, so the interval's
    upper end bounds it."""
    for seed in range(3):
        segments, snps = draw(0.4, [(1, 1), gain, (1, 1), (1, 1)], seed=seed, n_snps=30)
        fit = fit_purity(segments, snps)
        assert not fit.identifiable
        assert "fit the data equally well" in fit.reason
        assert 0.4 <= fit.ci95[1] <= 0.56  # 0.55 on the grid, its end interpolated


def test_gains_alone_are_never_fixed_by_how_their_noise_fits():
    """(3,1), (2,2) and (2,1) at 0.8 are ties with (7,1), (4,4), (4,1) at 0.27, where
    finer copy states also fit a wave (a shifted neutral arm) better: the likelihood then
    prefers the lower purity, but with no loss of heterozygosity nothing fixes it, and the
    upper bound must still hold the truth."""
    states = [(1, 1), (3, 1), (2, 2), (2, 1), (1, 1), (1, 1)]
    for seed in range(4):
        segments, snps = draw(0.8, states, seed=seed, se=0.01, sizes=[50_000_000] * 6)
        segments.loc[5, "log2"] += 0.1
        fit = fit_purity(segments, snps)
        assert not fit.identifiable
        assert fit.ci95[1] >= 0.8
        assert fit.plausible()[:, 0].max() == fit.ci95[1]


@pytest.mark.parametrize("seed", [15, 35])
def test_a_gain_of_one_allele_is_not_taken_for_a_loss_at_a_lower_purity(seed):
    """(2,1) at 0.4 shows a minor-allele fraction of 0.417; (7,0) at 0.075 shows 0.389 at
    the same depth. Its SNPs are imbalanced, but not below 1/D, the least any state keeping
    a minor copy shows among D copies per cell: no loss of heterozygosity is seen, and two
    such gains must not pin p (these seeds fitted (7,0) and (6,0) at 0.075-0.08, intervals
    5-14%, when imbalance alone counted as a seen loss)."""
    segments, snps = draw(0.4, [(2, 1), (2, 1), (1, 1), (1, 1)], seed=seed)
    fit = fit_purity(segments, snps)
    assert not fit.identifiable, (fit.purity, fit.ci95)
    assert fit.ci95[1] >= 0.4


def test_a_dip_of_depth_with_balanced_alleles_is_no_loss_of_heterozygosity():
    """A short noisy segment (a centromere's edge) 0.2 below a flat genome fits a loss
    at about 0.25 as well as a real one would, but its SNPs show no imbalance: p is not
    fixed by it."""
    sizes = [60_000_000, 5_000_000, 60_000_000, 60_000_000]
    for seed in range(3):
        segments, snps = draw(0.5, [(1, 1)] * 4, seed=seed, se=0.01, sizes=sizes)
        segments.loc[1, ["log2", "se"]] = [-0.2, 0.05]
        snps = snps[(snps["segment"] != 1) | (snps.index % 30 < 2)]  # two sites in it
        fit = fit_purity(segments, snps)
        assert not fit.identifiable
        assert fit.ci95[1] == 1.0


def test_an_arm_is_no_amplicon():
    """A one-allele gain of two 50 Mb arms at 0.8 is (k+1, 1) at 0.8/k up to MAX_COPIES
    (k = 6, 0.13); below that it would need more copies than an arm carries, so the
    smallest tumor fractions are excluded (a 1 Mb amplicon may still take any number)."""
    sizes = [50_000_000] * 4
    segments, snps = draw(0.8, [(1, 1), (2, 1), (2, 1), (1, 1)], seed=5, sizes=sizes)
    fit = fit_purity(segments, snps)
    assert not fit.identifiable
    assert 0.1 <= fit.ci95[0] <= 0.14 and fit.ci95[1] >= 0.8


def test_a_loss_of_heterozygosity_beside_a_gain_fixes_the_purity():
    segments, snps = draw(0.4, [(1, 1), (1, 0), (2, 1), (1, 1)], seed=4, n_snps=30)
    fit = fit_purity(segments, snps)
    assert fit.identifiable, fit.reason
    assert fit.ci95[0] <= 0.4 <= fit.ci95[1] and abs(fit.purity - 0.4) <= 0.05


def test_one_amplified_allele_over_a_flat_genome_does_not_fix_the_purity():
    # With one allele amplified, BAF = 1 / (2r) whatever the purity: no information.
    for purity in (0.2, 0.5, 0.9):
        states = np.array([[7, 1]])
        r = copy_ratio(8, purity, 2.0)
        assert expected_baf(purity, states)[0] == pytest.approx(1 / (2 * r))
    sizes = [50_000_000, 1_000_000, 50_000_000]  # a focal amplicon between flat arms
    segments, snps = draw(0.3, [(1, 1), (7, 1), (1, 1)], seed=3, sizes=sizes)
    fit = fit_purity(segments, snps)
    assert not fit.identifiable
    assert "equally well" in fit.reason
    assert fit.ci95[0] <= 0.05 and fit.ci95[1] >= 0.9


def test_depth_alone_can_be_fitted():
    segments, _ = draw(0.6, EVENTS, seed=4)
    empty = pd.DataFrame(columns=["segment", *SNP_LIKELIHOOD_COLUMNS])
    fit = fit_purity(segments, empty)
    assert fit.ci95[0] <= 0.6 <= fit.ci95[1]


def test_a_given_ploidy_is_held():
    segments, snps = draw(0.6, EVENTS, seed=5)
    assert fit_purity(segments, snps, ploidy=2.4).ploidy == 2.4


def test_states_are_every_allele_pair_up_to_the_maximum():
    assert (STATES[:, 0] >= STATES[:, 1]).all()
    assert {tuple(s) for s in STATES} >= {(1, 0), (1, 1), (2, 0), (4, 4), (8, 0)}
    assert (0, 0) not in {tuple(s) for s in STATES}  # 3 Mb+ homozygous deletions: no


def fitted(purity, identifiable=True):
    segments, snps = draw(purity, EVENTS, seed=6)
    fit = fit_purity(segments, snps)
    assert fit.identifiable == identifiable
    return fit.summary()


def test_a_given_purity_is_kept_and_checked_against_the_data():
    fit = fitted(0.6)
    given = Sample.given("s", "tumor", 0.2, None)
    purity, ploidy, warnings = chosen_purity(given.purity, given.ploidy, fit)
    assert (purity.value, purity.source, purity.ci95) == (0.2, "given", None)
    assert purity.fit == fit and ploidy == given.ploidy
    assert len(warnings) == 1 and "outside the data's estimate" in warnings[0]
    agreeing = Sample.given("s", "tumor", fit.value, None)
    assert chosen_purity(agreeing.purity, agreeing.ploidy, fit)[2] == []


def test_a_given_purity_above_what_the_data_allow_is_warned_about():
    segments, snps = draw(0.4, [(1, 1), (2, 1), (1, 1), (1, 1)], seed=0, n_snps=30)
    fit = fit_purity(segments, snps).summary()
    assert not fit.identifiable and fit.ci95[1] < 0.6
    too_high = Sample.given("s", "tumor", 0.8, None)
    warnings = chosen_purity(too_high.purity, too_high.ploidy, fit)[2]
    assert len(warnings) == 1 and "above the most the data allow" in warnings[0]
    possible = Sample.given("s", "tumor", 0.4, None)
    assert chosen_purity(possible.purity, possible.ploidy, fit)[2] == []


def test_an_estimate_is_used_when_none_is_given():
    fit = fitted(0.6)
    none = Sample.given("s", "tumor", None, None)
    purity, ploidy, _ = chosen_purity(none.purity, none.ploidy, fit)
    assert purity.source == "estimated" and purity.value == fit.value
    assert purity.ci95 == fit.ci95
    assert ploidy == Ploidy(value=fit.ploidy, source="estimated", ci95=fit.ploidy_ci95)
    assert fit.ploidy_ci95[0] <= fit.ploidy <= fit.ploidy_ci95[1]
    given_ploidy = Sample.given("s", "tumor", None, 3.0).ploidy
    assert chosen_purity(none.purity, given_ploidy, fit)[1] == given_ploidy


def test_no_estimate_says_why():
    segments, snps = draw(0.5, [(1, 1)] * 3, seed=7)
    fit = fit_purity(segments, snps).summary()
    none = Sample.given("s", "tumor", None, None).purity
    purity, _, _ = chosen_purity(none, Ploidy(value=2, source="default"), fit)
    assert purity == Purity(value=None, source="none", reason=purity.reason, fit=fit)
    assert purity.reason.startswith("no tumor fraction was given, and tumor fractions from 0.25%")
    assert "fit the data equally well" in purity.reason
    assert fit.value is None


def test_minor_allele_fraction_and_allele_copies():
    _, snps = draw(0.8, [(1, 0)], seed=8, n_snps=60)
    baf, (low, high) = minor_allele_fraction(snps)
    truth = expected_baf(0.8, np.array([[1, 0]]))[0]
    assert low <= truth <= high and abs(baf - truth) < 0.03
    assert minor_allele_fraction(snps.iloc[:0]) is None
    homozygous = snps.assign(ref_count=100, alt_count=0, pop_af=0.01)
    assert minor_allele_fraction(homozygous) is None
    assert allele_copies(expected_baf(0.5, np.array([[9, 1]]))[0], 10, 0.5) == pytest.approx((9, 1))
    assert allele_copies(0.5, 4, 0.7) == pytest.approx((2, 2))


def test_allelic_contrast_sees_one_amplified_allele_and_is_calibrated_without():
    """One-sided z that a region's minor-allele fraction lies below its background's: large
    for one allele amplified, about N(0, 1) above 0 when both share a state."""
    _, amplicon = draw(0.3, [(7, 1)], seed=20, n_snps=10)
    _, background = draw(0.3, [(1, 1)], seed=21, n_snps=60)
    assert allelic_contrast(amplicon, background) > 3
    assert allelic_contrast(background, amplicon) == 0  # the region is the balanced one
    assert allelic_contrast(amplicon.iloc[:0], background) is None
    null = []
    for seed in range(150):
        _, snps = draw(0.5, [(2, 1)], seed=100 + seed, n_snps=70)
        null.append(allelic_contrast(snps.iloc[:10], snps.iloc[10:]))
    assert 0.01 <= np.mean(np.array(null) >= 1.645) <= 0.11


def alleles(rows):
    columns = ["chrom", "pos", "ref", "alt", "pop_af", "ref_count", "alt_count", "other_count"]
    return pd.DataFrame(rows, columns=columns)


@pytest.mark.parametrize("concentration", [100.0, None])
def test_the_normals_measure_how_overdispersed_het_sites_are(concentration):
    """Beta-binomial het sites (alpha + beta = 100) give about 100; binomial ones (None) far
    more, less the noise of each site's bias known from the other normals only."""
    rng = np.random.default_rng(3)
    sites, normals, depth = 400, 8, 300
    het = rng.random((normals, sites)) < 0.5
    f = np.full((normals, sites), 0.5)
    if concentration is not None:
        f = rng.beta(concentration / 2, concentration / 2, (normals, sites))
    alt = np.where(het, rng.binomial(depth, f), rng.binomial(depth, 0.002, (normals, sites)))
    tables = [pd.DataFrame({"ref_count": depth - a, "alt_count": a}) for a in alt]
    measured = het_concentration(tables, np.ones(sites, bool))
    if concentration is not None:
        assert 0.6 * concentration <= measured <= 1.5 * concentration
    else:
        assert measured >= 1000
    assert het_concentration(tables[:1], np.arange(sites) < 150) is None  # < 100 het pairs


def test_one_balanced_site_says_little_against_a_loss_of_heterozygosity():
    """A balanced site inside an LOH piece (taken from across a breakpoint the SNPs could not
    place) costs at most log(1/STRAY_SITE) against the piece's minor-allele fraction of 0.1,
    not the hundreds its counts alone would; an imbalanced site still says much."""
    grid = np.array([0.1, 0.5])
    ll = snp_log_likelihood(grid, [500, 900], [500, 100], [0.4, 0.4], [0.5, 0.5], [2000, 2000])
    balanced, imbalanced = ll
    assert balanced[1] - balanced[0] <= np.log(1 / STRAY_SITE) + 0.1
    assert imbalanced[0] - imbalanced[1] > 50


def test_sites_beside_a_focal_segment_are_marked():
    segments = pd.DataFrame(
        {
            "chrom": ["chr7"] * 3,
            "start": [0, 116_000_000, 117_000_000],
            "end": [116_000_000, 117_000_000, 159_000_000],
        }
    )
    pos = [114_000_000, 115_500_000, 116_500_000, 117_900_000, 118_100_000]
    sites = pd.DataFrame({"chrom": ["chr7"] * 4 + ["chr8"], "pos": pos})
    assert beside_focal_segments(sites, segments).tolist() == [False, True, False, True, False]


def test_the_interval_ends_are_interpolated_between_grid_points():
    grid = PURITY_GRID
    ratio = 20 * (grid - 0.45) ** 2 / 0.01
    low, high = _interval(ratio, ratio <= LR_95)
    exact = 0.45 + np.sqrt(LR_95 * 0.01 / 20) * np.array([-1, 1])
    assert low == pytest.approx(exact[0], abs=0.002) and high == pytest.approx(exact[1], abs=0.002)
    assert grid[ratio <= LR_95].min() > low and grid[ratio <= LR_95].max() < high


@pytest.mark.parametrize(("second", "identifiable"), [(0.47, True), (0.9, False)])
def test_separate_ranges_are_one_interval_unless_a_factor_of_2_apart(second, identifiable):
    """The profile kinks where a segment's best state changes: two close optima are one
    interval spanning both; p and 2p are the gains' trade of copies for tumor fraction."""
    inside = np.isclose(PURITY_GRID, 0.4) | np.isclose(PURITY_GRID, second)
    top = np.isclose(PURITY_GRID, 0.4)
    assert _identifiable(inside, top, (0.4, second), gains_only=False, pinning=0)[0] is identifiable


def test_sites_carry_the_normals_bias_and_why_they_are_not_used():
    sample = alleles(
        [
            ("chr7", 100, "A", "G", 0.4, 50, 40, 0),
            ("chr7", 200, "C", "T", np.nan, 50, 45, 1),
            ("chr7", 300, "G", "A", 0.3, 3, 2, 0),
            ("chr7", 400, "T", "C", 0.3, 40, 40, 0),
            ("chr8", 500, "T", "C", 0.3, 40, 40, 0),
        ]
    )
    pon = pd.DataFrame(
        {
            "chrom": ["chr7"] * 3 + ["chr8"],
            "pos": [100, 200, 300, 500],
            "ref": ["A", "C", "G", "T"],
            "alt": ["G", "T", "A", "C"],
            "pop_af": [0.4, np.nan, 0.3, 0.3],
            "normals_covered": [5, 5, 5, 5],
            "het_normals": [3, 1, 2, 2],
            "het_alt_fraction": [0.45, 0.6, 0.5, 0.3],
            "artefact_normals": [0, 0, 0, 3],
            "usable": [True, True, True, False],
            "reason": ["", "", "", "never balanced"],
        }
    )
    sites = fit_sites(sample, pon)
    assert sites["used"].tolist() == [True, True, False, False, False]
    assert sites["reason"].tolist()[2:] == [
        "depth below 10",
        "not in the panel of normals",
        "never balanced",
    ]
    assert sites["het_alt_fraction"].tolist()[:2] == [0.45, pytest.approx(0.45)]  # site 2: 1 het
    assert sites["pop_af"].iloc[1] == 0.3  # no AF in the VCF: a common SNP's
    segments = pd.DataFrame({"chrom": ["chr7", "chr7"], "start": [0, 250], "end": [250, 1000]})
    assert site_bins(sites, segments).tolist() == [0, 0, 1, 1, -1]


# --- the bundled cases, called without a purity --------------------------------------
TRUTH = {row["sample"]: row for row in read_truth()}


def _result(folders, sample):
    return Result.from_json((folders[sample] / f"{sample}.metcnv.json").read_text(), sample)


@pytest.mark.parametrize("sample", sorted(TRUTH))
def test_bundled_purity_is_estimated_exactly_where_the_data_identify_it(estimated_results, sample):
    truth = TRUTH[sample]
    result = _result(estimated_results, sample)
    purity = result.purity
    if truth["purity_identifiable"] == "true":
        assert purity.source == "estimated", purity.reason
        low, high = purity.ci95
        assert low <= float(truth["purity"]) <= high
        assert abs(purity.value - float(truth["purity"])) <= 0.06
        assert result.ploidy.source == "estimated"
        assert "estimated from the reads" in result.verdict
    else:
        assert purity.source == "none" and purity.value is None
        assert purity.reason.startswith("no tumor fraction was given, and ")
        assert purity.fit is not None and not purity.fit.identifiable


def test_the_bundled_blood_sample_is_called_without_a_purity(estimated_results):
    """The typical case: plasma at 10% with no known tumor fraction, MET at 30 copies."""
    met = _result(estimated_results, "blood_lowpurity").met
    assert met.status is Status.HIGH_LEVEL_FOCAL_AMPLIFICATION
    assert met.over_10_copies is True
    low, high = met.tumor_copy_number_ci95
    assert low > 10 and low <= float(TRUTH["blood_lowpurity"]["met_tumor_cn"]) <= high


def test_without_snps_the_panel_of_normals_lends_its_sites(
    estimated_results, example_pon, tmp_path
):
    """The issue's one command, `metcnv run sample.bam --pon panel.pon --out results/` with
    no --snps: the normals' sites are counted, so the blood sample gets the same alleles,
    purity and MET call as with the sites VCF, and its coverage says where the sites came
    from."""
    from metcnv.cli import main

    bam = DATA / "blood_lowpurity.bam"
    argv = ["run", str(bam), "--pon", str(example_pon), "--out", str(tmp_path / "results")]
    assert main([*argv, "--sample-type", "blood"]) == 0
    lent = Result.from_json((tmp_path / "results/blood_lowpurity.metcnv.json").read_text(), "")
    vcf = _result(estimated_results, "blood_lowpurity")
    assert lent.purity.source == "estimated"
    assert (lent.purity.value, lent.purity.ci95) == (vcf.purity.value, vcf.purity.ci95)
    assert lent.met.tumor_copy_number == vcf.met.tumor_copy_number
    assert lent.met.status is vcf.met.status is Status.HIGH_LEVEL_FOCAL_AMPLIFICATION

    def text(path):
        with gzip.open(path, "rt") as handle:
            return handle.read()

    results = tmp_path / "results"
    vcf_folder = estimated_results["blood_lowpurity"]
    name = "blood_lowpurity.alleles.tsv.gz"
    assert text(results / name) == text(vcf_folder / name)
    coverage = text(results / "blood_lowpurity.coverage.tsv.gz")
    assert "#snps_source\tsnps.vcf.gz (the panel of normals' sites)\n" in coverage


def test_the_purity_interval_widens_the_tumor_copy_number_interval(
    estimated_results, example_results
):
    estimated = _result(estimated_results, "effusion_focal").met
    given = _result(example_results, "effusion_focal").met
    width = [m.tumor_copy_number_ci95[1] - m.tumor_copy_number_ci95[0] for m in (estimated, given)]
    assert width[0] > width[1]


@pytest.mark.parametrize("sample", ["tumor_focal", "effusion_focal", "blood_lowpurity"])
def test_met_is_amplified_on_one_allele(estimated_results, sample):
    """MET's minor allele keeps its one copy: the focal amplicon is of one allele."""
    met = _result(estimated_results, sample).met
    assert met.baf_snps >= 1 and met.baf < 0.3
    assert abs(met.minor_cn - float(TRUTH[sample]["met_minor_cn"])) <= 0.6
    assert met.major_cn > 8
    assert met.focal_allelic_z >= 3  # the alleles alone would say so


def test_a_polysomy_is_balanced(estimated_results):
    met = _result(estimated_results, "tumor_polysomy").met
    assert met.status is Status.CHR7_GAIN
    assert met.baf == pytest.approx(0.5, abs=0.03)
    assert met.major_cn == pytest.approx(met.minor_cn, abs=0.5)


def test_given_purities_are_kept_and_checked(example_results):
    for sample, truth in TRUTH.items():
        result = _result(example_results, sample)
        assert result.purity.value == float(truth["purity"])
        assert result.purity.source == "given" and result.purity.fit is not None
        assert not [w for w in result.warnings if "outside the data's estimate" in w], sample


def test_snp_table_lists_every_site_with_why_it_was_not_used(estimated_results):
    table = pd.read_csv(estimated_results["tumor_focal"] / "tumor_focal.snps.tsv.gz", sep="\t")
    assert len(table) > 200 and table["used"].sum() > 100
    assert (table.loc[table["used"] == 0, "reason"].fillna("") != "").all()
    used = table[table["used"] == 1]
    assert (used["segment"] >= 0).all() and (used["depth"] >= 10).all()


@pytest.mark.parametrize(
    ("states", "blip_log2", "blip_se", "fitted"),
    [
        ([(2, 1), (2, 1), (2, 1), (1, 1)], -0.6, 0.36, 2),  # a noisy blip: the arm is one
        ([(2, 1), (2, 1), (2, 1), (1, 1)], 1.5, 0.07, 3),  # an amplicon: an event between
        ([(2, 0), (1, 1), (1, 1), (1, 1)], -0.1, 0.36, 3),  # LOH beside balanced alleles
    ],
)
def test_arms_cut_by_a_short_segment_are_fitted_whole_unless_they_differ(
    states, blip_log2, blip_se, fitted
):
    """A short segment between two broad ones joins them for the fit when it does not
    stand out from them and their depth and alleles agree."""
    segments, snps = draw(0.6, states, seed=5, sizes=[10_000_000, 300_000, 25_000_000, 60_000_000])
    segments.loc[1, ["log2", "se"]] = [segments.loc[0, "log2"] + blip_log2, blip_se]
    joined, renumber, free_ll = _broad_segments(segments, snps)
    assert len(free_ll) == fitted  # one row of allele log-likelihoods per fitted segment
    assert len(joined) == fitted
    assert renumber[1] == -1  # the blip and its SNPs are not fitted
    assert renumber[[0, 2, 3]].tolist() == ([0, 0, 1] if fitted == 2 else [0, 1, 2])
