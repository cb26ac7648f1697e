import numpy as np
import pandas as pd
import pytest
from synthetic import BINS, GC, sample

from metcnv import params
from metcnv.errors import MetcnvError
from metcnv.pon import PanelOfNormals, build_pon, flat_pon, held_out_folds


def normals(n):
    return [sample(f"n{i}", i) for i in range(n)]


def test_round_trip_keeps_everything(tmp_path):
    pon = build_pon(normals(6), GC, {"min_mapq": 20})
    pon.save(tmp_path / "p.pon")
    back = PanelOfNormals.load(tmp_path / "p.pon")
    assert back.normals == pon.normals and back.build == "hg38"
    assert back.bins_md5 == pon.bins_md5 and back.settings == {"min_mapq": 20}
    np.testing.assert_array_equal(back.centre, pon.centre)
    assert len(back.components) == 6  # min(20, 6 // 2) eigensamples per bin kind
    assert back.loo_residuals.shape == (6, len(GC))


def test_few_normals_warn_and_skip_denoising():
    pon = build_pon(normals(2), GC, {})
    assert any("only 2 normals" in w for w in pon.warnings) and not len(pon.components)
    with pytest.raises(MetcnvError, match="at least 2 normals, got 1"):
        build_pon(normals(1), GC, {})


def test_refuses_mixed_builds_bins_and_repeated_names():
    mixed = normals(3)
    mixed[1].build = "hg19"
    with pytest.raises(MetcnvError, match="aligned to hg19 but"):
        build_pon(mixed, GC, {})
    other_bins = normals(3)
    other_bins[2].bins = other_bins[2].bins.assign(end=other_bins[2].bins["end"] + 1)
    with pytest.raises(MetcnvError, match="counted on other bins"):
        build_pon(other_bins, GC, {})
    with pytest.raises(MetcnvError, match="names repeat: n0"):
        build_pon([sample("n0", 0), sample("n0", 1)], GC, {})


def test_check_sample_refuses_other_build_or_panel():
    pon = build_pon(normals(3), GC, {})
    tumor = sample("t", 50)
    pon.check_sample(tumor, "t.bam")
    tumor.build = "hg19"
    with pytest.raises(
        MetcnvError, match="t.bam: aligned to hg19 but the panel of normals is hg38"
    ):
        pon.check_sample(tumor, "t.bam")
    other = sample("u", 51)
    other.bins = other.bins.iloc[:-1]
    with pytest.raises(MetcnvError, match="u.bam: bins differ"):
        pon.check_sample(other, "u.bam")


def test_damaged_or_foreign_files(tmp_path):
    junk = tmp_path / "junk.pon"
    junk.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(MetcnvError, match="junk.pon: not a metcnv panel of normals"):
        PanelOfNormals.load(junk)
    with pytest.raises(MetcnvError, match="absent.pon: no such file"):
        PanelOfNormals.load(tmp_path / "absent.pon")


def test_noisy_bins_are_masked():
    group = normals(6)
    for i, normal in enumerate(group):
        counts = normal.bins["count"].to_numpy().copy()
        counts[5] = 10 if i % 2 else 5000  # a bin that captures erratically
        normal.bins = normal.bins.assign(count=counts)
    pon = build_pon(group, GC, {})
    assert not pon.used[5] and pon.used.sum() > 0.95 * len(GC)


def test_a_panel_without_bins_off_chr7_says_a_chr7_gain_cannot_be_seen():
    """The zero line then includes chr7; the PoN keeps the warning and every call shows it."""
    from dataclasses import replace

    from metcnv.call import call_sample
    from metcnv.model import CallSettings, Sample

    def chr7_only(coverage):
        return replace(coverage, bins=coverage.bins[coverage.bins["chrom"] == "chr7"])

    keep = (sample("x", 0).bins["chrom"] == "chr7").to_numpy()
    pon = build_pon([chr7_only(n) for n in normals(6)], GC[keep], {"min_mapq": 20})
    unseen = [w for w in pon.warnings if "a chr7-wide gain cannot be detected" in w]
    assert len(unseen) == 2  # target and off-target bins
    given = Sample.given("t", "tumor", 0.5, None)
    called = call_sample(chr7_only(sample("t", 9)), pon, given.purity, given.ploidy, CallSettings())
    assert all(w in called.warnings for w in unseen)


