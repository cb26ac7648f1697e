"""Standard formats other tools read: VCF 4.4 copy number records, IGV SEG, MultiQC tables.

- VCF: one `<CNV>` record per panel gene with a called change (status neither `neutral`
  nor `inconclusive`), spanning the gene's target bins: POS is the base before the
  event (1-based, the padding base, REF `N` as no reference sequence is read), END the
  event's last base, SVLEN = END - POS, SVCLAIM=D (an abundance claim from depth),
  IMPRECISE (bin resolution). FORMAT GT:CN:MCN:CNQ:CICN. CN is the tumor copy number when
  the purity is known, else the sample-average copy number (INFO/CNTYPE says which); MCN
  the minor allele's tumor copies where SNPs over the event and a purity give it. CNQ is
  the phred-scaled one-sided normal tail of the gene's z-score, capped at 99. Written
  by htslib (pysam) from the header template `templates/cnv.vcf.header`, so every record
  is checked against the header; bgzipped and tabix-indexed. Numbers are rounded (CN, CICN,
  Z to 2 decimals, LOG2, LOG2CI, SAMPLECN to 3, CNQ to 1) and htslib writes a float with
  at most 6 significant digits.
- SEG: `ID chrom loc.start loc.end num.mark seg.mean`, 1-based starts, log2 last.
- MultiQC custom content `{sample}_mqc.tsv`: one general-statistics row per sample; every
  file carries the identical header block, as MultiQC requires for one `id`. Beside it,
  `{sample}_met_cn_mqc.tsv`: MET's copy number and its 95% interval as one stacked bar per
  sample (up to the lower bound, on to the estimate, on to the upper bound).
- CNVkit `{sample}.cnr` and `{sample}.cns` (0-based, BED-like): the bins metcnv used with
  their log2 ratios, and its segments, so that CNVkit's scatter, diagram and export
  commands draw and convert metcnv's profile. CNVkit's weights are relative (0-1]: metcnv's
  inverse-variance weights are divided by their largest; off-target bins are named
  `Antitarget` as CNVkit names them.

Each format is one entry of EXPORTS; `write_exports` writes them all.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd
import pysam
from scipy.special import ndtr

from metcnv import __version__
from metcnv.files import CONTROL, atomic_write, temporary_folder
from metcnv.genome import LENGTHS, PRIMARY, canonical, contig_order
from metcnv.loading import SampleResult
from metcnv.model import GeneCall, Result, Status

CNQ_MAX = 99.0
SEG_COLUMNS = ["ID", "chrom", "loc.start", "loc.end", "num.mark", "seg.mean"]
TEMPLATE = resources.files("metcnv").joinpath("templates/cnv.vcf.header")


# --- VCF ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CnvRecord:
    """The values of one `<CNV>` record, rounded as written; None is written as missing."""

    chrom: str
    pos: int  # 1-based: the padding base before the event
    end: int  # the event's last base: INFO/END, which pysam keeps as the record's stop
    info: dict[str, object]  # the rest of INFO in order written; flags True; absent: not written
    call: dict[str, object]  # the sample's GT:CN:MCN:CNQ:CICN


@dataclass(frozen=True)
class VcfContent:
    """What one sample's VCF says: the facts for its header and its records in order."""

    sample: str
    source: str
    build: str | None
    chroms: set[str]  # contigs the result's genes are on
    filter: str
    records: list[CnvRecord]


def vcf_content(result: Result) -> VcfContent:
    """The VCF of one result: the one place the VCF reads the result's own fields."""
    records = [r for r in map(cnv_record, result.genes) if r is not None]
    records.sort(key=lambda r: (contig_order(canonical(r.chrom)), r.chrom, r.pos))
    return VcfContent(
        sample=result.sample,
        source=f"metcnv {result.software.get('metcnv', __version__)}",
        build=result.build,
        chroms={g.chrom for g in result.genes if g.chrom},
        filter={"warn": "qc_warn", "fail": "qc_fail"}.get(result.qc.status, "PASS"),
        records=records,
    )


