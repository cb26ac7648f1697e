"""Seeded simulator of targeted sequencing with known truth, for metcnv's tests and benchmarks.

It writes a panel BED, a reference FASTA, a sites VCF of common SNPs and BAMs. It is not
part of the installed metcnv: pytest (pythonpath in pyproject.toml),
tests/data/make_test_data.py and the benchmarks put tests/support on sys.path. Everything
is drawn from explicit seeds, so a rerun writes the same bytes.

The modules follow the simulation: panel (targets and their capture efficiency),
reference (sequence windows and the FASTA), snps (population SNP sites, their VCF and a
person's genotypes), fragments (the read model: expected and drawn fragments per sample),
mutations (somatic SNVs and their VCF), alleles (read bases: haplotypes, allele-specific
tumor copy number, somatic mutations, errors) and bam (proper read pairs in an indexed
BAM); `simulate_sample` runs fragments, alleles and bam for one sample.

The model, per sample:
- the reference is 'N' except windows of +-`flank` bp around targets and `island_size`
  "islands" about every `island_spacing` bp; each window has one GC content (0.35-0.65,
  slowly varying along a chromosome for islands) so GC correction has something to fix;
- captured fragments have their midpoint spread over each target so that they overlap it by
  at least `min_overlap` bp; off-target fragments lie wholly inside islands;
- the expected number of passing fragments in a window is
  base x capture efficiency (targets only, shared by the panel) x GC bias (per sample)
  x copy ratio, where the copy ratio of tumor copy number c at purity p and tumor ploidy P
  is (p*c + 2(1-p)) / (p*P + 2(1-p)); counts are gamma-Poisson (over-dispersed);
- MAPQ-0 fragments and duplicate-flagged copies come on top, so they never change the
  expected counts of the fragments metcnv keeps (flags 0x704 and MAPQ < 20 excluded).
- with a `germline_seed` (the person), reads carry bases: the reference, that person's
  alleles at SNP sites on the fragment's haplotype, and ~0.1% sequencing errors; tumor
  segments may give (total, minor) copies, so allele fractions follow the tumor's
  allele-specific copy number while depth follows the total. Without one, reads carry SEQ
  and QUAL '*' (coverage needs positions only), byte for byte as before SNPs existed.
- a tumor's somatic mutations show in its tumor cells' reads, at expected allele fraction
  p*ccf*m / (p*c + 2(1-p)) for m mutated copies of c; they change no other base.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from metcnv_sim.alleles import read_sequences
from metcnv_sim.bam import write_bam
from metcnv_sim.fragments import SampleSpec, draw_fragments
from metcnv_sim.reference import Reference


def simulate_sample(
    reference: Reference,
    targets: pd.DataFrame,
    spec: SampleSpec,
    path: str | Path,
    csi: bool = False,
    writer: str = "pysam",
    level: int | None = None,
    *,
    snps: pd.DataFrame | None = None,
    fasta: str | Path | None = None,
) -> pd.DataFrame:
    """Simulate one sample into a coordinate-sorted, indexed BAM; return its fragments.

    `writer` and `level` are passed to write_bam. A spec with a germline_seed needs the SNP
    sites (snps.draw_snp_sites) and the FASTA written by write_fasta, for the read bases.
    """
    fragments = draw_fragments(reference, targets, spec)
    sequences = None
    if spec.mutations and spec.germline_seed is None:
        raise ValueError(f"{spec.name}: mutations need a germline_seed (reads with bases)")
    if spec.germline_seed is not None:
        if snps is None or fasta is None:
            raise ValueError(f"{spec.name}: a germline_seed needs snps and fasta")
        sequences = read_sequences(fragments, reference, spec, snps, fasta)
    write_bam(
        fragments,
        reference.contigs,
        spec.name,
        spec.read_length,
        path,
        csi,
        writer,
        level,
        sequences,
        spec.base_quality,
    )
    return fragments
