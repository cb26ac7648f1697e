"""Read bases: the reference, the fragment's germline haplotype at SNPs, sequencing errors.

Each fragment comes from one haplotype (1 or 2) of one cell. It is a tumor cell's with
probability p*c / (p*c + 2(1-p)) at its midpoint (purity p, tumor total copies c, normal
cells 2), and then from haplotype 1 with the tumor's share of that haplotype's copies;
a normal cell's fragment is from either haplotype with probability 1/2. Both reads of a
pair and every duplicate of a fragment show its haplotype's alleles, so mates that overlap
(fragments shorter than two reads) show the same allele twice; errors are per read.
A tumor cell's fragment may show somatic mutations on its haplotype (show_mutations).
These draws use their own random streams, so fragments, and coverage, do not change.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from metcnv.genome import contig_order
from metcnv_sim.fragments import SampleSpec, Segment
from metcnv_sim.mutations import Mutation
from metcnv_sim.reference import Reference
from metcnv_sim.snps import NUCLEOTIDES, draw_genotypes


def segment_alleles(segment: Segment) -> tuple[str, int, int, float, float]:
    """A segment as (chrom, start, end, total, minor) tumor copies.

    A 4-tuple's minor is 0 for a total of 0 or 1 (a loss leaves one allele, or none) and
    1 otherwise: the extra copies of a gain or amplification are all of one allele, the
    usual case, so an amplified allele's fraction is 1/(2r) at copy ratio r whatever the
    purity.
    """
    chrom, start, end, total, *rest = segment
    minor = rest[0] if rest else (0.0 if total <= 1 else 1.0)
    if not 0 <= minor <= total / 2:
        raise ValueError(f"segment {segment}: minor copies must lie in [0, total/2]")
    return chrom, start, end, float(total), float(minor)


def major_haplotype(germline_seed: int, chrom: str) -> int:
    """Which haplotype (0 or 1) carries a chromosome's major copies in this person's tumor.

    One draw per person and chromosome: every segment of a chromosome has its extra copies
    on the same homolog (MET amplified on the gained chr7), and one event shared by a
    patient's samples is on the same homolog in each.
    """
    rng = np.random.default_rng([germline_seed, 1, zlib.crc32(chrom.encode())])
    return int(rng.integers(0, 2))


def haplotype_copies(
    segments: Sequence[Segment], germline_seed: int, chrom: np.ndarray, pos: np.ndarray
) -> np.ndarray:
    """Tumor copies of haplotype 1 and 2 at each position, (n, 2): (1, 1) unless a segment
    covers it (the last one wins), then (major, minor) on the chromosome's major_haplotype."""
    copies = np.ones((len(pos), 2))
    for segment in segments:
        seg_chrom, start, end, total, minor = segment_alleles(segment)
        major = major_haplotype(germline_seed, seg_chrom)
        inside = (chrom == seg_chrom) & (pos >= start) & (pos < end)
        copies[inside, major] = total - minor
        copies[inside, 1 - major] = minor
    return copies


def on_kept_haplotype(
    mutations: Sequence[Mutation], segments: Sequence[Segment]
) -> tuple[Mutation, ...]:
    """`mutations`, those on the minor haplotype moved to the major one where the tumor keeps
    no minor copy: a loss of heterozygosity after a mutation on the lost homolog takes it
    along, and no caller would report it."""
    chrom = np.array([m.chrom for m in mutations])
    pos = np.array([m.pos - 1 for m in mutations], dtype=np.int64)
    minor = haplotype_copies(segments, 0, chrom, pos).min(axis=1)  # minor <= major copies
    return tuple(
        m._replace(on_major=True) if copies == 0 else m
        for m, copies in zip(mutations, minor, strict=True)
    )


