"""The truth design of the accuracy benchmark: genome, panels, samples and what each one is.

Everything comes from the seeds below through the simulator metcnv_sim (tests/support,
put on sys.path by run.py), so a rerun writes the same BAMs. Two scales share this code:

- `full` (docs/validation.md): 7 chromosomes at their hg38 lengths (chr3, chr7, chr8,
  chr10, chr12, chr17, chr19: 911 Mb, 30% of the genome), a hybrid-capture panel of 161
  exon targets in 10 genes plus one backbone target per 1.5 Mb (~770 targets), two panels
  of normals of 6 (tissue, plasma), the MET grid (11 copy numbers x 8 tumor fractions x
  250x / 1000x), >= 100 negatives, and an amplicon panel with its own 6 normals.
- `small` (tests/test_accuracy.py): chr7, chr12 and chr17, a backbone target per 3 Mb,
  one tissue panel of normals of 6, a handful of positives and negatives at 250x, and three
  cases for the purity estimate (an LOH tumor at 50%, a plasma sample with LOHs at 10%, a
  flat tumor at 30%).

Germline SNPs and allele-specific events (for metcnv's purity estimate, scored when the
benchmark hides the purity; docs/validation.md):

- Sites: `data/snps.vcf.gz`, drawn by metcnv_sim.snps.draw_snp_sites with its defaults:
  about 1 common SNP (population AF 0.05-0.5) per kb of the sequence windows around
  targets (human heterozygosity is ~1 per kb, and a panel's sites VCF lists the common
  ones), 0.1 per kb in the off-target islands, whose few reads measure no allele fraction,
  and one SNP (AF 0.3-0.5) at the centre of every SNP probe.
- SNP probes: the hybrid panel has one `{chrom}_snps` probe per 2 Mb (SNP_PROBE_STEP; ~450
  on the full genome's 911 Mb, ~185 on the small one's 375 Mb). Commercial panels add such
  probes to see LOH and purity: MSK-IMPACT about one per 3 Mb of the genome, FoundationOne
  CDx about one per 1 Mb; 2 Mb puts ~12 probes (~4-6 heterozygous in a person) on the
  shortest arm here (chr17p, 25 Mb), and costs ~50% more reads than no probes, where 1 Mb
  would double the simulation and counting time. The amplicon panel has none (amplicon
  MET panels rarely carry SNP amplicons); its samples still have the SNPs inside targets.
- People: every sample is its own person (germline_seed = its seed), normals included.
- Events: MET amplicons and chr7 gains are of one allele (the extra copies all on one
  homolog: minor 1, as metcnv_sim's 4-tuples mean). Each tumor of the full design gets
  background events on the other chromosomes (_background): 30% none (flat), else 1-3
  arm or whole-chromosome events drawn from arm loss (1,0), chromosome loss (1,0),
  copy-neutral LOH of an arm (2,0), one-allele gain (2,1) of an arm or a chromosome, and
  balanced gain of an arm (2,2). `purity_identifiable` is true when at least one of them is
  a loss of heterozygosity (minor 0: a loss or a copy-neutral LOH), the one kind of event
  whose depth and allele fractions fix the purity. A gain keeps both alleles, and then one
  more copy trades exactly for a lower tumor fraction: (2,1) at purity p has the same depth
  and allele fractions as (3,1) at p/2 or (4,1) at p/3, and a balanced (2,2) at p the same
  as (3,3) at p/2 (every expected log2 and BAF, the ploidy's shift included, is equal); an
  amplicon on one allele shows 1/(2r) at every purity. Such tumors bound the purity from
  above (their largest solution) but do not fix it. About 45% of the tumors are
  identifiable by this definition, 25% have gains only, 30% are flat.

Somatic mutations (for tumor fraction from point mutations' allele fractions): every
sample with a tumor fraction carries 3-6 clonal SNVs (multiplicity 1, on either haplotype,
on the kept one where the tumor lost the other) and 0-2 subclonal ones (ccf 0.2-0.6) at
random positions in its panel's targets, off the SNP sites; simulate_data writes them as
`{sample}.somatic.vcf.gz` beside the BAM. Their counts come from the sample's own random
stream and their positions from another (with_mutations, once the FASTA and the SNP sites
exist), so nothing else of a sample changes, and normals carry none.

Truth columns (one row per sample, normals included) are documented in TRUTH_COLUMNS.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from metcnv_sim.alleles import on_kept_haplotype, segment_alleles
from metcnv_sim.fragments import SampleSpec
from metcnv_sim.mutations import draw_mutations
from metcnv_sim.panel import GeneTargets, make_panel
from metcnv_sim.reference import Reference, make_reference

from metcnv.genome import CHR7_CENTROMERE, GENES, LENGTHS

BUILD = "hg38"
PANEL_SEED, REFERENCE_SEED, FASTA_SEED, DESIGN_SEED = 61, 62, 63, 64
AMPLICON_PANEL_SEED = 65
SNP_SEED = 66  # the population's SNP sites
CLONAL_MUTATIONS, SUBCLONAL_MUTATIONS = (3, 6), (0, 2)  # per tumor, inclusive ranges
SUBCLONAL_CCF = (0.2, 0.6)
SNP_PROBE_STEP = 2_000_000  # one SNP probe per 2 Mb on the hybrid panel (see above)
FOCAL_MAX = 3_000_000  # truth: an amplicon shorter than this is focal (PureCN, metcnv)
MET = GENES[BUILD]["MET"]
CHR7_Q = (CHR7_CENTROMERE[BUILD].end, LENGTHS[BUILD]["chr7"])

# Centromeres (hg38 acen bands, rounded to 0.1 Mb) split chromosomes into arms for the
# background aneuploidy of tumors.
CENTROMERES = {
    "chr3": 90_900_000,
    "chr7": 60_100_000,
    "chr8": 45_200_000,
    "chr10": 40_600_000,
    "chr12": 35_500_000,
    "chr17": 24_700_000,
    "chr19": 26_200_000,
}

# hg38, 0-based half-open; exon counts as in the real genes.
GENE_TARGETS = [
    GeneTargets("PIK3CA", "chr3", 179_148_113, 179_240_093, 21),
    GeneTargets("EGFR", "chr7", 55_019_016, 55_211_628, 28),
    GeneTargets("CDK6", "chr7", 92_604_920, 92_836_594, 8),
    GeneTargets("MET", "chr7", MET.start, MET.end, 21),
    GeneTargets("BRAF", "chr7", 140_719_326, 140_924_929, 18),
    GeneTargets("MYC", "chr8", 127_735_433, 127_742_951, 3),
    GeneTargets("FGFR2", "chr10", 121_478_333, 121_598_458, 18),
    GeneTargets("KRAS", "chr12", 25_205_245, 25_250_929, 5),
    GeneTargets("ERBB2", "chr17", 39_688_093, 39_728_658, 27),
    GeneTargets("CCNE1", "chr19", 29_811_990, 29_824_312, 12),
]

READS = {"read_length": 150, "mapq0_fraction": 0.02}
FRAGMENTS = {  # sample type -> fragment length model and duplicate rate
    "tumor": {"fragment_mean": 250.0, "fragment_sd": 50.0, "duplicate_fraction": 0.05},
    "effusion": {"fragment_mean": 250.0, "fragment_sd": 50.0, "duplicate_fraction": 0.05},
    "blood": {"fragment_mean": 167.0, "fragment_sd": 20.0, "duplicate_fraction": 0.08},
}
OFFTARGET_PER_MB_PER_X = 0.25  # off-target fragments per Mb per 1x of target depth

TRUTH_COLUMNS = {
    "sample": "sample name (= BAM name)",
    "panel": "hybrid | amplicon",
    "pon": "panel of normals the sample is called against (tissue | plasma | amplicon)",
    "klass": "positive | focal_gain | large_amplicon | neutral | other_amp | polysomy | "
    "arm_gain | broad_gain | normal (normal = a panel normal called against the others)",
    "negative": "1 when no MET focal amplification may be called",
    "sample_type": "tumor | blood | effusion | normal",
    "depth": "target depth the simulator aimed at",
    "purity": "true tumor fraction (given to both tools); empty for normals",
    "met_cn": "true tumor copy number at MET",
    "chr7_cn": "true tumor copy number of chr7 outside the MET event (at 7p)",
    "amplicon_size": "size of the MET amplicon or gained segment, bp (0: none)",
    "focal": "1 when MET sits in an amplicon < 3 Mb with more copies than chr7",
    "events": "every simulated tumor segment, chrom:start-end:total:minor joined by ';' "
    "(a later one wins where they overlap; minor = copies of the less-copied allele)",
    "background": "the events besides MET and chr7, by kind: e.g. chr17p:loss(1,0);"
    "chr12:cnloh(2,0) (empty: none)",
    "purity_identifiable": "1 when the tumor has a clonal loss of heterozygosity besides MET "
    "(by design, so depth + allele fractions pin its purity); 0 otherwise; empty for normals",
    "purity_class": "identifiable (as purity_identifiable) | gains (other events, none an "
    "LOH: one-allele or balanced gains, or a chr7 gain under the MET amplicon) | flat "
    "(nothing but the MET event); empty for normals",
    "germline_seed": "the simulated person (every sample its own)",
    "n_mutations": "clonal somatic SNVs in {sample}.somatic.vcf.gz beside the BAM (which also "
    "lists the subclonal ones); 0 for normals",
}


@dataclass(frozen=True)
class Scale:
    """How big a benchmark to make."""

    name: str
    contigs: tuple[str, ...]
    backbone_step: int
    copy_numbers: tuple[float, ...]
    fractions: tuple[float, ...]
    depths: tuple[int, ...]
    normals_per_pon: int = 6
    loo_normals: int | None = None  # normals called against the others (None: all)
    pons: tuple[str, ...] = ("tissue", "plasma")
    extra_negatives: bool = True
    amplicon_panel: bool = True
    background_aneuploidy: bool = True
    extra_cells: tuple[tuple[float, float], ...] = ()  # (copy number, tumor fraction)
    purity_cases: bool = False  # the small design's three cases for the purity estimate


FULL = Scale(
    name="full",
    contigs=("chr3", "chr7", "chr8", "chr10", "chr12", "chr17", "chr19"),
    backbone_step=1_500_000,
    copy_numbers=(2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 40),
    fractions=(0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0),
    depths=(250, 1000),
)
SMALL = Scale(
    name="small",
    contigs=("chr7", "chr12", "chr17"),
    backbone_step=3_000_000,
    copy_numbers=(2, 8, 12, 20),  # none on a threshold (6, 10): see tests/test_accuracy.py
    fractions=(0.2, 0.5, 1.0),
    depths=(250,),
    extra_cells=((20, 0.1), (40, 0.05)),
    pons=("tissue",),
    loo_normals=2,
    extra_negatives=False,
    amplicon_panel=False,
    background_aneuploidy=False,
    purity_cases=True,
)
SCALES = {s.name: s for s in (FULL, SMALL)}


@dataclass
class Sample:
    """One BAM to simulate: its simulator settings and its truth row."""

    spec: SampleSpec
    panel: str
    pon: str
    truth: dict = field(default_factory=dict)
    called: bool = True  # False: a normal only used in panels of normals
    mutation_ccfs: tuple[float, ...] = ()  # one per somatic mutation (with_mutations)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def is_normal(self) -> bool:
        return self.truth["klass"] == "normal"


NOISES = ("synthetic", "real")  # run.py --noise


@dataclass
class Design:
    scale: Scale
    contigs: dict[str, int]
    samples: list[Sample]
    noise: str = "synthetic"  # or "real": capture efficiency and noise from real profiles

    def truth(self) -> pd.DataFrame:
        return pd.DataFrame([s.truth for s in self.samples], columns=list(TRUTH_COLUMNS))

    def normals(self, pon: str) -> list[Sample]:
        return [s for s in self.samples if s.pon == pon and s.is_normal]

    def cases(self) -> list[Sample]:
        return [s for s in self.samples if not s.is_normal]

    def called(self) -> list[Sample]:
        """Every sample the tools call: the cases and the normals left out in turn."""
        return [s for s in self.samples if s.called]


def sample_type_for(fraction: float) -> str:
    """Plasma at low tumor fractions, effusions at high ones, biopsies between."""
    if fraction <= 0.1:
        return "blood"
    return "effusion" if fraction >= 0.8 else "tumor"


def amplicon_over(rng: np.random.Generator, size: int, region=MET) -> tuple[str, int, int]:
    """An interval of `size` bp holding the whole region at a random offset."""
    slack = size - (region.end - region.start)
    start = region.start - int(rng.integers(0, max(slack, 0) + 1))
    return region.chrom, max(start, 0), max(start, 0) + size


class Builder:
    """Makes the samples of a design in a fixed order, each with the next seed."""

    def __init__(self, scale: Scale):
        self.scale = scale
        self.rng = np.random.default_rng(DESIGN_SEED)
        self.samples: list[Sample] = []
        self.contigs = {c: LENGTHS[BUILD][c] for c in scale.contigs}

    def add(
        self,
        name: str,
        klass: str,
        sample_type: str,
        depth: float,
        purity: float | None,
        events: list[tuple[str, int, int, float]],
        *,
        pon: str,
        panel: str = "hybrid",
        met_cn: float = 2.0,
        chr7_cn: float = 2.0,
        amplicon_size: int = 0,
        background: bool = True,
        other_events: list[tuple[str, str, int, int, float, float]] = (),
    ) -> None:
        """`other_events` (label, chrom, start, end, total, minor) come before `events`;
        with `background` (and a scale that has it) a tumor's are drawn (_background)."""
        seed = 1000 + len(self.samples)
        rng = np.random.default_rng([seed, 7])
        others = list(other_events)
        if background and self.scale.background_aneuploidy and purity is not None:
            # its own stream, so the other draws (dispersion) are those of before SNPs
            others = self._background(np.random.default_rng([seed, 8])) + others
        segments = [segment_alleles(e[1:]) for e in others] + [segment_alleles(e) for e in events]
        kind = "blood" if pon == "plasma" else ("tumor" if sample_type == "normal" else sample_type)
        spec = SampleSpec(
            name,
            seed=seed,
            target_depth=float(depth),
            offtarget_per_mb=0.0 if panel == "amplicon" else OFFTARGET_PER_MB_PER_X * depth,
            purity=purity or 0.0,
            segments=tuple((c, int(s), int(e), float(n), float(m)) for c, s, e, n, m in segments),
            dispersion=float(np.exp(rng.uniform(np.log(0.005), np.log(0.02)))),
            amplicon=panel == "amplicon",
            germline_seed=seed,
            **FRAGMENTS[kind],
            **READS,
        )
        ccfs = _mutation_ccfs(np.random.default_rng([seed, 10])) if purity else ()
        focal = klass in ("positive", "focal_gain")
        truth = {
            "sample": name,
            "panel": panel,
            "pon": pon,
            "klass": klass,
            "negative": int(klass in NEGATIVE_CLASSES),
            "sample_type": sample_type,
            "depth": depth,
            "purity": purity,
            "met_cn": met_cn,
            "chr7_cn": chr7_cn,
            "amplicon_size": amplicon_size,
            "focal": int(focal),
            "events": ";".join(f"{c}:{s}-{e}:{n:g}:{m:g}" for c, s, e, n, m in spec.segments),
            "background": ";".join(f"{label}({n:g},{m:g})" for label, *_, n, m in others),
            "purity_identifiable": None
            if purity is None
            else int(any(minor == 0 for *_, minor in others)),
            "purity_class": None,
            "germline_seed": seed,
            "n_mutations": ccfs.count(1.0),
        }
        if purity is not None:
            truth["purity_class"] = (
                "identifiable"
                if truth["purity_identifiable"]
                else ("gains" if others or len(spec.segments) > 1 else "flat")
            )
        self.samples.append(Sample(spec, panel, pon, truth, mutation_ccfs=ccfs))

    def _background(self, rng: np.random.Generator) -> list[tuple]:
        """A tumor's events on chromosomes other than chr7: none (30%) or 1-3 (45/35/20%),
        each on its own chromosome, of the kinds in BACKGROUND_KINDS (label, chrom, start,
        end, total, minor)."""
        others = [c for c in self.scale.contigs if c != "chr7"]
        if rng.random() < 0.3:
            return []
        n = int(rng.choice([1, 2, 3], p=[0.45, 0.35, 0.2]))
        events = []
        names, weights = zip(*((k, w) for k, (w, *_) in BACKGROUND_KINDS.items()), strict=True)
        for chrom in rng.permutation(others)[: min(n, len(others))]:
            chrom = str(chrom)
            kind = str(rng.choice(names, p=np.array(weights) / sum(weights)))
            _, whole, total, minor = BACKGROUND_KINDS[kind]
            if whole:
                span, label = (0, self.contigs[chrom]), chrom
            elif rng.random() < 0.5:
                span, label = (0, CENTROMERES[chrom]), f"{chrom}p"
            else:
                span, label = (CENTROMERES[chrom], self.contigs[chrom]), f"{chrom}q"
            events.append((f"{label}:{kind}", chrom, *span, total, minor))
        return events

    def normals(self, pon: str, panel: str = "hybrid") -> None:
        """A panel of normals' samples: diploid, library depths differing."""
        for i in range(self.scale.normals_per_pon):
            depth = float(np.round(self.rng.uniform(400, 900), -1))
            loo = self.scale.loo_normals
            self.add(
                f"{pon}_normal{i + 1}",
                "normal",
                "normal",
                1000.0 if panel == "amplicon" else depth,
                None,
                [],
                pon=pon,
                panel=panel,
            )
            self.samples[-1].called = loo is None or i < loo


