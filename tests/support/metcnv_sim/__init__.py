"""Seeded simulator of targeted sequencing with known truth, for metcnv's tests and benchmarks.

It writes a panel BED, a reference FASTA and BAMs. It is not part of the installed metcnv:
pytest (pythonpath in pyproject.toml), tests/data/make_test_data.py and the benchmarks put
tests/support on sys.path. Everything is drawn from explicit seeds, so a rerun writes the
same bytes.

The modules follow the simulation: panel (targets and their capture efficiency),
reference (sequence windows and the FASTA), fragments (the read model: expected and drawn
fragments per sample) and bam (proper read pairs in an indexed BAM); `simulate_sample`
runs the last two for one sample.

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
Reads carry SEQ and QUAL '*': coverage needs positions only, and the files stay tiny.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

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
) -> pd.DataFrame:
    """Simulate one sample into a coordinate-sorted, indexed BAM; return its fragments.

    `writer` and `level` are passed to write_bam.
    """
    fragments = draw_fragments(reference, targets, spec)
    write_bam(fragments, reference.contigs, spec.name, spec.read_length, path, csi, writer, level)
    return fragments
