"""Regenerate tests/data: a small hg38 reference, a MET-centred panel and BAMs with known truth.

    python tests/data/make_test_data.py [--out tests/data]

Every draw comes from the fixed seeds below, so a rerun rewrites the same bytes (BGZF
blocks carry no time stamp). Takes 15-30 s.

What is written (see tests/support/metcnv_sim for the read model):
- ref.fa.gz (+ .fai, .gzi): chr7, chr8, chr12 and chr17 at their hg38 lengths, 'N' except
  around targets and in 1 kb islands about every 75 kb, which carry all off-target reads.
- panel.bed: MET 21, EGFR 12, CDK6 8, MYC 3, KRAS 5 and ERBB2 10 exon-like targets, one
  `chr7_backbone` target per 4 Mb and one `chr8_backbone` (etc.) per 8 Mb elsewhere.
- normal1..normal6 and six cases, as 2x150 bp read pairs without sequence (SEQ/QUAL '*'),
  with .csi indexes (a .bai would be ~400 kB per BAM here, a .csi ~50 kB).
  MET target median depth is ~150-200x; 5% (tissue) or 8% (plasma) of fragments are
  flagged duplicate and 2% have MAPQ 0.
- truth.tsv: one row per case (not the normals); `bam` is relative to this directory.

Off-target reads are thin (~35 passing fragments per Mb) to keep the files small: use
`--offtarget-bin-size 1000000`, whose 1 Mb bins hold ~35 fragments each (quartiles 28-39;
the default 150 kb bins would hold about 5).

blood_followup (plasma at 3% tumor fraction, MET at 25 tumor copies) has expected_status and
expected_over_10 'any'. Its MET copy ratio, (0.03*25 + 2*0.97)/2 = 1.35, stands about ten
standard errors above 1 over MET's 21 targets here, so the gain itself is detectable. But
the tumor copy number c = (2r - 1.94)/0.03 multiplies every error of r by 67 (a 5% ratio
error is 4.5 copies), and a 3% tumor fraction is at the floor of what cfDNA methods can
estimate (ichorCNA: ~3%); a purity off by 1-2 points moves c by 6-12 copies. Whether
that is a high-level focal amplification or inconclusive depends on how a caller carries
the purity's uncertainty; tests should check the MET ratio and the limit of detection.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from metcnv.genome import LENGTHS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from metcnv_sim import simulate_sample
from metcnv_sim.fragments import SampleSpec
from metcnv_sim.panel import GeneTargets, make_panel, write_bed
from metcnv_sim.reference import make_reference, write_fasta

PANEL_SEED, REFERENCE_SEED, FASTA_SEED = 7, 8, 9
CONTIGS = {chrom: LENGTHS["hg38"][chrom] for chrom in ("chr7", "chr8", "chr12", "chr17")}
GENES = [  # hg38, 0-based half-open
    GeneTargets("EGFR", "chr7", 55_019_016, 55_211_628, 12),
    GeneTargets("CDK6", "chr7", 92_604_920, 92_836_594, 8),
    GeneTargets("MET", "chr7", 116_672_195, 116_798_377, 21),
    GeneTargets("MYC", "chr8", 127_735_433, 127_742_951, 3),
    GeneTargets("KRAS", "chr12", 25_205_245, 25_250_929, 5),
    GeneTargets("ERBB2", "chr17", 39_688_093, 39_728_658, 10),
]
BACKBONE = {"chr7": 4_000_000, "chr8": 8_000_000, "chr12": 8_000_000, "chr17": 8_000_000}
MET_AMPLICON = ("chr7", 116_200_000, 117_300_000)
WHOLE_CHR7 = ("chr7", 0, CONTIGS["chr7"])

TISSUE = {"fragment_mean": 250.0, "fragment_sd": 50.0, "duplicate_fraction": 0.05}
PLASMA = {"fragment_mean": 167.0, "fragment_sd": 20.0, "duplicate_fraction": 0.08}
COMMON = {"read_length": 150, "offtarget_per_mb": 35.0, "mapq0_fraction": 0.02}

NORMAL_DEPTHS = [165.0, 150.0, 175.0, 160.0, 170.0, 155.0]  # libraries differ in size

KRAS_AMPLICON = ("chr12", 24_700_000, 25_800_000, 8.0)
# name: sample type, purity, chr7 tumor CN, MET tumor CN, other segments
CASES = {
    "tumor_focal": ("tumor", 0.6, 2, 20, ()),
    "tumor_polysomy": ("tumor", 0.7, 4, 4, ()),
    "tumor_neutral": ("tumor", 0.5, 2, 2, (KRAS_AMPLICON,)),
    "blood_lowpurity": ("blood", 0.1, 2, 30, ()),
    "effusion_focal": ("effusion", 0.4, 3, 14, ()),
    "blood_followup": ("blood", 0.03, 2, 25, ()),
}
# name: patient, collection date, site (P001's samples span one course of treatment)
CLINICAL = {
    "tumor_focal": ("P001", "2026-01-10", "stomach"),
    "tumor_polysomy": ("P002", "2026-02-03", "lung"),
    "tumor_neutral": ("P003", "2026-02-17", "stomach"),
    "blood_lowpurity": ("P001", "2026-01-12", "plasma"),
    "effusion_focal": ("P001", "2026-01-12", "bone marrow effusion"),
    "blood_followup": ("P001", "2026-04-15", "plasma"),
}
# name: expected status, expected over 10 copies
EXPECTED = {
    "tumor_focal": ("high_level_focal_amplification", "true"),
    "tumor_polysomy": ("chr7_gain", "false"),
    "tumor_neutral": ("neutral", "false"),
    "blood_lowpurity": ("high_level_focal_amplification", "true"),
    "effusion_focal": ("high_level_focal_amplification", "true"),
    "blood_followup": ("any", "any"),
}


def normal_specs() -> list[SampleSpec]:
    """The panel-of-normals samples: diploid, library sizes differing a little."""
    return [
        SampleSpec(f"normal{i}", seed=100 + i, target_depth=depth, **TISSUE, **COMMON)
        for i, depth in enumerate(NORMAL_DEPTHS, 1)
    ]


def case_specs() -> list[tuple[SampleSpec, dict[str, str]]]:
    """The cases' simulation settings, each with its truth.tsv row."""
    out = []
    for i, (name, (kind, purity, chr7, met, other)) in enumerate(CASES.items(), 1):
        segments = ((*WHOLE_CHR7, float(chr7)),) if chr7 != 2 else ()
        segments += ((*MET_AMPLICON, float(met)),) if met != chr7 else ()
        spec = SampleSpec(
            name,
            seed=200 + i,
            target_depth=150.0,
            purity=purity,
            segments=segments + other,
            **(PLASMA if kind == "blood" else TISSUE),
            **COMMON,
        )
        patient, date, site = CLINICAL[name]
        status, over_10 = EXPECTED[name]
        row = {
            "sample": name,
            "bam": f"{name}.bam",
            "sample_type": kind,
            "purity": f"{purity:g}",
            "ploidy": "2",
            "patient": patient,
            "collection_date": date,
            "site": site,
            "met_tumor_cn": str(met),
            "chr7_tumor_cn": str(chr7),
            "expected_status": status,
            "expected_over_10": over_10,
        }
        out.append((spec, row))
    return out


def main() -> None:
    """Write reference, panel, BAMs and truth table into --out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("tests/data"), help="output folder")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    targets = make_panel(GENES, BACKBONE, CONTIGS, PANEL_SEED)
    write_bed(targets, out / "panel.bed")
    reference = make_reference(CONTIGS, targets, REFERENCE_SEED)
    write_fasta(reference, out / "ref.fa.gz", FASTA_SEED)
    cases = case_specs()
    for spec in normal_specs() + [spec for spec, _ in cases]:
        simulate_sample(reference, targets, spec, out / f"{spec.name}.bam", csi=True)
    pd.DataFrame([row for _, row in cases]).to_csv(out / "truth.tsv", sep="\t", index=False)
    print(
        f"wrote {len(NORMAL_DEPTHS) + len(cases)} BAMs to {out} in "
        f"{time.perf_counter() - began:.1f} s"
    )


if __name__ == "__main__":
    main()