def cnv_record(gene: GeneCall) -> CnvRecord | None:
    """One gene call as a `<CNV>` record, or None if it calls no change or has no place.

    The one place the VCF reads a gene call's fields.
    """
    if not gene.status.is_event or gene.chrom is None or gene.start is None:
        return None
    pos = max(gene.start, 1)  # 1-based position of the base before the event
    end = gene.end
    cn, ci, kind = gene.headline()
    z = gene.z
    cnq = None if z is None else min(CNQ_MAX, -10 * math.log10(max(float(ndtr(-abs(z))), 1e-300)))
    info: dict[str, object] = {
        "SVLEN": end - pos,
        "SVCLAIM": "D",
        "IMPRECISE": True,
        "GENE": _info_value(gene.gene),
        "STATUS": gene.status.value,
    }
    if gene.focal:
        info["FOCAL"] = True
    if gene.log2 is not None:
        info["LOG2"] = _round(gene.log2, 3)
        if gene.log2_ci95 is not None:
            info["LOG2CI"] = tuple(_round(v, 3) for v in gene.log2_ci95)
    info["CNTYPE"] = kind
    if gene.copy_number is not None:
        info["SAMPLECN"] = _round(gene.copy_number, 3)
    if z is not None:
        info["Z"] = _round(z, 2)
    call = {
        "GT": (None, 1),  # ./1
        "CN": _round(cn, 2),
        "MCN": _round(gene.minor_cn, 2),
        "CNQ": _round(cnq, 1),
        "CICN": (None, None) if ci is None else tuple(_round(v, 2) for v in ci),
    }
    return CnvRecord(gene.chrom, pos, end, info, call)


def _round(value, digits: int) -> float | None:
    """`value` rounded to `digits` decimals; None stays None (written as missing)."""
    return None if value is None else round(value, digits)


def _info_value(text: str) -> str:
    """An INFO string value: no whitespace, semicolons, equals signs or commas."""
    return re.sub(r"[\s;=,]", "_", str(text))


def vcf_header(content: VcfContent) -> pysam.VariantHeader:
    """The template's lines (VCF 4.4), then source, reference, contigs and the sample.

    Contigs are those of the genes and, when the build is known, every primary contig of
    the build with its length, spelt as the data spells chr7.
    """
    header = pysam.VariantHeader()
    for record in list(header.records):  # it starts as VCFv4.2: the template's lines instead
        record.remove()
    for line in TEMPLATE.read_text().splitlines():
        header.add_line(line)
    header.add_meta("source", content.source)
    if content.build:
        header.add_meta("reference", content.build)
    chroms = set(content.chroms)
    lengths = LENGTHS.get(content.build or "", {})
    if lengths:
        prefix = "chr" if any(c.startswith("chr") for c in chroms) or not chroms else ""
        chroms |= {prefix + c[3:] for c in PRIMARY}
    for chrom in sorted(chroms, key=lambda c: (contig_order(canonical(c)), c)):
        length = lengths.get(canonical(chrom))
        header.add_line(
            f"##contig=<ID={chrom},length={length},assembly={content.build}>"
            if length
            else f"##contig=<ID={chrom}>"
        )
    header.add_sample(content.sample)
    return header


def write_vcf(content: VcfContent, path: Path) -> list[Path]:
    """bgzipped VCF at `path` (…/X.cnv.vcf.gz) and its tabix index; returns both paths.

    Written by htslib (pysam), which checks the header and every record. Both files are
    made in a temporary folder beside `path` and renamed into place (the VCF first, then
    its newer index), so a failure leaves neither half-written.
    """
    path = Path(path)
    index = path.with_name(path.name + ".tbi")
    with temporary_folder(path) as tmp:
        packed = tmp / "out.vcf.gz"
        with pysam.VariantFile(str(packed), "wz", header=vcf_header(content)) as vcf:
            for record in content.records:
                vcf.write(
                    vcf.new_record(
                        contig=record.chrom,
                        start=record.pos - 1,
                        stop=record.end,
                        alleles=("N", "<CNV>"),  # no reference sequence is read
                        filter=content.filter,
                        info=record.info,
                        samples=[record.call],
                    )
                )
        pysam.tabix_index(str(packed), preset="vcf", force=True)
        os.replace(packed, path)
        os.replace(tmp / "out.vcf.gz.tbi", index)
    return [path, index]


# --- SEG ------------------------------------------------------------------------------
def seg_frame(sample: str, segments: pd.DataFrame) -> pd.DataFrame:
    """IGV SEG rows of one sample (1-based start, log2 in the last column)."""
    return pd.DataFrame(
        {
            "ID": sample,
            "chrom": segments["chrom"].astype(str),
            "loc.start": segments["start"].astype(int) + 1,
            "loc.end": segments["end"].astype(int),
            "num.mark": segments["n_bins"].astype(int),
            "seg.mean": segments["log2"].astype(float).round(4),
        },
        columns=SEG_COLUMNS,
    )


def write_seg(frame: pd.DataFrame, path: Path) -> Path:
    with atomic_write(path) as handle:
        frame.to_csv(handle, sep="\t", index=False, lineterminator="\n", na_rep="NA")
    return Path(path)


