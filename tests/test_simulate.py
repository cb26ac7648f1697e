"""The read simulator: seeded, panel-wide capture efficiency, copy-number scaling, read fields,
SNP sites and allele-specific read bases."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib

import numpy as np
import pandas as pd
import pysam
import pytest
from metcnv_sim import simulate_sample
from metcnv_sim.alleles import major_haplotype, read_sequences, segment_alleles
from metcnv_sim.bam import reg2bin, write_bam
from metcnv_sim.fragments import (
    SampleSpec,
    _gc_at,
    depth_per_amplicon,
    draw_fragments,
    expected_fragments,
)
from metcnv_sim.panel import GeneTargets, make_panel
from metcnv_sim.reference import make_reference, write_fasta
from metcnv_sim.snps import draw_genotypes, draw_snp_sites, write_vcf

from metcnv.bins import make_bins
from metcnv.coverage import count_bins
from metcnv.files import md5sum
from metcnv.genome import GENES, LENGTHS

CONTIGS = {"chr7": LENGTHS["hg38"]["chr7"]}
MET = GENES["hg38"]["MET"]
AMPLICON = ("chr7", 116_000_000, 117_500_000, 20.0)
SNP_PROBES = {"chr7": 1_000_000}


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """MET's 21 targets and a sparse chr7 backbone."""
    genes = [GeneTargets("MET", "chr7", MET.start, MET.end, 21)]
    return make_panel(genes, {"chr7": 20_000_000}, CONTIGS, seed=3)


@pytest.fixture(scope="module")
def reference(panel):
    return make_reference(CONTIGS, panel, seed=4, island_spacing=1_000_000)


@pytest.fixture(scope="module")
def snp_world(tmp_path_factory):
    """A chr7 panel with a SNP backbone, its reference FASTA and SNP sites (and their VCF)."""
    out = tmp_path_factory.mktemp("snps")
    genes = [GeneTargets("MET", "chr7", MET.start, MET.end, 21)]
    panel = make_panel(genes, {"chr7": 20_000_000}, CONTIGS, seed=3, snp_backbone=SNP_PROBES)
    reference = make_reference(CONTIGS, panel, seed=4, island_spacing=1_000_000)
    write_fasta(reference, out / "ref.fa.gz", seed=5)
    sites = draw_snp_sites(reference, panel, out / "ref.fa.gz", seed=6)
    write_vcf(sites, CONTIGS, out / "snps.vcf.gz")
    return panel, reference, sites, out


def allele_counts(path, sites: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, int, int]:
    """REF and ALT fragments at each site (each fragment once; duplicates and MAPQ < 20
    skipped), and how many fragments had both mates on a site and how many of those agreed."""
    ref, alt = np.zeros(len(sites), int), np.zeros(len(sites), int)
    both = agree = 0
    with pysam.AlignmentFile(str(path)) as bam:
        for i, site in enumerate(sites.itertuples()):
            seen: dict[str, list[str]] = {}
            for column in bam.pileup(
                site.chrom,
                site.pos,
                site.pos + 1,
                truncate=True,
                stepper="nofilter",
                ignore_overlaps=False,
                min_base_quality=0,
                max_depth=1_000_000,
            ):
                for read in column.pileups:
                    record = read.alignment
                    if record.is_duplicate or record.mapping_quality < 20:
                        continue
                    base = record.query_sequence[read.query_position]
                    seen.setdefault(record.query_name, []).append(base)
            for bases in seen.values():
                if len(bases) == 2:
                    both += 1
                    agree += bases[0] == bases[1]
                ref[i] += bases[0] == site.ref
                alt[i] += bases[0] == site.alt
    return ref, alt, both, agree


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


def test_per_sample_log2_multipliers_scale_expected_counts(panel, reference):
    flat = {"gc_bias": (0.0, 0.0), "dispersion": 0.0, "target_depth": 400.0}
    plain = SampleSpec("n", seed=1, **flat)
    n_islands = int((reference.windows["kind"] == "island").sum())
    steps = np.linspace(-1, 1, len(panel))
    noisy = dataclasses.replace(plain, target_log2=steps, island_log2=np.full(n_islands, -1.0))
    assert repr(noisy) == repr(plain)  # fingerprints of specs without them are unchanged
    mu, island = expected_fragments(reference, panel, plain)
    noisy_mu, noisy_island = expected_fragments(reference, panel, noisy)
    np.testing.assert_allclose(noisy_mu / mu, 2.0**steps)
    np.testing.assert_allclose(noisy_island / island, 0.5)
    with pytest.raises(ValueError, match="multipliers"):
        expected_fragments(reference, panel, dataclasses.replace(plain, target_log2=steps[1:]))


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