def _mutation_ccfs(rng: np.random.Generator) -> tuple[float, ...]:
    """A tumor's somatic mutations' cancer cell fractions: the clonal ones (1.0) first."""
    clonal = int(rng.integers(CLONAL_MUTATIONS[0], CLONAL_MUTATIONS[1] + 1))
    subclonal = int(rng.integers(SUBCLONAL_MUTATIONS[0], SUBCLONAL_MUTATIONS[1] + 1))
    return (1.0,) * clonal + tuple(np.round(rng.uniform(*SUBCLONAL_CCF, subclonal), 2).tolist())


def with_mutations(
    design: Design, panel_set: dict[str, pd.DataFrame], sites: pd.DataFrame, fasta: Path
) -> None:
    """Give every sample with mutation_ccfs its somatic mutations, in place: positions in its
    panel's targets (draw_mutations needs the FASTA and the SNP sites, so they are drawn
    here, not in build), each on a haplotype the tumor keeps."""
    for sample in design.samples:
        if sample.mutation_ccfs:
            spec = sample.spec
            drawn = draw_mutations(
                panel_set[sample.panel], sites, fasta, [spec.seed, 11], sample.mutation_ccfs
            )
            sample.spec = replace(spec, mutations=on_kept_haplotype(drawn, spec.segments))