# --- SNP statistics of the normals -------------------------------------------------------------
SNP_SITES = pd.DataFrame(
    {
        "chrom": ["chr7"] * 4,
        "pos": [1_000_001, 1_000_101, 1_000_201, 1_000_301],
        "ref": ["C", "G", "A", "T"],
        "alt": ["T", "A", "G", "C"],
        "pop_af": [0.4, 0.3, np.nan, 0.5],
    }
)
# alt and ref reads per normal at each site: balanced, biased, artefact, shallow
ALT_REF = [
    [(50, 50), (30, 70), (10, 90), (5, 5)],
    [(0, 100), (29, 71), (11, 89), (5, 4)],
    [(48, 52), (31, 69), (9, 91), (5, 5)],
    [(100, 0), (0, 100), (0, 100), (10, 9)],
    [(0, 100), (100, 0), (0, 100), (25, 0)],
    [(52, 48), (30, 70), (50, 50), (0, 0)],
]


def with_alleles(normal, counts, md5="a" * 32):
    normal.alleles = SNP_SITES.assign(
        ref_count=[r for _, r in counts], alt_count=[a for a, _ in counts], other_count=0
    )
    normal.meta |= {"snps_source": "/data/sites.vcf.gz", "snps_md5": md5}
    return normal


def snp_normals():
    return [with_alleles(n, counts) for n, counts in zip(normals(6), ALT_REF, strict=True)]


def test_pon_keeps_snp_statistics_and_flags_biased_and_artefact_sites(tmp_path):
    pon = build_pon(snp_normals(), GC, {"min_mapq": 20})
    expected = SNP_SITES.assign(
        normals_covered=[6, 6, 6, 1],
        het_normals=[3, 4, 1, 0],
        het_alt_fraction=[0.5, 0.3, 0.5, np.nan],
        artefact_normals=[0, 0, 3, 0],
        usable=[True, False, False, False],
        reason=[
            "",
            "biased in normals: mean het alt fraction 0.30",
            "never balanced: 3 of 6 covered normals are neither hom nor het",
            "rarely covered: 1 of 6 normals have >= 20 reads",
        ],
    )
    pd.testing.assert_frame_equal(pon.snps, expected, check_dtype=False)
    assert pon.settings["snps"] == "sites.vcf.gz" and pon.settings["snps_md5"] == "a" * 32
    pon.save(tmp_path / "p.pon")
    pd.testing.assert_frame_equal(PanelOfNormals.load(tmp_path / "p.pon").snps, pon.snps)


def test_pon_refuses_normals_with_and_without_alleles_or_from_other_vcfs():
    mixed = snp_normals()
    mixed[2].alleles = None
    with pytest.raises(MetcnvError, match="no allele counts, but .* has them; count all normals"):
        build_pon(mixed, GC, {})
    other = snp_normals()
    other[4].meta["snps_md5"] = "b" * 32
    with pytest.raises(MetcnvError, match="at another sites VCF than"):
        build_pon(other, GC, {})


def test_pon_without_snps_and_flat_pon_have_none(tmp_path):
    """A PoN of normals without allele counts (like every PoN made before they existed:
    no snps_* members) loads with snps None; a flat reference has none either."""
    pon = build_pon(normals(3), GC, {})
    pon.save(tmp_path / "old.pon")
    with np.load(tmp_path / "old.pon") as archive:
        assert not [name for name in archive.files if name.startswith("snps_")]
    assert pon.snps is None and PanelOfNormals.load(tmp_path / "old.pon").snps is None
    flat = flat_pon(BINS, GC, "hg38", {})
    flat.save(tmp_path / "flat.pon")
    assert PanelOfNormals.load(tmp_path / "flat.pon").snps is None


def test_held_out_folds_stop_growing_with_the_normals():
    """Leave-one-out up to LOO_MAX_NORMALS normals; beyond, that many folds, each normal in
    exactly one (so building a panel stays linear in the normals)."""
    assert [list(f) for f in held_out_folds(3)] == [[0], [1], [2]]
    folds = held_out_folds(3 * params.LOO_MAX_NORMALS + 1)
    assert len(folds) == params.LOO_MAX_NORMALS
    assert sorted(np.concatenate(folds)) == list(range(3 * params.LOO_MAX_NORMALS + 1))