def test_snp_sites_are_a_sorted_vcf_matching_the_fasta(snp_world):
    panel, reference, sites, out = snp_world
    with pysam.VariantFile(str(out / "snps.vcf.gz")) as vcf:
        assert vcf.header.version == "VCFv4.2"
        assert vcf.header.contigs["chr7"].length == CONTIGS["chr7"]
        info = vcf.header.info["AF"]
        assert (info.number, info.type) == ("A", "Float")
        records = list(vcf)
        assert len(list(vcf.fetch("chr7", MET.start, MET.end))) > 0  # tabix-indexed
    assert [r.id for r in records] == [f"sim{i}" for i in range(1, len(records) + 1)]
    positions = [r.pos for r in records]
    assert positions == sorted(set(positions))
    with pysam.FastaFile(str(out / "ref.fa.gz")) as fasta:
        assert all(r.ref == fasta.fetch(r.chrom, r.start, r.stop) for r in records)
    assert all(r.ref in "ACGT" and r.alts[0] in "ACGT" and r.alts[0] != r.ref for r in records)
    af = np.array([r.info["AF"][0] for r in records])
    assert af.min() >= 0.05 and af.max() <= 0.5
    # Every SNP probe sits on a common SNP; about 1 SNP per kb of target windows, few off.
    probes = panel[panel["gene"] == "chr7_snps"]
    assert len(probes) > 100
    centres = set((probes["start"] + probes["end"]) // 2)
    assert centres <= set(sites["pos"])
    assert (sites.loc[sites["pos"].isin(centres), "af"] >= 0.3).all()
    windows = reference.windows
    kb = (windows["end"] - windows["start"]).groupby(windows["kind"]).sum() / 1_000
    mid = np.searchsorted(windows["start"], sites["pos"], side="right") - 1
    kind = windows["kind"].to_numpy()[mid]
    other = ~sites["pos"].isin(centres).to_numpy()
    assert (kind[other] == "target").sum() / kb["target"] == pytest.approx(1.0, rel=0.15)
    assert (kind[other] == "island").sum() / kb["island"] < 0.2


def test_snp_backbone_adds_targets_and_keeps_the_others(snp_world):
    panel = snp_world[0]
    genes = [GeneTargets("MET", "chr7", MET.start, MET.end, 21)]
    plain = make_panel(genes, {"chr7": 20_000_000}, CONTIGS, seed=3)
    kept = panel[panel["gene"] != "chr7_snps"].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, plain)
    probes = panel[panel["gene"] == "chr7_snps"]
    assert probes["end"].max() - probes["start"].min() > 5_000_000  # metcnv: a backbone


def test_segment_alleles_default_minor():
    assert segment_alleles(("chr7", 0, 10, 1.0))[-1] == 0
    assert segment_alleles(("chr7", 0, 10, 0.0))[-1] == 0
    assert segment_alleles(("chr7", 0, 10, 8.0))[-1] == 1
    assert segment_alleles(("chr7", 0, 10, 4.0, 2.0))[-1] == 2
    with pytest.raises(ValueError, match="minor"):
        segment_alleles(("chr7", 0, 10, 4.0, 3.0))


def test_genotypes_are_reproducible_by_seed(snp_world):
    sites = snp_world[2]
    first, again, other = (draw_genotypes(sites, seed) for seed in (7, 7, 8))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    het = first[:, 0] != first[:, 1]
    expected = 2 * sites["af"] * (1 - sites["af"])
    assert het.mean() == pytest.approx(expected.mean(), abs=4 * np.sqrt(0.25 / len(sites)))


