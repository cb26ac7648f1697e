"""The read simulator: seeded, panel-wide capture efficiency, copy-number scaling, read fields."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pysam
import pytest
from metcnv_sim import simulate_sample
from metcnv_sim.bam import reg2bin, write_bam
from metcnv_sim.fragments import (
    SampleSpec,
    _gc_at,
    depth_per_amplicon,
    draw_fragments,
    expected_fragments,
)
from metcnv_sim.panel import GeneTargets, make_panel
from metcnv_sim.reference import make_reference

from metcnv.bins import make_bins
from metcnv.coverage import count_bins
from metcnv.files import md5sum
from metcnv.genome import GENES, LENGTHS

CONTIGS = {"chr7": LENGTHS["hg38"]["chr7"]}
MET = GENES["hg38"]["MET"]
AMPLICON = ("chr7", 116_000_000, 117_500_000, 20.0)


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """MET's 21 targets and a sparse chr7 backbone."""
    genes = [GeneTargets("MET", "chr7", MET.start, MET.end, 21)]
    return make_panel(genes, {"chr7": 20_000_000}, CONTIGS, seed=3)


@pytest.fixture(scope="module")
def reference(panel):
    return make_reference(CONTIGS, panel, seed=4, island_spacing=1_000_000)


def target_counts(fragments: pd.DataFrame, panel: pd.DataFrame) -> np.ndarray:
    """Passing fragments whose midpoint lies in each target."""
    keep = fragments[~fragments["duplicate"] & (fragments["mapq"] > 0)]
    mids = (keep["start"] + keep["length"] // 2).to_numpy()
    starts, ends = panel["start"].to_numpy(), panel["end"].to_numpy()
    index = np.searchsorted(starts, mids, side="right") - 1
    inside = (index >= 0) & (mids < ends[np.maximum(index, 0)])
    return np.bincount(index[inside], minlength=len(panel))


def test_same_seed_writes_same_bytes(tmp_path, panel, reference):
    spec = SampleSpec("s", seed=1, target_depth=50)
    for name in ("a", "b"):
        simulate_sample(reference, panel, spec, tmp_path / f"{name}.bam")
    other = SampleSpec("s", seed=2, target_depth=50)
    simulate_sample(reference, panel, other, tmp_path / "c.bam")
    assert md5sum(tmp_path / "a.bam") == md5sum(tmp_path / "b.bam")
    assert md5sum(tmp_path / "a.bam.bai") == md5sum(tmp_path / "b.bam.bai")
    assert md5sum(tmp_path / "a.bam") != md5sum(tmp_path / "c.bam")


def test_capture_efficiency_is_shared_by_a_panel():
    genes = [GeneTargets("MET", "chr7", MET.start, MET.end, 21)]
    panel = make_panel(genes, {"chr7": 20_000_000}, CONTIGS, seed=3, size=(200, 200))
    again = make_panel(genes, {"chr7": 20_000_000}, CONTIGS, seed=3, size=(200, 200))
    other = make_panel(genes, {"chr7": 20_000_000}, CONTIGS, seed=5, size=(200, 200))
    assert np.array_equal(panel["efficiency"], again["efficiency"])
    assert not np.allclose(panel["efficiency"], other["efficiency"])
    assert 1.8 < panel["efficiency"].max() / panel["efficiency"].min() <= 2.5
    reference = make_reference(CONTIGS, panel, seed=4, island_spacing=1_000_000)
    flat = {"gc_bias": (0.0, 0.0), "dispersion": 0.0, "target_depth": 400.0}
    counts = np.array(
        [
            target_counts(
                draw_fragments(reference, panel, SampleSpec(f"s{i}", seed=i, **flat)), panel
            )
            for i in (1, 2)
        ]
    )
    # Equal-sized targets: counts follow the panel's efficiencies in every sample.
    for sample in np.log(counts):
        assert np.corrcoef(sample, np.log(panel["efficiency"]))[0, 1] > 0.95


def test_expected_and_drawn_counts_scale_with_purity_and_copy_number(panel, reference):
    flat = {"gc_bias": (0.0, 0.0), "dispersion": 0.0, "target_depth": 400.0}
    normal = SampleSpec("n", seed=1, **flat)
    tumor = SampleSpec("t", seed=2, purity=0.6, segments=(AMPLICON,), **flat)
    inside = ((panel["start"] >= AMPLICON[1]) & (panel["end"] <= AMPLICON[2])).to_numpy()
    n_mu, n_island = expected_fragments(reference, panel, normal)
    t_mu, t_island = expected_fragments(reference, panel, tumor)
    np.testing.assert_allclose(t_mu[inside] / n_mu[inside], 6.4)
    np.testing.assert_allclose(t_mu[~inside] / n_mu[~inside], 1.0)
    islands = reference.windows[reference.windows["kind"] == "island"]
    mids = (islands["start"] + islands["end"]).to_numpy() // 2
    in_amplicon = (mids >= AMPLICON[1]) & (mids < AMPLICON[2])
    assert in_amplicon.any()
    np.testing.assert_allclose(t_island / n_island, np.where(in_amplicon, 6.4, 1.0))
    n_counts = target_counts(draw_fragments(reference, panel, normal), panel)
    t_counts = target_counts(draw_fragments(reference, panel, tumor), panel)
    assert t_counts[inside].sum() / n_counts[inside].sum() == pytest.approx(6.4, rel=0.05)
    assert t_counts[~inside].sum() / n_counts[~inside].sum() == pytest.approx(1.0, rel=0.1)


def test_reads_have_requested_lengths_flags_and_depth(tmp_path, panel, reference):
    spec = SampleSpec(
        "cfdna",
        seed=7,
        target_depth=300.0,
        read_length=100,
        fragment_mean=167.0,
        fragment_sd=20.0,
        gc_bias=(0.0, 0.0),
        dispersion=0.0,
        duplicate_fraction=0.1,
        mapq0_fraction=0.05,
    )
    path = tmp_path / "cfdna.bam"
    fragments = simulate_sample(reference, panel, spec, path)
    with pysam.AlignmentFile(str(path)) as bam:
        assert bam.header.to_dict()["HD"]["SO"] == "coordinate"
        assert bam.header.to_dict()["RG"][0]["SM"] == "cfdna"
        reads = list(bam)
    assert len(reads) == 2 * len(fragments)
    assert [(r.reference_id, r.reference_start) for r in reads] == sorted(
        (r.reference_id, r.reference_start) for r in reads
    )
    assert all(r.is_proper_pair and r.query_sequence is None for r in reads)
    assert np.mean([r.is_duplicate for r in reads]) == pytest.approx(0.1, abs=0.01)
    assert np.mean([r.mapping_quality == 0 for r in reads]) == pytest.approx(0.05, abs=0.01)
    lengths = np.array([r.template_length for r in reads if r.template_length > 0])
    assert lengths.mean() == pytest.approx(167, abs=2)
    assert lengths.std() == pytest.approx(20, abs=2)
    by_name = {}
    for read in reads:
        by_name.setdefault(read.query_name, []).append(read)
    for left, right in by_name.values():
        assert left.next_reference_start == right.reference_start
        assert right.next_reference_start == left.reference_start
        assert left.template_length == -right.template_length
        assert left.is_read1 != right.is_read1 and left.is_reverse != right.is_reverse

    coverage = count_bins(path, make_bins(panel, CONTIGS, offtarget=False))
    passing = (~fragments["duplicate"] & (fragments["mapq"] > 0)).sum()
    assert coverage.total_fragments == passing
    observed = coverage.bins["depth"].to_numpy() / panel["efficiency"].to_numpy()
    assert np.median(observed) == pytest.approx(300, rel=0.08)


def test_numpy_writer_writes_the_pysam_bytes(tmp_path, panel, reference, monkeypatch):
    spec = SampleSpec("s", seed=11, target_depth=60, read_length=100)
    fragments = draw_fragments(reference, panel, spec)
    write_bam(fragments, CONTIGS, "s", 100, tmp_path / "pysam.bam")
    # Small chunks: blocks must continue across the writer's encoding chunks, as in htslib.
    monkeypatch.setattr("metcnv_sim.bam.RECORD_CHUNK", 999)
    write_bam(fragments, CONTIGS, "s", 100, tmp_path / "numpy.bam", writer="numpy")
    assert len(fragments) > 3 * 999
    assert md5sum(tmp_path / "pysam.bam") == md5sum(tmp_path / "numpy.bam")
    assert md5sum(tmp_path / "pysam.bam.bai") == md5sum(tmp_path / "numpy.bam.bai")
    # A lower compression level changes the bytes, never the records.
    write_bam(fragments, CONTIGS, "s", 100, tmp_path / "fast.bam", writer="numpy", level=1)
    assert md5sum(tmp_path / "fast.bam") != md5sum(tmp_path / "numpy.bam")
    with (
        pysam.AlignmentFile(str(tmp_path / "pysam.bam")) as a,
        pysam.AlignmentFile(str(tmp_path / "fast.bam")) as b,
    ):
        assert [r.to_string() for r in a] == [r.to_string() for r in b]
    with pytest.raises(ValueError, match="writer='numpy'"):
        write_bam(fragments, CONTIGS, "s", 100, tmp_path / "x.bam", level=1)


def test_reg2bin_is_htslibs():
    # Bins of the UCSC binning scheme (SAM spec 5.3): level 5 (16 kb) down to level 0.
    starts = np.array([0, 16_383, 16_384, 0, 0, 0, 0, 100_000_000])
    ends = np.array([1, 16_384, 16_385, 16_385, 131_073, 1_048_577, 8_388_609, 100_000_150])
    assert reg2bin(starts, ends).tolist() == [4681, 4681, 4682, 585, 73, 9, 1, 4681 + 6103]


def test_amplicon_fragments_are_their_targets(tmp_path, panel, reference):
    spec = SampleSpec(
        "amp",
        seed=12,
        target_depth=300.0,
        read_length=150,
        offtarget_per_mb=0.0,
        amplicon=True,
        gc_bias=(0.0, 0.0),
        dispersion=0.0,
    )
    path = tmp_path / "amp.bam"
    fragments = simulate_sample(reference, panel, spec, path, writer="numpy")
    spans = set(zip(panel["start"], panel["end"] - panel["start"], strict=True))
    assert set(zip(fragments["start"], fragments["length"], strict=True)) == spans
    coverage = count_bins(path, make_bins(panel, CONTIGS, offtarget=False))
    observed = coverage.bins["depth"].to_numpy() / panel["efficiency"].to_numpy()
    assert np.median(observed) == pytest.approx(300, rel=0.08)
    length = 200
    assert depth_per_amplicon(length, spec) == pytest.approx(2 * 150 / 200)


def test_gc_per_target_splits_merged_windows():
    # 27 exons in 40 kb: their +-2 kb windows merge into one, which has a single GC.
    genes = [GeneTargets("ERBB2", "chr7", 39_688_093, 39_728_658, 27)]
    compact = make_panel(genes, {}, CONTIGS, seed=3)
    mids = ((compact["start"] + compact["end"]) // 2).to_numpy()
    chrom = compact["chrom"].to_numpy()
    shared = make_reference(CONTIGS, compact, seed=4, island_spacing=1_000_000)
    assert (shared.windows["kind"] == "target").sum() == 1
    assert len(set(_gc_at(shared, chrom, mids))) == 1
    own = make_reference(CONTIGS, compact, seed=4, island_spacing=1_000_000, gc_per_target=True)
    windows = own.windows[own.windows["kind"] == "target"]
    assert len(windows) == len(compact)
    assert len(set(_gc_at(own, chrom, mids))) == len(compact)
    # The pieces tile the merged window, and each holds its whole target.
    merged = shared.windows[shared.windows["kind"] == "target"].iloc[0]
    assert windows["start"].iloc[0] == merged["start"] and windows["end"].iloc[-1] == merged["end"]
    assert (windows["start"].to_numpy()[1:] == windows["end"].to_numpy()[:-1]).all()
    assert (windows["start"].to_numpy() <= compact["start"].to_numpy()).all()
    assert (compact["end"].to_numpy() <= windows["end"].to_numpy()).all()