# kind: (weight, whole chromosome, total, minor copies in the tumor)
BACKGROUND_KINDS = {
    "loss": (0.25, False, 1.0, 0.0),  # arm loss: LOH
    "chrloss": (0.10, True, 1.0, 0.0),  # whole-chromosome loss: LOH
    "cnloh": (0.20, False, 2.0, 0.0),  # copy-neutral LOH of an arm
    "gain": (0.25, False, 3.0, 1.0),  # one-allele gain of an arm
    "chrgain": (0.10, True, 3.0, 1.0),  # one-allele gain of a chromosome
    "balanced": (0.10, False, 4.0, 2.0),  # balanced gain of an arm (2,2)
}

NEGATIVE_CLASSES = ("neutral", "other_amp", "polysomy", "arm_gain", "broad_gain", "normal")

# Amplicons elsewhere for the 'other_amp' negatives: (gene, chrom, start, end).
OTHER_GENES = ["EGFR", "ERBB2", "KRAS", "CDK6", "MYC", "FGFR2", "CCNE1", "PIK3CA"]


def _gene_region(name: str):
    spec = next(g for g in GENE_TARGETS if g.gene == name)
    return type(MET)(spec.chrom, spec.start, spec.end)


def build(scale: Scale | str = FULL, noise: str = "synthetic", cache: Path | None = None) -> Design:
    """All samples of a design, normals first; names say what each one is.

    `noise="real"` (with_real_noise) takes every sample's capture efficiency and noise from
    real profiles and has no amplicon panel samples (there are no real amplicon normals to
    take their noise from; the panel stays in the reference, so that the genome and every
    other sample are those of the synthetic design); `cache` is a folder for the real
    profiles' residuals.
    """
    scale = SCALES[scale] if isinstance(scale, str) else scale
    b = Builder(scale)
    for pon in scale.pons:
        b.normals(pon)
    rng = b.rng
    chr7 = ("chr7", 0, b.contigs["chr7"])
    # The MET grid: every copy number x tumor fraction x depth, then any extra cells.
    cells = [
        (depth, fraction, cn)
        for depth in scale.depths
        for fraction in scale.fractions
        for cn in scale.copy_numbers
    ]
    for depth, fraction, cn in cells + [(scale.depths[0], f, c) for c, f in scale.extra_cells]:
        kind = sample_type_for(fraction)
        pon = "plasma" if kind == "blood" and "plasma" in scale.pons else "tissue"
        name = f"grid_cn{cn:g}_tf{fraction:g}_{depth}x"
        if cn == 2:
            b.add(name, "neutral", kind, depth, fraction, [], pon=pon)
            continue
        size = int(np.exp(rng.uniform(np.log(200_000), np.log(5_000_000))))
        if scale.name == "small":
            size = 1_000_000
        background = []
        chr7_cn = 2.0
        if cn >= 6 and rng.random() < 1 / 3:  # some amplicons sit on a chr7 gain
            chr7_cn = float(rng.choice([3.0, 4.0]))
            whole = rng.random() < 0.5
            background = [chr7 if whole else ("chr7", *CHR7_Q)]
            background = [(*background[0], chr7_cn)]
            if not whole:
                chr7_cn = 2.0  # 7p, where the truth column is measured, stays 2
        klass = "focal_gain" if cn < 6 else "positive"
        if size >= FOCAL_MAX:
            klass = "large_amplicon"
        b.add(
            name,
            klass,
            kind,
            depth,
            fraction,
            [*background, (*amplicon_over(rng, size), float(cn))],
            pon=pon,
            met_cn=float(cn),
            chr7_cn=chr7_cn,
            amplicon_size=size,
        )
    _negatives(b, scale, chr7)
    if scale.purity_cases:
        _purity_cases(b)
    if scale.amplicon_panel and noise != "real":
        _amplicon_cases(b)
    names = [s.name for s in b.samples]
    if len(set(names)) != len(names):  # a BAM and a truth row per name
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"duplicate sample names: {twice}")
    design = Design(scale, b.contigs, b.samples, noise)
    if noise == "real":
        with_real_noise(design, cache)
    return design


