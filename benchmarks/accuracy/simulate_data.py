"""Write the benchmark's reference, panels, SNP sites and BAMs (metcnv_sim) and its truth.

`snps.vcf.gz` (+ .tbi) holds the population's common SNPs (design.py says how many and
where); every BAM carries bases with its person's germline alleles at them. Every sample
with a tumor fraction has its somatic SNVs in `{sample}.somatic.vcf.gz` (+ .tbi).

A BAM is rewritten only when its simulator settings changed: `{bam}.spec` holds the
settings it was made from (with real noise, the digest of its log2 multipliers too), and
the simulator is seeded, so an unchanged sample would be rewritten byte for byte anyway.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import design as design_module
import numpy as np
import pandas as pd
from metcnv_sim import simulate_sample
from metcnv_sim.mutations import write_somatic_vcf
from metcnv_sim.panel import write_bed
from metcnv_sim.reference import Reference, write_fasta
from metcnv_sim.snps import draw_snp_sites, write_vcf
from parallel import parallel_map

from metcnv.files import md5sum

BAM_LEVEL = 1  # BGZF level of the simulated BAMs: ~3x faster to write than the default


def _fingerprint(*parts) -> str:
    return hashlib.md5(repr(parts).encode()).hexdigest()


def _array_md5(values) -> str:
    return hashlib.md5(np.ascontiguousarray(values, dtype=float).tobytes()).hexdigest()


_STATE: dict = {}  # what the worker processes inherit (fork)


def _simulate_one(index: int) -> tuple[str, float, bool]:
    sample = _STATE["design"].samples[index]
    out: Path = _STATE["out"]
    panel = _STATE["panels"][sample.panel]
    bam = out / f"{sample.name}.bam"
    stamp = bam.with_name(bam.name + ".spec")
    parts = [
        sample.spec,
        _STATE["panel_md5"][sample.panel],
        _STATE["reference_md5"],
        _STATE["snps_md5"],
        BAM_LEVEL,
    ]
    if sample.spec.target_log2 is not None:  # real noise: not in the spec's repr
        parts += [_array_md5(sample.spec.target_log2), _array_md5(sample.spec.island_log2)]
    if sample.spec.mutations:  # not in the spec's repr either
        parts.append(sample.spec.mutations)
    fingerprint = _fingerprint(*parts)
    began = time.perf_counter()
    fresh = not (stamp.exists() and stamp.read_text() == fingerprint and bam.exists())
    if fresh:
        stamp.unlink(missing_ok=True)
        simulate_sample(
            _STATE["reference"],
            panel,
            sample.spec,
            bam,
            csi=True,
            writer="numpy",
            level=BAM_LEVEL,
            snps=_STATE["snps"],
            fasta=out / "ref.fa.gz",
        )
        stamp.write_text(fingerprint)
    if sample.spec.mutations:  # a few records, rewritten each time (the same bytes)
        vcf = out / f"{sample.name}.somatic.vcf.gz"
        write_somatic_vcf(sample.spec.mutations, _STATE["design"].contigs, out / "ref.fa.gz", vcf)
    return sample.name, time.perf_counter() - began, fresh


def write_data(design: design_module.Design, out: Path, jobs: int, log=print) -> dict:
    """Reference FASTA, panel BEDs, SNP sites VCF, access BED, truth.tsv, one indexed BAM
    per sample and one somatic VCF per sample with a tumor fraction (its specs get their
    mutations here: design.with_mutations)."""
    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    panel_set = design_module.panels(design)
    reference: Reference = design_module.reference(design, panel_set)
    panel_md5 = {}
    for name, targets in panel_set.items():
        write_bed(targets, out / f"{name}.bed")
        panel_md5[name] = md5sum(out / f"{name}.bed")
    fasta = out / "ref.fa.gz"
    windows = reference.windows.to_csv(index=False).encode()
    ref_print = _fingerprint(sorted(design.contigs.items()), hashlib.md5(windows).hexdigest())
    stamp = out / "ref.fa.gz.spec"
    if not (fasta.exists() and stamp.exists() and stamp.read_text() == ref_print):
        write_fasta(reference, fasta, design_module.FASTA_SEED)
        stamp.write_text(ref_print)
    # SNP probes are on the hybrid panel; sites fall in every panel's windows
    snps = draw_snp_sites(reference, panel_set["hybrid"], fasta, design_module.SNP_SEED)
    snps_print = _fingerprint(ref_print, panel_md5["hybrid"], snps.to_csv(index=False))
    vcf = out / "snps.vcf.gz"
    stamp = out / "snps.vcf.gz.spec"
    if not (vcf.exists() and stamp.exists() and stamp.read_text() == snps_print):
        write_vcf(snps, design.contigs, vcf)
        stamp.write_text(snps_print)
    design_module.with_mutations(design, panel_set, snps, fasta)
    pd.DataFrame(
        [(c, 0, n) for c, n in design.contigs.items()], columns=["chrom", "start", "end"]
    ).to_csv(out / "access.bed", sep="\t", header=False, index=False)
    design.truth().to_csv(out / "truth.tsv", sep="\t", index=False)
    log(f"reference, panels and {len(snps)} SNP sites in {time.perf_counter() - began:.0f} s")
    _STATE.update(
        design=design,
        out=out,
        panels=panel_set,
        reference=reference,
        panel_md5=panel_md5,
        reference_md5=ref_print,
        snps=snps,
        snps_md5=snps_print,
    )
    # Deepest first, so that two workers finish together.
    order = sorted(range(len(design.samples)), key=lambda i: -design.samples[i].spec.target_depth)
    times = {}
    written = 0
    for name, seconds, fresh in parallel_map(_simulate_one, order, jobs):
        times[name] = seconds
        written += fresh
    log(
        f"{written} of {len(design.samples)} BAMs written "
        f"({len(design.samples) - written} unchanged) in {time.perf_counter() - began:.0f} s"
    )
    return {"bam_seconds": times, "fasta": str(fasta), "snps": str(vcf), "snp_sites": len(snps)}
