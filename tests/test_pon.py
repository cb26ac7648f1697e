import numpy as np
import pytest
from synthetic import GC, sample

from metcnv.errors import MetcnvError
from metcnv.pon import PanelOfNormals, build_pon


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