# --- MultiQC --------------------------------------------------------------------------
MQC_TEMPLATE = """\
# id: 'metcnv'
# section_name: 'MET copy number (metcnv)'
# description: "MET amplification calls and sample quality from metcnv. MET CN is the tumor
#   copy number (purity-adjusted) where a purity was given, else the sample average 2r."
# plot_type: 'generalstats'
# pconfig:
#     met_status:
#         title: 'MET status'
#         description: 'metcnv MET call'
#         cond_formatting_rules:
#             fail: {fail}
#             warn: {warn}
#             blue: {blue}
#     met_copy_number:
#         title: 'MET CN'
#         description: 'MET copy number: tumor (purity-adjusted), else sample average 2r'
#         format: '{:,.1f}'
#         scale: 'OrRd'
#         min: 0
#     met_cn_type:
#         title: 'MET CN type'
#         description: 'tumor: purity-adjusted; sample_average: 2 x copy ratio (a lower bound)'
#     met_chr7_ratio:
#         title: 'MET/chr7'
#         description: 'MET / chromosome 7 copy number ratio (NGS analogue of FISH MET/CEP7)'
#         format: '{:,.2f}'
#         scale: 'OrRd'
#         min: 0
#     fish_category:
#         title: 'FISH-eq.'
#         description: 'FISH-equivalent category of the MET/chr7 ratio'
#     qc_status:
#         title: 'MET QC'
#         description: 'metcnv quality control: pass, warn or fail'
#     qc_reasons:
#         title: 'QC reasons'
#         description: 'Why QC warned or failed'
#         hidden: true
"""


def _statuses(*statuses: Status) -> str:
    """MultiQC's rule that a cell equals one of these statuses."""
    return "[" + ", ".join(f"{{s_eq: '{status.value}'}}" for status in statuses) + "]"


MQC_HEADER = (
    MQC_TEMPLATE.replace("{fail}", _statuses(*(s for s in Status if s.is_amplification)))
    .replace("{warn}", _statuses(Status.CHR7_GAIN, Status.INCONCLUSIVE))
    .replace("{blue}", _statuses(Status.LOSS))
)
MQC_COLUMNS = [
    "Sample",
    "met_status",
    "met_copy_number",
    "met_cn_type",
    "met_chr7_ratio",
    "fish_category",
    "qc_status",
    "qc_reasons",
]


def mqc_row(result: Result) -> list[str]:
    """The general-statistics row of one result: the one place it reads the result."""
    met, qc = result.met, result.qc
    cn, _, kind = met.headline()
    row = [
        result.sample,
        met.status.value,
        "" if cn is None else f"{cn:.3f}",
        kind,
        "" if met.chrom_ratio is None else f"{met.chrom_ratio:.3f}",
        met.fish_category or "",
        qc.status,
        "; ".join(qc.reasons) or "none",
    ]
    return [CONTROL.sub(" ", str(v)) for v in row]


def mqc_text(result: Result) -> str:
    """The whole `_mqc.tsv` of one result: the shared header block, columns and its row."""
    return MQC_HEADER + "\t".join(MQC_COLUMNS) + "\n" + "\t".join(mqc_row(result)) + "\n"


def write_mqc(result: Result, path: Path) -> Path:
    with atomic_write(path) as handle:
        handle.write(mqc_text(result))
    return Path(path)


MQC_PLOT_HEADER = """\
# id: 'metcnv_met_copy_number'
# section_name: 'MET copy number (metcnv)'
# description: "MET copy number with its 95% interval: the bar's darkest part reaches the
#   interval's lower bound, the middle part the estimate, the lightest its upper bound. Tumor
#   copy number where a purity was given or estimated, else the sample average 2r (a lower
#   bound of the tumor's)."
# plot_type: 'bargraph'
# pconfig:
#     id: 'metcnv_met_copy_number_plot'
#     title: 'metcnv: MET copy number (95% interval)'
#     ylab: 'MET copy number'
#     cpswitch: false
#     tt_decimals: 1
# categories:
#     ci_low:
#         name: 'to the 95% lower bound'
#         color: '#b2182b'
#     to_estimate:
#         name: 'to the estimate'
#         color: '#ef8a62'
#     to_ci_high:
#         name: 'to the 95% upper bound'
#         color: '#fddbc7'
Sample\tci_low\tto_estimate\tto_ci_high
"""


