"""Somatic mutations in the read simulator: their allele fractions, their VCF, and that specs
without them simulate the same bytes as before."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib

import numpy as np
import pysam
import pytest
from metcnv_sim import simulate_sample
from metcnv_sim.alleles import on_kept_haplotype
from metcnv_sim.fragments import SampleSpec
from metcnv_sim.mutations import draw_mutations, reference_bases, write_somatic_vcf
from metcnv_sim.panel import GeneTargets, make_panel
from metcnv_sim.reference import make_reference, write_fasta
from metcnv_sim.snps import draw_snp_sites

from metcnv.files import md5sum
from metcnv.genome import GENES, LENGTHS

CONTIGS = {"chr7": LENGTHS["hg38"]["chr7"]}
MET = GENES["hg38"]["MET"]
DEEP = {
    "target_depth": 600.0,
    "read_length": 100,
    "fragment_mean": 167.0,  # mostly shorter than 2 reads: mates overlap
    "fragment_sd": 20.0,
    "offtarget_per_mb": 5.0,
    "germline_seed": 7,
}
GAIN = ("chr7", 0, CONTIGS["chr7"], 4.0, 1.0)  # 3 copies of the major haplotype, 1 of the other


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """MET's 21 targets on chr7, the reference FASTA, SNP sites and 8 drawn mutations."""
    out = tmp_path_factory.mktemp("mutations")
    panel = make_panel([GeneTargets("MET", "chr7", MET.start, MET.end, 21)], {}, CONTIGS, seed=3)
    reference = make_reference(CONTIGS, panel, seed=4, island_spacing=1_000_000)
    write_fasta(reference, out / "ref.fa.gz", seed=5)
    sites = draw_snp_sites(reference, panel, out / "ref.fa.gz", seed=6)
    mutations = draw_mutations(panel, sites, out / "ref.fa.gz", seed=8, ccfs=[1.0] * 8)
    return panel, reference, sites, mutations, out


def fragment_bases(path, mutations) -> list[list[str]]:
    """Per mutation, the base each fragment shows (duplicates and MAPQ < 20 skipped); both
    mates of a fragment must show the same one."""
    out = []
    with pysam.AlignmentFile(str(path)) as bam:
        for m in mutations:
            seen: dict[str, set[str]] = {}
            for read in bam.fetch(m.chrom, m.pos - 1, m.pos):
                if read.is_duplicate or read.mapping_quality < 20:
                    continue
                base = read.query_sequence[m.pos - 1 - read.reference_start]
                seen.setdefault(read.query_name, set()).add(base)
            assert all(len(bases) == 1 for bases in seen.values())
            out.append([bases.pop() for bases in seen.values()])
    return out


def simulate(world, spec: SampleSpec, path):
    panel, reference, sites, _, out = world
    return simulate_sample(reference, panel, spec, path, snps=sites, fasta=out / "ref.fa.gz")


def test_draw_mutations_sits_in_targets_off_snps_and_is_seeded(world):
    panel, _, sites, mutations, out = world
    fasta = out / "ref.fa.gz"
    assert draw_mutations(panel, sites, fasta, seed=8, ccfs=[1.0] * 8) == mutations
    assert draw_mutations(panel, sites, fasta, seed=9, ccfs=[1.0] * 8) != mutations
    starts, ends = panel["start"].to_numpy(), panel["end"].to_numpy()
    for m, ref in zip(mutations, reference_bases(mutations, fasta), strict=True):
        assert ((starts < m.pos) & (m.pos <= ends)).any()
        assert ref in "ACGT" and m.alt in "ACGT" and m.alt != ref
        assert (m.multiplicity, m.ccf) == (1, 1.0)
    snps = set(zip(sites["chrom"], sites["pos"], strict=True))
    assert not {(m.chrom, m.pos - 1) for m in mutations} & snps
    assert len({m.pos for m in mutations}) == len(mutations)


def test_allele_fraction_follows_purity_copies_multiplicity_and_ccf(tmp_path, world):
    drawn = world[3]
    # GAIN: 3 copies on the major haplotype, 1 on the other. (on_major, multiplicity, ccf,
    # mutated copies per tumor cell): multiplicity 2 on the 1-copy haplotype is that copy.
    kinds = [(True, 1, 1.0, 1), (True, 2, 1.0, 2), (False, 2, 1.0, 1), (False, 2, 0.5, 0.5)]
    mutations = tuple(
        m._replace(on_major=on_major, multiplicity=k, ccf=ccf)
        for m, (on_major, k, ccf, _) in zip(drawn, kinds * 2, strict=True)
    )
    p = 0.6
    exact = {"mutations": mutations, "error_rate": 0.0, **DEEP}  # mates agree: no errors
    tumor = SampleSpec("t", seed=22, purity=p, segments=(GAIN,), **exact)
    normal = SampleSpec("n", seed=21, **exact)
    simulate(world, tumor, tmp_path / "t.bam")
    simulate(world, normal, tmp_path / "n.bam")
    for m, bases, (*_, copies) in zip(
        mutations, fragment_bases(tmp_path / "t.bam", mutations), kinds * 2, strict=True
    ):
        expected = p * copies / (p * 4 + 2 * (1 - p))
        n = len(bases)
        assert n > 250
        sd = np.sqrt(expected * (1 - expected) / n)
        assert bases.count(m.alt) / n == pytest.approx(expected, abs=4 * sd + 0.005)
    normal_bases = fragment_bases(tmp_path / "n.bam", mutations)
    assert not any(m.alt in bases for m, bases in zip(mutations, normal_bases, strict=True))