def with_real_noise(design: Design, cache: Path | None = None) -> None:
    """Give every sample per-target and per-island log2 multipliers from real capture
    profiles (real_noise.py says how), in place of metcnv_sim's over-dispersion; the panel's
    own efficiencies are then 1 (panels()), as the multipliers carry the real ones. Each
    sample draws its real profile and its start from its own seed."""
    import real_noise

    panel_set = panels(design)
    islands = reference(design, panel_set).windows.query("kind == 'island'")
    targets, offtarget = real_noise.load("target", cache), real_noise.load("antitarget", cache)
    at_targets = real_noise.target_map(panel_set["hybrid"], targets.bins, BUILD)
    at_islands = real_noise.island_map(islands, offtarget.bins, BUILD)
    for sample in design.samples:
        rng = np.random.default_rng([sample.spec.seed, 9])
        sample.spec = replace(
            sample.spec,
            dispersion=0.0,
            target_log2=real_noise.log2_offsets(targets, at_targets, sample.is_normal, rng),
            island_log2=real_noise.log2_offsets(offtarget, at_islands, sample.is_normal, rng),
        )


def _negatives(b: Builder, scale: Scale, chr7) -> None:
    rng = b.rng
    if not scale.extra_negatives:  # the small scale: one of each kind
        b.add(
            "polysomy_cn4_tf0.6",
            "polysomy",
            "tumor",
            250,
            0.6,
            [(*chr7, 4.0)],
            pon="tissue",
            met_cn=4.0,
            chr7_cn=4.0,
        )
        b.add(
            "arm7q_cn4_tf0.8",
            "arm_gain",
            "effusion",
            250,
            0.8,
            [("chr7", *CHR7_Q, 4.0)],
            pon="tissue",
            met_cn=4.0,
        )
        for gene, size, cn, fraction in (("EGFR", 800_000, 20, 0.5), ("ERBB2", 600_000, 15, 0.3)):
            b.add(
                f"other_{gene}_cn{cn}_tf{fraction:g}",
                "other_amp",
                "tumor",
                250,
                fraction,
                [(*amplicon_over(rng, size, _gene_region(gene)), float(cn))],
                pon="tissue",
            )
        return
    depths = scale.depths
    for cn in (3.0, 4.0, 5.0):
        for fraction in (0.2, 0.4, 0.7, 1.0):
            for depth in depths:
                kind = sample_type_for(fraction)
                b.add(
                    f"polysomy_cn{cn:g}_tf{fraction:g}_{depth}x",
                    "polysomy",
                    kind,
                    depth,
                    fraction,
                    [(*chr7, cn)],
                    pon="tissue",
                    met_cn=cn,
                    chr7_cn=cn,
                )
                b.add(
                    f"arm7q_cn{cn:g}_tf{fraction:g}_{depth}x",
                    "arm_gain",
                    kind,
                    depth,
                    fraction,
                    [("chr7", *CHR7_Q, cn)],
                    pon="tissue",
                    met_cn=cn,
                    amplicon_size=CHR7_Q[1] - CHR7_Q[0],
                )
    for i, gene in enumerate(OTHER_GENES * 2):  # each gene twice, at other CN and depth
        fraction = (0.2, 0.3, 0.5, 0.8)[i % 4]
        depth = depths[(i // 8) % len(depths)]
        cn = (8.0, 12.0, 20.0, 30.0)[(i // 4) % 4]
        size = int(np.exp(rng.uniform(np.log(300_000), np.log(2_000_000))))
        b.add(
            f"other_{gene}_cn{cn:g}_tf{fraction:g}_{depth}x",
            "other_amp",
            sample_type_for(fraction),
            depth,
            fraction,
            [(*amplicon_over(rng, size, _gene_region(gene)), cn)],
            pon="tissue",
        )
    for i, (cn, fraction) in enumerate(
        ((3, 0.5), (4, 0.3), (6, 0.6), (8, 0.8), (4, 1.0), (6, 0.3), (3, 1.0), (8, 0.5))
    ):
        size = int(rng.uniform(10e6, 40e6))
        b.add(
            f"broad7q_cn{cn}_tf{fraction:g}_{size // 1_000_000}mb",
            "broad_gain",
            sample_type_for(fraction),
            depths[i % len(depths)],
            fraction,
            [(*amplicon_over(rng, size), float(cn))],
            pon="tissue",
            met_cn=float(cn),
            amplicon_size=size,
        )
    plasma = "plasma" if "plasma" in scale.pons else "tissue"
    for i, (cn, fraction, whole) in enumerate(
        ((5, 0.1, True), (4, 0.1, False), (5, 0.05, False), (4, 0.05, True))
    ):
        event = chr7 if whole else ("chr7", *CHR7_Q)
        b.add(
            f"blood_{'polysomy' if whole else 'arm7q'}_cn{cn}_tf{fraction:g}",
            "polysomy" if whole else "arm_gain",
            "blood",
            depths[i % len(depths)],
            fraction,
            [(*event, float(cn))],
            pon=plasma,
            met_cn=float(cn),
            chr7_cn=float(cn) if whole else 2.0,
        )


def _purity_cases(b: Builder) -> None:
    """The small design's cases for the purity estimate (its grid is flat): MET amplified
    on one allele (1 Mb) with LOHs elsewhere at 50% (tissue) and 10% (plasma), and MET
    alone at 30%, whose purity the reads cannot pin."""
    chr12, chr17 = b.contigs["chr12"], b.contigs["chr17"]
    loh = [
        ("chr17p:loss", "chr17", 0, CENTROMERES["chr17"], 1.0, 0.0),
        ("chr12:cnloh", "chr12", 0, chr12, 2.0, 0.0),
    ]
    chr17_loss = [("chr17:chrloss", "chr17", 0, chr17, 1.0, 0.0), loh[1]]
    for name, kind, fraction, cn, others in (
        ("purity_loh_cn12_tf0.5", "tumor", 0.5, 12, loh),
        ("purity_loh_cn20_tf0.1", "blood", 0.1, 20, chr17_loss),
        ("purity_flat_cn8_tf0.3", "tumor", 0.3, 8, []),
    ):
        b.add(
            name,
            "positive",
            kind,
            250,
            fraction,
            [(*amplicon_over(b.rng, 1_000_000), float(cn))],
            pon="tissue",
            met_cn=float(cn),
            amplicon_size=1_000_000,
            other_events=others,
        )


def _amplicon_cases(b: Builder) -> None:
    """An amplicon panel (no off-target reads) with its own normals, at 1000x."""
    b.normals("amplicon", panel="amplicon")
    rng = b.rng
    chr7 = ("chr7", 0, b.contigs["chr7"])
    for cn in (2, 6, 10, 20):
        for fraction in (0.3, 0.7):
            name = f"amplicon_cn{cn}_tf{fraction:g}"
            if cn == 2:
                b.add(
                    name, "neutral", "tumor", 1000, fraction, [], pon="amplicon", panel="amplicon"
                )
                continue
            size = int(np.exp(rng.uniform(np.log(200_000), np.log(2_500_000))))
            b.add(
                name,
                "positive",
                "tumor",
                1000,
                fraction,
                [(*amplicon_over(rng, size), float(cn))],
                pon="amplicon",
                panel="amplicon",
                met_cn=float(cn),
                amplicon_size=size,
            )
    for cn, fraction in ((4, 0.5), (5, 0.9)):
        b.add(
            f"amplicon_polysomy_cn{cn}_tf{fraction:g}",
            "polysomy",
            "tumor",
            1000,
            fraction,
            [(*chr7, float(cn))],
            pon="amplicon",
            panel="amplicon",
            met_cn=float(cn),
            chr7_cn=float(cn),
        )
    b.add(
        "amplicon_arm7q_cn4_tf0.6",
        "arm_gain",
        "tumor",
        1000,
        0.6,
        [("chr7", *CHR7_Q, 4.0)],
        pon="amplicon",
        panel="amplicon",
        met_cn=4.0,
    )


AMPLICON_BACKBONE_STEP = 5_000_000  # amplicon panels: one copy-number amplicon per 5 Mb


def panels(design: Design) -> dict[str, pd.DataFrame]:
    """The hybrid-capture panel and, if the design has one, the amplicon panel.

    Both hold the same exon targets (make_panel draws genes before the backbone); the
    amplicon panel has a sparser backbone, its own (PCR) efficiencies and no SNP probes.
    With real noise the efficiencies are 1: each sample's multipliers carry the real ones.
    """
    contigs = design.contigs
    genes = [g for g in GENE_TARGETS if g.chrom in contigs]
    step = design.scale.backbone_step
    snp_probes = dict.fromkeys(contigs, SNP_PROBE_STEP)
    out = {
        "hybrid": make_panel(
            genes, {c: step for c in contigs}, contigs, PANEL_SEED, snp_backbone=snp_probes
        )
    }
    if design.noise == "real":
        out["hybrid"]["efficiency"] = 1.0
    if design.scale.amplicon_panel:
        backbone = {c: AMPLICON_BACKBONE_STEP for c in contigs}
        out["amplicon"] = make_panel(genes, backbone, contigs, PANEL_SEED)
        out["amplicon"]["efficiency"] = make_panel(genes, backbone, contigs, AMPLICON_PANEL_SEED)[
            "efficiency"
        ].to_numpy()
    return out


def reference(design: Design, panel_set: dict[str, pd.DataFrame]) -> Reference:
    """Sequence windows around every target of every panel, and off-target islands."""
    targets = pd.concat(panel_set.values(), ignore_index=True)
    targets = targets.drop_duplicates(["chrom", "start", "end"])
    targets = targets.sort_values(["chrom", "start"])
    return make_reference(design.contigs, targets, REFERENCE_SEED, gc_per_target=True)
