"""Regenerate tests/data: a small hg38 reference, a MET-centred panel and BAMs with known truth.

    python tests/data/make_test_data.py [--out tests/data]

Every draw comes from the fixed seeds below, so a rerun rewrites the same bytes (BGZF
blocks carry no time stamp). Takes about a minute.

What is written (see tests/support/metcnv_sim for the read model):
- ref.fa.gz (+ .fai, .gzi): chr7, chr8, chr12 and chr17 at their hg38 lengths, 'N' except
  around targets and in 1 kb islands about every 75 kb, which carry all off-target reads.
- panel.bed: MET 21, EGFR 12, CDK6 8, MYC 3, KRAS 5 and ERBB2 10 exon-like targets, one
  `chr7_backbone` target per 4 Mb and one `chr8_backbone` (etc.) per 8 Mb elsewhere, and
  one SNP probe (`chr7_snps` etc., a backbone label to metcnv) per 3 Mb on every contig.
- snps.vcf.gz (+ .tbi): the population's common SNPs (AF 0.05-0.5; 0.3-0.5 under the
  probes), about one per kb of the windows around targets and 0.1 per kb in islands.
- normal1..normal6 and seven cases, as 2x150 bp read pairs with bases (QUAL 30, 0.1%
  errors) and each person's germline alleles: every normal is its own person, P001's
  tumor, effusion and two bloods share one germline. .csi indexes (a .bai would be
  ~400 kB per BAM here, a .csi ~60 kB). MET target median depth is ~150-200x in tissue and
  ~400x in plasma (cfDNA panels are sequenced deeper); 5% (tissue) or 8% (plasma) of
  fragments are flagged duplicate and 2% have MAPQ 0.
- truth.tsv: one row per case (not the normals); `bam` is relative to this directory.
  `events` lists the tumor segments as `chrom:start-end:total:minor` joined by ';' (0-based
  half-open; a later one wins where they overlap; `minor` is the tumor's copies of the
  less-copied allele); `met_minor_cn` is MET's. `purity_identifiable` says whether depth
  and allele fractions together pin the purity (below). `mutations` lists the somatic SNVs
  as `chrom:pos:ref>alt:on_major:multiplicity:ccf` joined by ';' (pos 1-based, on_major
  true when on the chromosome's major haplotype; metcnv_sim.mutations).
- {case}.somatic.vcf.gz (+ .tbi): each case's somatic SNVs as a variant caller reports
  them (sites only, FILTER PASS, INFO SOMATIC). Every patient has truncal (clonal,
  multiplicity 1) mutations at random positions in the targets, shared by all its samples
  (P001: 5, P002-P004: 4); tumor_focal adds one private subclonal one (ccf 0.3). Their
  expected allele fraction is purity * ccf / (purity * c + 2(1 - purity)) at tumor copies c.

The SNP spacing: 3 Mb puts 8 probes on chr17p (24 Mb); 3-9 of them (with nearby SNPs) are
het in a person at ~100 fragments each, which shows an arm's LOH clearly from ~25% tumor
fraction (tumor_focal: z ~ 30, effusion_focal at 40%: z ~ 20 for the excess spread of
allele fractions at het SNPs). At 10% an arm's LOH moves a het SNP's allele fraction by
only 0.026, lost in binomial noise at these SNP counts; what a 10% plasma sample shows at
~400x is several whole-chromosome events together (a copy-neutral LOH of chr12, whose
allele fractions move by 0.05, a loss of chr17 and a gain of chr8). 3 Mb keeps the folder
at ~46 MB (2 Mb: ~52 MB; bases cost ~8 bytes per read over the 11 without). Constant QUAL
compresses away.

The cases (purity; tumor events besides MET, which is amplified on one allele, i.e. its
extra copies all of one allele):
- tumor_focal (60%): MET 20 copies, chr17p LOH (1,0), chr8q gain (2+1), chr12
  copy-neutral LOH (2+0): the LOHs pin the purity.
- tumor_polysomy (70%): chr7 balanced tetrasomy (2+2, MET with it), chr12 copy-neutral
  LOH (2+0), which pins the purity through allele fractions alone.
- tumor_neutral (50%): MET 2; KRAS amplified (8 copies), chr8 gain (2+1), chr17p LOH.
  The LOH pins the purity: a one-allele gain does not (see tumor_flat).
- blood_lowpurity (plasma, 10%, ~400x): MET 30 copies, chr17 loss (1+0), chr8 gain
  (2+1), chr12 copy-neutral LOH (2+0). Together they pin the purity (the typical case:
  a blood sample with no known tumor fraction); one of them alone would not.
- effusion_focal (40%): chr7 gain (2+1), MET 14 copies on the gained homolog (13+1),
  chr17p LOH and chr12 copy-neutral LOH, which pin the purity.
- blood_followup (plasma, 3%, ~400x): the same events as blood_lowpurity, MET 25 copies:
  purity not identifiable (allele-fraction shifts <= 0.015). Its expected_status and
  expected_over_10 are 'any': its MET copy ratio, (0.03*25 + 2*0.97)/2 = 1.35, stands
  about ten standard errors above 1 over MET's 21 targets here, so the gain itself is
  detectable. But the tumor copy number c = (2r - 1.94)/0.03 multiplies every error of r
  by 67 (a 5% ratio error is 4.5 copies), and a 3% tumor fraction is at the floor of what
  cfDNA methods can estimate (ichorCNA: ~3%); a purity off by 1-2 points moves c by 6-12
  copies. Whether that is a high-level focal amplification or inconclusive depends on how
  a caller carries the purity's uncertainty; tests should check the MET ratio and the
  limit of detection.
- tumor_flat (30%): MET 8 copies (7+1) and no other event. Its purity is not identifiable
  from the data: with one allele amplified the minor allele keeps one copy in every cell,
  so its fraction is 1/(2r) at copy ratio r whatever the purity, and (p, c) with
  p(c - 2) = 2(r - 1) all fit. Given its true purity it is a focal amplification of
  8 copies (amp_min_cn 6 <= 8 <= high_level_cn 10).

Off-target reads are thin (~35 passing fragments per Mb) to keep the files small: use
`--offtarget-bin-size 1000000`, whose 1 Mb bins hold ~35 fragments each (quartiles 28-39;
the default 150 kb bins would hold about 5).
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
from metcnv_sim.alleles import on_kept_haplotype, segment_alleles
from metcnv_sim.fragments import SampleSpec
from metcnv_sim.mutations import Mutation, draw_mutations, reference_bases, write_somatic_vcf
from metcnv_sim.panel import GeneTargets, make_panel, write_bed
from metcnv_sim.reference import make_reference, write_fasta
from metcnv_sim.snps import draw_snp_sites, write_vcf

PANEL_SEED, REFERENCE_SEED, FASTA_SEED, SNP_SEED, MUTATION_SEED = 7, 8, 9, 10, 11
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
SNP_SPACING = 3_000_000  # one SNP probe per 3 Mb on every contig (see the docstring)
SNP_BACKBONE = dict.fromkeys(CONTIGS, SNP_SPACING)

# Tumor segments (chrom, start, end, total[, minor]): a 4-tuple's minor is 0 for a total
# <= 1, else 1 (the extra copies are of one allele; metcnv_sim.alleles.segment_alleles).
MET_AMPLICON = ("chr7", 116_200_000, 117_300_000)
WHOLE_CHR7 = ("chr7", 0, CONTIGS["chr7"])
KRAS_AMP = ("chr12", 24_700_000, 25_800_000, 8.0)
CHR17P_LOH = ("chr17", 0, 24_000_000, 1.0, 0.0)  # one copy left: loss of heterozygosity
CHR17_LOSS = ("chr17", 0, CONTIGS["chr17"], 1.0, 0.0)  # the whole chromosome: LOH
CHR8Q_GAIN = ("chr8", 47_000_000, CONTIGS["chr8"], 3.0, 1.0)
CHR8_GAIN = ("chr8", 0, CONTIGS["chr8"], 3.0, 1.0)
CHR12_CNLOH = ("chr12", 0, CONTIGS["chr12"], 2.0, 0.0)  # copy-neutral: BAF only

TISSUE = {"fragment_mean": 250.0, "fragment_sd": 50.0, "duplicate_fraction": 0.05}
BLOOD_DEPTH = 400.0  # cfDNA panels are sequenced deeper: ~400x unique molecules (files < 5 MB)
PLASMA = {"fragment_mean": 167.0, "fragment_sd": 20.0, "duplicate_fraction": 0.08}
COMMON = {"read_length": 150, "offtarget_per_mb": 35.0, "mapq0_fraction": 0.02}

NORMAL_DEPTHS = [165.0, 150.0, 175.0, 160.0, 170.0, 155.0]  # libraries differ in size

# name: sample type, purity, chr7 tumor (total, minor), MET tumor (total, minor), other
# segments (after chr7 and MET), purity identifiable from depth + allele fractions
CASES = {
    "tumor_focal": ("tumor", 0.6, (2, 1), (20, 1), (CHR17P_LOH, CHR8Q_GAIN, CHR12_CNLOH), True),
    "tumor_polysomy": ("tumor", 0.7, (4, 2), (4, 2), (CHR12_CNLOH,), True),
    "tumor_neutral": ("tumor", 0.5, (2, 1), (2, 1), (KRAS_AMP, CHR8_GAIN, CHR17P_LOH), True),
    "blood_lowpurity": ("blood", 0.1, (2, 1), (30, 1), (CHR17_LOSS, CHR8_GAIN, CHR12_CNLOH), True),
    "effusion_focal": ("effusion", 0.4, (3, 1), (14, 1), (CHR17P_LOH, CHR12_CNLOH), True),
    "blood_followup": ("blood", 0.03, (2, 1), (25, 1), (CHR17_LOSS, CHR8_GAIN, CHR12_CNLOH), False),
    "tumor_flat": ("tumor", 0.3, (2, 1), (8, 1), (), False),
}
# name: patient, collection date, site (P001's samples span one course of treatment)
CLINICAL = {
    "tumor_focal": ("P001", "2026-01-10", "stomach"),
    "tumor_polysomy": ("P002", "2026-02-03", "lung"),
    "tumor_neutral": ("P003", "2026-02-17", "stomach"),
    "blood_lowpurity": ("P001", "2026-01-12", "plasma"),
    "effusion_focal": ("P001", "2026-01-12", "bone marrow effusion"),
    "blood_followup": ("P001", "2026-04-15", "plasma"),
    "tumor_flat": ("P004", "2026-03-02", "lung"),
}
# patient: germline seed (one person, one seed: P001's tumor, blood and effusion share it)
GERMLINE = {"P001": 1, "P002": 2, "P003": 3, "P004": 4}
# patient: truncal (clonal) somatic mutations, shared by all of the patient's samples
TRUNCAL = {"P001": 5, "P002": 4, "P003": 4, "P004": 4}
PRIVATE = {"tumor_focal": (0.3,)}  # name: the ccfs of its own subclonal mutations
# name: expected status, expected over 10 copies
EXPECTED = {
    "tumor_focal": ("high_level_focal_amplification", "true"),
    "tumor_polysomy": ("chr7_gain", "false"),
    "tumor_neutral": ("neutral", "false"),
    "blood_lowpurity": ("high_level_focal_amplification", "true"),
    "effusion_focal": ("high_level_focal_amplification", "true"),
    "blood_followup": ("any", "any"),
    "tumor_flat": ("focal_amplification", "false"),
}


def normal_specs() -> list[SampleSpec]:
    """The panel-of-normals samples: diploid, library sizes differing a little, each its
    own person."""
    return [
        SampleSpec(
            f"normal{i}",
            seed=100 + i,
            target_depth=depth,
            germline_seed=100 + i,
            **TISSUE,
            **COMMON,
        )
        for i, depth in enumerate(NORMAL_DEPTHS, 1)
    ]


def case_segments(chr7: tuple[int, int], met: tuple[int, int], other: tuple) -> tuple:
    """A case's tumor segments: chr7, then MET (if it differs from chr7), then the others."""
    segments = ((*WHOLE_CHR7, float(chr7[0]), float(chr7[1])),) if chr7 != (2, 1) else ()
    segments += ((*MET_AMPLICON, float(met[0]), float(met[1])),) if met != chr7 else ()
    return segments + other