def mqc_plot_text(result: Result) -> str:
    """The `_met_cn_mqc.tsv` of one result: MET's copy number and 95% interval as the three
    stacked parts of one bar (no row when MET has no copy number)."""
    cn, ci, _ = result.met.headline()
    if cn is None or ci is None:
        return MQC_PLOT_HEADER
    low, high = ci
    parts = [low, max(cn - low, 0.0), max(high - cn, 0.0)]
    name = CONTROL.sub(" ", result.sample)
    return MQC_PLOT_HEADER + "\t".join([name, *(f"{v:.3f}" for v in parts)]) + "\n"


def write_mqc_plot(result: Result, path: Path) -> Path:
    with atomic_write(path) as handle:
        handle.write(mqc_plot_text(result))
    return Path(path)


# --- CNVkit ---------------------------------------------------------------------------
CNR_COLUMNS = ["chromosome", "start", "end", "gene", "log2", "depth", "weight"]
CNS_COLUMNS = ["chromosome", "start", "end", "gene", "log2", "depth", "probes", "weight"]


def cnvkit_bins(bins: pd.DataFrame) -> pd.DataFrame:
    """The `.cnr` rows: metcnv's used bins, genes as CNVkit labels them, weights relative."""
    used = bins[bins["used"].astype(bool)]
    weight = used["weight"].astype(float)
    return pd.DataFrame(
        {
            "chromosome": used["chrom"].astype(str),
            "start": used["start"].astype(int),
            "end": used["end"].astype(int),
            "gene": used["gene"].where(used["kind"] == "target", "Antitarget").astype(str),
            "log2": used["log2"].astype(float).round(5),
            "depth": used["depth"].astype(float).round(3),
            "weight": (weight / weight.max()).round(5) if len(weight) else weight,
        },
        columns=CNR_COLUMNS,
    ).reset_index(drop=True)


def cnvkit_segments(segments: pd.DataFrame, cnr: pd.DataFrame) -> pd.DataFrame:
    """The `.cns` rows: metcnv's segments with the genes, mean depth, bin count and summed
    weight of the `.cnr` bins inside each, as CNVkit's segment writes them."""
    rows = []
    for seg in segments.itertuples():
        inside = cnr[
            (cnr["chromosome"] == str(seg.chrom))
            & (cnr["start"] >= seg.start)
            & (cnr["end"] <= seg.end)
        ]
        genes = [g for g in inside["gene"] if g not in ("-", "Antitarget")]
        rows.append(
            (
                str(seg.chrom),
                int(seg.start),
                int(seg.end),
                ",".join(dict.fromkeys(genes)) or "-",
                round(float(seg.log2), 5),
                round(float(inside["depth"].mean()), 3) if len(inside) else 0.0,
                len(inside),
                round(float(inside["weight"].sum()), 5),
            )
        )
    return pd.DataFrame(rows, columns=CNS_COLUMNS)


def write_cnvkit(bins: pd.DataFrame, segments: pd.DataFrame, path: Path) -> list[Path]:
    """`{stem}.cnr` at `path` and `{stem}.cns` beside it; returns both paths."""
    path = Path(path)
    cnr = cnvkit_bins(bins)
    cns_path = path.with_suffix(".cns")
    for table, where in ((cnr, path), (cnvkit_segments(segments, cnr), cns_path)):
        with atomic_write(where) as handle:
            table.to_csv(handle, sep="\t", index=False, lineterminator="\n", na_rep="NA")
    return [path, cns_path]


# --- the registry -------------------------------------------------------------------
@dataclass(frozen=True)
class Export:
    """One standard-format file of a sample, named `{stem}{suffix}`.

    `write(sample, path)` writes it from a loaded result (its JSON and tables) and returns
    the paths written (`path` first).
    """

    name: str
    suffix: str
    write: Callable[[SampleResult, Path], list[Path]]


EXPORTS: tuple[Export, ...] = (
    Export("VCF", ".cnv.vcf.gz", lambda r, path: write_vcf(vcf_content(r.result), path)),
    Export("IGV SEG", ".seg", lambda r, path: [write_seg(seg_frame(r.sample, r.segments), path)]),
    Export("MultiQC", "_mqc.tsv", lambda r, path: [write_mqc(r.result, path)]),
    Export("MultiQC plot", "_met_cn_mqc.tsv", lambda r, path: [write_mqc_plot(r.result, path)]),
    Export("CNVkit", ".cnr", lambda r, path: write_cnvkit(r.bins, r.segments, path)),
)


def write_exports(r: SampleResult, out_dir: Path, stem: str) -> list[Path]:
    """Every file of EXPORTS of one loaded result into `out_dir`; returns the paths written."""
    out_dir = Path(out_dir)
    return [
        written
        for export in EXPORTS
        for written in export.write(r, out_dir / f"{stem}{export.suffix}")
    ]