def fragment_origins(fragments: pd.DataFrame, spec: SampleSpec) -> tuple[np.ndarray, np.ndarray]:
    """The haplotype (0 or 1) of each fragment and whether it is a tumor cell's, shared by
    the duplicates of one molecule."""
    rng = np.random.default_rng([spec.seed, 3])
    molecule = fragments["molecule"].to_numpy()
    n = int(molecule.max(initial=-1)) + 1
    from_tumor, first = rng.random(n)[molecule], rng.random(n)[molecule]
    chrom = fragments["chrom"].to_numpy()
    mid = (fragments["start"] + fragments["length"] // 2).to_numpy()
    copies = haplotype_copies(spec.segments, spec.germline_seed, chrom, mid)
    total = copies.sum(axis=1)
    tumor = spec.purity * total
    share = np.divide(tumor, tumor + 2 * (1 - spec.purity), out=np.zeros(len(mid)), where=tumor > 0)
    in_tumor = from_tumor < share
    hap1 = np.where(in_tumor, copies[:, 0] / np.where(total > 0, total, 1), 0.5)
    return np.where(first < hap1, 0, 1).astype(np.int8), in_tumor


def show_mutations(
    seq: np.ndarray,
    chrom: np.ndarray,
    pos: np.ndarray,
    span: np.ndarray,
    molecule: np.ndarray,
    tumor_haplotype: np.ndarray,
    spec: SampleSpec,
) -> None:
    """Put spec.mutations' alt bases into the reads `seq` (each read's chrom, start, length,
    molecule and haplotype if a tumor cell's, else -1).

    A tumor cell's fragment from the mutation's haplotype shows it with probability
    ccf * min(multiplicity, h) / h, h that haplotype's tumor copies there: one draw per
    molecule from its own random stream, so mates and duplicates agree and nothing else
    changes.
    """
    rng = np.random.default_rng([spec.seed, 5])
    for m in spec.mutations:
        at = m.pos - 1
        rows = np.flatnonzero((chrom == m.chrom) & (pos <= at) & (at < pos + span))
        major = major_haplotype(spec.germline_seed, m.chrom)
        own = major if m.on_major else 1 - major
        where = (np.array([m.chrom]), np.array([at]))
        copies = haplotype_copies(spec.segments, spec.germline_seed, *where)[0, own]
        share = m.ccf * min(m.multiplicity, copies) / copies if copies > 0 else 0.0
        molecules, index = np.unique(molecule[rows], return_inverse=True)
        drawn = rng.random(len(molecules))[index] < share
        rows = rows[drawn & (tumor_haplotype[rows] == own)]
        seq[rows, at - pos[rows]] = ord(m.alt)


def window_bases(reference: Reference, fasta: str | Path) -> tuple[dict, np.ndarray]:
    """The windows' bases from `fasta`, end to end, and per contig (starts, offsets) into them.

    Adjacent windows (gc_per_target pieces) sit end to end, so a read crossing one's end
    reads on into the next.
    """
    chunks, index, offset = [], {}, 0
    with pysam.FastaFile(str(fasta)) as handle:
        for chrom, own in reference.windows.groupby("chrom", sort=False):
            starts, offsets = [], []
            for start, end in own[["start", "end"]].itertuples(index=False):
                chunks.append(np.frombuffer(handle.fetch(chrom, start, end).encode(), np.uint8))
                starts.append(start)
                offsets.append(offset)
                offset += end - start
            index[chrom] = (np.array(starts), np.array(offsets))
    return index, np.concatenate(chunks)


def read_sequences(
    fragments: pd.DataFrame,
    reference: Reference,
    spec: SampleSpec,
    sites: pd.DataFrame,
    fasta: str | Path,
) -> np.ndarray:
    """Bases of every read, (2 x fragments, read_length) ASCII: the left reads in fragment
    order, then the right ones (as bam.write_bam lays reads out); a row's bases beyond its
    read's length, min(read_length, fragment length), are N."""
    length = fragments["length"].to_numpy(np.int64)
    span = np.minimum(spec.read_length, length)
    start = fragments["start"].to_numpy(np.int64)
    chrom = np.tile(fragments["chrom"].to_numpy(), 2)
    pos = np.concatenate([start, start + length - span])
    span = np.tile(span, 2)
    haplotype, in_tumor = (np.tile(x, 2) for x in fragment_origins(fragments, spec))

    index, bases = window_bases(reference, fasta)
    bases = np.concatenate([bases, np.full(spec.read_length, ord("N"), np.uint8)])
    first = np.zeros(len(pos), np.int64)
    for name, (starts, offsets) in index.items():
        rows = np.flatnonzero(chrom == name)
        window = np.searchsorted(starts, pos[rows], side="right") - 1
        first[rows] = offsets[window] + pos[rows] - starts[window]
    seq = np.lib.stride_tricks.sliding_window_view(bases, spec.read_length)[first]
    seq[np.arange(spec.read_length) >= span[:, None]] = ord("N")

    # SNP alleles: every (read, site) pair with the site inside the read.
    names = sorted(set(chrom) | set(sites["chrom"]), key=lambda c: (contig_order(c), c))
    ranks = {c: i for i, c in enumerate(names)}  # the order of sort_bins, so sites are sorted
    scale = np.int64(1) << 32
    read_key = np.array([ranks[c] for c in chrom], np.int64) * scale + pos
    site_key = sites["chrom"].map(ranks).to_numpy(np.int64) * scale + sites["pos"].to_numpy()
    low = np.searchsorted(site_key, read_key)
    count = np.searchsorted(site_key, read_key + span) - low
    row = np.repeat(np.arange(len(pos)), count)
    site = low[row] + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    genotypes = draw_genotypes(sites, spec.germline_seed)
    alt = genotypes[site, haplotype[row]]
    alt_base = np.frombuffer("".join(sites["alt"]).encode(), np.uint8)
    seq[row[alt], (site_key[site] - read_key[row])[alt]] = alt_base[site[alt]]

    # Somatic mutations, like SNP alleles before sequencing errors.
    molecule = np.tile(fragments["molecule"].to_numpy(), 2)
    show_mutations(seq, chrom, pos, span, molecule, np.where(in_tumor, haplotype, -1), spec)

    # Sequencing errors: a random other base at ~error_rate of the read bases.
    rng = np.random.default_rng([spec.seed, 4])
    ends = np.cumsum(span)
    total = int(ends[-1]) if len(ends) else 0
    pick = rng.integers(0, max(total, 1), rng.binomial(total, spec.error_rate))
    row = np.searchsorted(ends, pick, side="right")
    column = pick - (ends - span)[row]
    was = np.searchsorted(NUCLEOTIDES, seq[row, column])
    seq[row, column] = NUCLEOTIDES[(was + rng.integers(1, 4, len(pick))) % 4]
    return seq