def format_events(segments: tuple) -> str:
    """Segments as `chrom:start-end:total:minor` joined by ';' (later ones win)."""
    events = []
    for segment in segments:
        chrom, start, end, total, minor = segment_alleles(segment)
        events.append(f"{chrom}:{start}-{end}:{total:g}:{minor:g}")
    return ";".join(events)


def case_mutations(targets: pd.DataFrame, snps: pd.DataFrame, fasta: Path) -> dict:
    """Each case's somatic mutations: its patient's truncal ones, then its private ones.

    One draw per patient (truncal first), so the positions are distinct and shared; each
    stays on a haplotype that every sample of the patient keeps (on_kept_haplotype).
    """
    out = {}
    for patient, germline in GERMLINE.items():
        names = [name for name in CASES if CLINICAL[name][0] == patient]
        ccfs = [1.0] * TRUNCAL[patient] + [c for name in names for c in PRIVATE.get(name, ())]
        drawn = draw_mutations(targets, snps, fasta, [MUTATION_SEED, germline], ccfs)
        for name in names:
            drawn = on_kept_haplotype(drawn, case_segments(*CASES[name][2:5]))
        truncal, private = drawn[: TRUNCAL[patient]], iter(drawn[TRUNCAL[patient] :])
        for name in names:
            out[name] = truncal + tuple(next(private) for _ in PRIVATE.get(name, ()))
    return out