def test_mutations_change_only_their_bases(tmp_path, world):
    mutations = world[3]
    plain = SampleSpec("t", seed=22, purity=0.6, segments=(GAIN,), **DEEP)
    simulate(world, plain, tmp_path / "plain.bam")
    simulate(world, dataclasses.replace(plain, mutations=mutations), tmp_path / "mut.bam")
    with (
        pysam.AlignmentFile(str(tmp_path / "plain.bam")) as a,
        pysam.AlignmentFile(str(tmp_path / "mut.bam")) as b,
    ):
        pairs = list(zip(a, b, strict=True))
    changed: dict[tuple[str, int], list[str]] = {}  # position: the bases reads now show
    for x, y in pairs:
        assert (x.query_name, x.reference_start, x.flag) == (
            y.query_name,
            y.reference_start,
            y.flag,
        )
        was, now = (np.frombuffer(r.query_sequence.encode(), np.uint8) for r in (x, y))
        for i in np.flatnonzero(was != now):
            where = (y.reference_name, y.reference_start + int(i) + 1)
            changed.setdefault(where, []).append(y.query_sequence[i])
    assert set(changed) == {(m.chrom, m.pos) for m in mutations}
    # the alt base, but where a sequencing error hit the mutated base
    for m in mutations:
        bases = changed[m.chrom, m.pos]
        assert bases.count(m.alt) >= 0.95 * len(bases)


def test_somatic_vcf_is_sorted_indexed_and_reproducible(tmp_path, world):
    mutations, fasta = world[3], world[4] / "ref.fa.gz"
    for name in ("a", "b"):
        write_somatic_vcf(mutations, CONTIGS, fasta, tmp_path / f"{name}.vcf.gz")
    assert md5sum(tmp_path / "a.vcf.gz") == md5sum(tmp_path / "b.vcf.gz")
    assert (tmp_path / "a.vcf.gz.tbi").is_file()
    with pysam.VariantFile(str(tmp_path / "a.vcf.gz")) as vcf:
        assert vcf.header.version == "VCFv4.2"
        assert vcf.header.contigs["chr7"].length == CONTIGS["chr7"]
        assert vcf.header.info["SOMATIC"].type == "Flag"
        records = list(vcf.fetch("chr7", MET.start, MET.end))
    assert [r.pos for r in records] == sorted(m.pos for m in mutations)
    by_pos = {m.pos: m for m in mutations}
    refs = dict(zip((m.pos for m in mutations), reference_bases(mutations, fasta), strict=True))
    for r in records:
        assert (r.ref, r.alts, list(r.filter)) == (refs[r.pos], (by_pos[r.pos].alt,), ["PASS"])
        assert r.info["SOMATIC"] is True


def test_a_spec_without_mutations_keeps_its_repr_and_bytes(tmp_path, world):
    spec = SampleSpec("s", seed=1, target_depth=50, germline_seed=1)
    assert "mutations" not in repr(spec)
    assert repr(dataclasses.replace(spec, mutations=world[3])) == repr(spec)
    simulate(world, spec, tmp_path / "s.bam")
    # The BAM stream (uncompressed, so independent of zlib) of the simulator before mutations.
    stream = gzip.decompress((tmp_path / "s.bam").read_bytes())
    assert hashlib.md5(stream).hexdigest() == "0d964446148a44bee7e3994779181f44"
    with pytest.raises(ValueError, match="mutations need a germline_seed"):
        simulate(world, SampleSpec("s", seed=1, mutations=world[3][:1]), tmp_path / "x.bam")


def test_mutations_on_a_lost_haplotype_move_to_the_kept_one(world):
    mutations = [m._replace(on_major=False) for m in world[3][:2]]
    at = mutations[0].pos - 1  # 0-based
    cnloh = ("chr7", at, at + 1, 2.0, 0.0)  # over the first one only
    kept = on_kept_haplotype(mutations, [cnloh])
    assert [m.on_major for m in kept] == [True, False]
    assert kept[0]._replace(on_major=False) == mutations[0] and kept[1] == mutations[1]