def test_alt_fraction_follows_allele_specific_copy_number(tmp_path, snp_world):
    panel, reference, sites, out = snp_world
    flat = {
        "gc_bias": (0.0, 0.0),
        "dispersion": 0.0,
        "target_depth": 300.0,
        "read_length": 100,
        "fragment_mean": 167.0,  # mostly shorter than 2 reads: mates overlap
        "fragment_sd": 20.0,
        "germline_seed": 7,
    }
    normal = SampleSpec("n", seed=21, **flat)
    loh, gain = ("chr7", 0, 60_000_000, 1.0), ("chr7", 60_000_000, 110_000_000, 3.0, 0.0)
    tumor = SampleSpec("t", seed=22, purity=0.9, segments=(loh, gain), **flat)
    genotypes = draw_genotypes(sites, 7)
    het = genotypes[:, 0] != genotypes[:, 1]
    for spec in (normal, tumor):
        simulate_sample(
            reference,
            panel,
            spec,
            tmp_path / f"{spec.name}.bam",
            snps=sites,
            fasta=out / "ref.fa.gz",
        )
    # Reads sit where they would without bases: coverage does not change.
    plain = dataclasses.replace(normal, germline_seed=None)
    simulate_sample(reference, panel, plain, tmp_path / "plain.bam")
    with (
        pysam.AlignmentFile(str(tmp_path / "n.bam")) as a,
        pysam.AlignmentFile(str(tmp_path / "plain.bam")) as b,
    ):
        assert [(r.reference_start, r.flag, r.template_length) for r in a] == [
            (r.reference_start, r.flag, r.template_length) for r in b
        ]

    def check(ref, alt, expected, pick):
        n = ref[pick].sum() + alt[pick].sum()
        assert n > 2_000
        sd = np.sqrt(expected * (1 - expected) / n)
        assert alt[pick].sum() / n == pytest.approx(expected, abs=4 * sd + 0.003)

    ref, alt, both, agree = allele_counts(tmp_path / "n.bam", sites)
    check(ref, alt, 0.5, het)
    assert both > 1_000 and agree / both > 0.99  # overlapping mates show the same allele
    ref, alt, _, _ = allele_counts(tmp_path / "t.bam", sites)
    p, pos = tumor.purity, sites["pos"].to_numpy()
    major = major_haplotype(7, "chr7")
    alt_on_major = genotypes[:, major]
    for start, end, total, minor in ((0, 60e6, 1, 0), (60e6, 110e6, 3, 0)):
        inside = het & (pos >= start) & (pos < end)
        for on_major, copies in ((True, total - minor), (False, minor)):
            expected = (p * copies + 1 - p) / (p * total + 2 * (1 - p))
            check(ref, alt, expected, inside & (alt_on_major == on_major))
    check(ref, alt, 0.5, het & (pos >= 110e6))


def test_numpy_writer_writes_the_pysam_bytes_with_sequences(tmp_path, snp_world, monkeypatch):
    panel, reference, sites, out = snp_world
    # Odd read length and fragments often shorter than a read: every packing edge case.
    spec = SampleSpec(
        "s", seed=13, target_depth=40, read_length=101, fragment_mean=110.0, germline_seed=3
    )
    fragments = draw_fragments(reference, panel, spec)
    sequences = read_sequences(fragments, reference, spec, sites, out / "ref.fa.gz")
    write_bam(fragments, CONTIGS, "s", 101, tmp_path / "pysam.bam", sequences=sequences)
    monkeypatch.setattr("metcnv_sim.bam.RECORD_CHUNK", 999)
    write_bam(
        fragments, CONTIGS, "s", 101, tmp_path / "numpy.bam", writer="numpy", sequences=sequences
    )
    assert md5sum(tmp_path / "pysam.bam") == md5sum(tmp_path / "numpy.bam")
    assert md5sum(tmp_path / "pysam.bam.bai") == md5sum(tmp_path / "numpy.bam.bai")
    with pysam.AlignmentFile(str(tmp_path / "numpy.bam")) as bam:
        reads = list(bam)
    assert len(reads) > 3 * (999 // 8)  # with SEQ the numpy writer encodes chunks of 999 // 8
    spans = {r.query_length for r in reads}
    assert 101 in spans and any(n % 2 for n in spans if n < 101)
    assert all(len(r.query_sequence) == r.reference_length for r in reads)
    assert all(set(r.query_qualities) == {30} for r in reads)


def test_no_germline_seed_keeps_the_old_bytes(tmp_path, panel, reference):
    # The BAM stream (uncompressed, so independent of zlib) of the simulator before SNPs.
    simulate_sample(reference, panel, SampleSpec("s", seed=1, target_depth=50), tmp_path / "a.bam")
    stream = gzip.decompress((tmp_path / "a.bam").read_bytes())
    assert hashlib.md5(stream).hexdigest() == "0db57e17e7b22d578b313c203ba65278"
    with pytest.raises(ValueError, match="germline_seed needs snps"):
        simulate_sample(
            reference, panel, SampleSpec("s", seed=1, germline_seed=1), tmp_path / "b.bam"
        )