def format_mutations(mutations: tuple[Mutation, ...], fasta: Path) -> str:
    """Mutations as `chrom:pos:ref>alt:on_major:multiplicity:ccf` joined by ';'."""
    return ";".join(
        f"{m.chrom}:{m.pos}:{ref}>{m.alt}:{str(m.on_major).lower()}:{m.multiplicity}:{m.ccf:g}"
        for m, ref in zip(mutations, reference_bases(mutations, fasta), strict=True)
    )


def case_specs(
    targets: pd.DataFrame, snps: pd.DataFrame, fasta: Path
) -> list[tuple[SampleSpec, dict[str, str]]]:
    """The cases' simulation settings, each with its truth.tsv row."""
    mutations = case_mutations(targets, snps, fasta)
    out = []
    for i, (name, (kind, purity, chr7, met, other, identifiable)) in enumerate(CASES.items(), 1):
        segments = case_segments(chr7, met, other)
        patient, date, site = CLINICAL[name]
        spec = SampleSpec(
            name,
            seed=200 + i,
            target_depth=BLOOD_DEPTH if kind == "blood" else 150.0,
            purity=purity,
            segments=segments,
            germline_seed=GERMLINE[patient],
            mutations=mutations[name],
            **(PLASMA if kind == "blood" else TISSUE),
            **COMMON,
        )
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
            "met_tumor_cn": str(met[0]),
            "chr7_tumor_cn": str(chr7[0]),
            "expected_status": status,
            "expected_over_10": over_10,
            "met_minor_cn": str(met[1]),
            "purity_identifiable": str(identifiable).lower(),
            "events": format_events(segments),
            "mutations": format_mutations(mutations[name], fasta),
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
    targets = make_panel(GENES, BACKBONE, CONTIGS, PANEL_SEED, snp_backbone=SNP_BACKBONE)
    write_bed(targets, out / "panel.bed")
    reference = make_reference(CONTIGS, targets, REFERENCE_SEED)
    fasta = out / "ref.fa.gz"
    write_fasta(reference, fasta, FASTA_SEED)
    snps = draw_snp_sites(reference, targets, fasta, SNP_SEED)
    write_vcf(snps, CONTIGS, out / "snps.vcf.gz")
    cases = case_specs(targets, snps, fasta)
    for spec in normal_specs() + [spec for spec, _ in cases]:
        path = out / f"{spec.name}.bam"
        simulate_sample(reference, targets, spec, path, csi=True, snps=snps, fasta=fasta)
        if spec.mutations:
            write_somatic_vcf(spec.mutations, CONTIGS, fasta, out / f"{spec.name}.somatic.vcf.gz")
    pd.DataFrame([row for _, row in cases]).to_csv(out / "truth.tsv", sep="\t", index=False)
    print(
        f"wrote {len(NORMAL_DEPTHS) + len(cases)} BAMs to {out} in "
        f"{time.perf_counter() - began:.1f} s"
    )


if __name__ == "__main__":
    main()
