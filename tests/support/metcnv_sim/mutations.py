"""Somatic point mutations: where a tumor carries them, and the VCF a variant caller reports.

A mutation sits on one haplotype of the tumor (the chromosome's major one, see
alleles.major_haplotype, or the other) in `multiplicity` of its copies, in a share `ccf` of
the tumor cells; alleles.read_sequences shows its alt base in the reads. At purity p and
tumor total copies c its expected allele fraction is p*ccf*m / (p*c + 2(1-p)).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pysam

from metcnv.genome import contig_order
from metcnv_sim.snps import NUCLEOTIDES, sites_header


class Mutation(NamedTuple):
    """A somatic SNV: `pos` 1-based; on `multiplicity` tumor copies of the major haplotype
    (`on_major`) or the other, in a share `ccf` of tumor cells (1.0: clonal). A haplotype
    with fewer copies there carries it on all of them."""

    chrom: str
    pos: int
    alt: str
    on_major: bool
    multiplicity: int = 1
    ccf: float = 1.0


def draw_mutations(
    targets: pd.DataFrame,
    sites: pd.DataFrame,
    fasta: str | Path,
    seed: int | Sequence[int],
    ccfs: Sequence[float],
) -> tuple[Mutation, ...]:
    """One mutation per entry of `ccfs` (multiplicity 1, either haplotype at random), at
    distinct positions drawn uniformly over the targets' bases, off the SNP `sites` (0-based
    pos), where `fasta` has A, C, G or T; alt is another base. In the order of `ccfs`."""
    rng = np.random.default_rng(seed)
    lengths = (targets["end"] - targets["start"]).to_numpy()
    ends = np.cumsum(lengths)
    snps = set(zip(sites["chrom"], sites["pos"], strict=True))
    out: list[Mutation] = []
    with pysam.FastaFile(str(fasta)) as handle:
        for pick in rng.permutation(int(ends[-1])):
            if len(out) == len(ccfs):
                break
            row = int(np.searchsorted(ends, pick, side="right"))
            chrom = str(targets["chrom"].iat[row])
            at = int(targets["start"].iat[row] + pick - ends[row] + lengths[row])
            ref = handle.fetch(chrom, at, at + 1).encode()
            if (chrom, at) in snps or ref not in (b"A", b"C", b"G", b"T"):
                continue
            alt = NUCLEOTIDES[(np.searchsorted(NUCLEOTIDES, ref[0]) + rng.integers(1, 4)) % 4]
            on_major = bool(rng.random() < 0.5)
            out.append(Mutation(chrom, at + 1, chr(alt), on_major, 1, float(ccfs[len(out)])))
    if len(out) < len(ccfs):
        raise ValueError(f"room for {len(out)} of {len(ccfs)} mutations in the targets")
    return tuple(out)


def reference_bases(mutations: Sequence[Mutation], fasta: str | Path) -> list[str]:
    """The reference base at each mutation."""
    with pysam.FastaFile(str(fasta)) as handle:
        return [handle.fetch(m.chrom, m.pos - 1, m.pos) for m in mutations]


def write_somatic_vcf(
    mutations: Sequence[Mutation], contigs: Mapping[str, int], fasta: str | Path, path: str | Path
) -> None:
    """Write mutations as a variant caller would report them: a bgzipped, tabix-indexed
    VCFv4.2 sites file, sorted, every record FILTER PASS with INFO flag SOMATIC."""
    header = sites_header(contigs, "SOMATIC", "0", "Flag", "Somatic mutation")
    refs = reference_bases(mutations, fasta)
    order = sorted(
        range(len(mutations)), key=lambda i: (contig_order(mutations[i].chrom), mutations[i].pos)
    )
    path = str(path)
    with pysam.VariantFile(path, "wz", header=header) as out:
        for i in order:
            m = mutations[i]
            record = out.new_record(
                contig=m.chrom, start=m.pos - 1, alleles=(refs[i], m.alt), filter="PASS"
            )
            record.info["SOMATIC"] = True
            out.write(record)
    pysam.tabix_index(path, preset="vcf", force=True)
