"""The typed result of a call: the one model every output is written from and read back into.

`Result` is what `metcnv call` produces and what the report, the exports, the cohort views
and the verdict read; `{sample}.metcnv.json` is `Result.to_json()`, checked on reading
against the JSON Schema shipped beside this module (`schemas/metcnv-result.schema.json`,
generated from these models: `python -m metcnv.model > src/metcnv/schemas/...`). A field
is added in one place, here, and is then written, validated and read everywhere.
"""

from __future__ import annotations

import json
import math
from enum import Enum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal, get_args

import jsonschema
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from metcnv import params
from metcnv.errors import MetcnvError

SCHEMA, SCHEMA_VERSION = "metcnv-result", 2
SCHEMA_FILE = "schemas/metcnv-result.schema.json"
SampleType = Literal["tumor", "blood", "effusion", "normal"]
SAMPLE_TYPES = get_args(SampleType)


def _finite_or_none(value):
    """NaN and infinities, which JSON cannot hold, become null (a metric that is unknown)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


Metric = Annotated[float | None, BeforeValidator(_finite_or_none)]
Interval = tuple[float, float]  # a 95% interval [low, high]


class Model(BaseModel):
    """Strict by default: unknown keys and non-finite numbers are errors, not silence."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)


class Status(str, Enum):
    """A gene call's status, with its words for people and its colour in every view."""

    label: str
    colour: str
    meaning: str

    def __new__(cls, value: str, label: str, colour: str, meaning: str) -> Status:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label, member.colour, member.meaning = label, colour, meaning
        return member

    HIGH_LEVEL_FOCAL_AMPLIFICATION = (
        "high_level_focal_amplification",
        "High-level focal {gene} amplification",
        "#b2182b",
        "focal, more than high_level_cn tumor copies (NCCN: NGS copy number > 10)",
    )
    FOCAL_AMPLIFICATION = (
        "focal_amplification",
        "Focal {gene} amplification",
        "#e66101",
        "focal, at least amp_min_cn tumor copies",
    )
    FOCAL_GAIN = (
        "focal_gain",
        "Focal {gene} gain below the amplification threshold",
        "#b8860b",
        "focal, fewer than amp_min_cn tumor copies",
    )
    CHR7_GAIN = (
        "chr7_gain",
        "{gene} gained with chromosome 7 (polysomy or broad gain), not focal amplification",
        "#b8860b",
        "gained with the rest of chromosome 7: never a focal amplification",
    )
    BROAD_GAIN = (
        "broad_gain",
        "{gene} gained with its chromosome, not focal amplification",
        "#b8860b",
        "gained with the rest of its chromosome (genes off chr7)",
    )
    NEUTRAL = ("neutral", "No {gene} amplification detected", "#4d4d4d", "no gain or loss seen")
    LOSS = ("loss", "{gene} copy loss", "#2166ac", "min_z standard errors below the normals")
    INCONCLUSIVE = (
        "inconclusive",
        "{gene} copy number cannot be called",
        "#7b3294",
        "the data cannot answer; the reason says why",
    )

    def headline(self, gene: str = "MET") -> str:
        """The status in words, for `gene`."""
        return self.label.format(gene=gene)

    @property
    def is_event(self) -> bool:
        """A called change (a VCF record), not `neutral` or `inconclusive`."""
        return self not in (Status.NEUTRAL, Status.INCONCLUSIVE)

    @property
    def is_amplification(self) -> bool:
        """A focal amplification at or above `amp_min_cn` tumor copies."""
        return self in (Status.HIGH_LEVEL_FOCAL_AMPLIFICATION, Status.FOCAL_AMPLIFICATION)


class CallSettings(Model):
    """Every threshold a call depends on; the CLI options and the workflow's config are made
    from (or tested against) these fields, and all are printed with the result."""

    focal_max_size: int = Field(
        params.FOCAL_MAX_SIZE, ge=1, description="longest amplicon still called focal (bp)"
    )
    amp_min_cn: float = Field(
        params.AMP_MIN_CN, gt=0, description="tumor copies for a focal amplification"
    )
    high_level_cn: float = Field(
        params.HIGH_LEVEL_CN,
        gt=0,
        description="high-level amplification: strictly more tumor copies than this",
    )
    min_z: float = Field(
        params.MIN_Z, gt=0, description="standard errors a gain or a focal contrast must reach"
    )
    fish_low: float = Field(
        params.FISH_LOW, gt=0, description="MET/chr7 ratio from which the category is 'low'"
    )
    fish_intermediate: float = Field(
        params.FISH_INTERMEDIATE,
        gt=0,
        description="MET/chr7 ratio above which the category is 'intermediate'",
    )
    fish_high: float = Field(
        params.FISH_HIGH, gt=0, description="MET/chr7 ratio from which the category is 'high'"
    )
    segment_alpha: float = Field(
        params.SEGMENT_ALPHA,
        gt=0,
        lt=1,
        description="significance level of a segmentation change point",
    )
    min_gene_bins: int = Field(
        params.MIN_GENE_BINS, ge=1, description="fewest usable bins a gene is called from"
    )
    chip_genes: list[str] = Field(
        list(params.CHIP_GENES),
        description="genes (panel BED names) whose somatic mutations a blood or effusion "
        "sample's tumor fraction is not fitted to: clonal haematopoiesis",
    )

    @model_validator(mode="after")
    def _ordered(self) -> CallSettings:
        """Thresholds that only make sense in order (validation.checked names the options)."""
        if self.amp_min_cn > self.high_level_cn:
            raise ValueError(
                f"amp_min_cn {self.amp_min_cn:g} is above high_level_cn {self.high_level_cn:g}; "
                "make amp_min_cn <= high_level_cn"
            )
        if not self.fish_low <= self.fish_intermediate <= self.fish_high:
            raise ValueError(
                f"fish_low {self.fish_low:g}, fish_intermediate {self.fish_intermediate:g} and "
                f"fish_high {self.fish_high:g} are out of order; make fish_low <= "
                "fish_intermediate <= fish_high"
            )
        return self


class InputSettings(Model):
    """Settings of how the inputs are read and binned: fixed once made (shared freely)."""

    model_config = ConfigDict(frozen=True)


class ReadSettings(InputSettings):
    """How a BAM/CRAM is read: its reference (CRAM), the MAPQ filter, threads and,
    in MET-first mode, the one chromosome read (`region`, e.g. "chr7"; None: all)."""

    fasta: Path | None = Field(None, description="reference FASTA (needed for CRAM)")
    min_mapq: int = Field(
        params.MIN_MAPQ,
        ge=0,
        le=params.MAX_MAPQ,
        description="ignore reads below this mapping quality",
    )
    threads: int = Field(
        1,
        ge=1,
        le=params.MAX_THREADS,
        description="threads counting contigs in parallel (one contig: BAM/CRAM decoding threads)",
    )
    region: str | None = Field(
        None, description="MET-first mode: read only this chromosome (e.g. chr7)"
    )


class BinSettings(InputSettings):
    """How a panel BED becomes bins; stored in the panel of normals with the read filter."""

    target_bin_size: int = Field(
        params.TARGET_BIN_SIZE,
        ge=params.MIN_TARGET_BIN_SIZE,
        description="split targets into bins of about this size (bp)",
    )
    offtarget_bin_size: int = Field(
        params.OFFTARGET_BIN_SIZE,
        ge=params.MIN_OFFTARGET_BIN_SIZE,
        description="off-target background bin size (bp)",
    )
    access: Path | None = Field(None, description="BED of accessible regions")
    offtarget: bool = Field(True, description="count off-target background bins")


class AlleleSettings(InputSettings):
    """Where alleles are counted (a sites VCF, or none) and the base quality they need."""

    snps: Path | None = Field(None, description="sites VCF of germline SNPs")
    min_baseq: int = Field(
        params.MIN_BASEQ,
        ge=0,
        le=params.MAX_BASEQ,
        description="with snps, ignore bases below this base quality",
    )


class QcThresholds(Model):
    """The QC limits a sample was judged by: each a warn and a fail level."""

    min_met_depth: dict[str, float] = params.QC_MIN_MET_DEPTH
    max_mapd: dict[str, float] = params.QC_MAX_MAPD
    min_relative_pon_correlation: dict[str, float] = params.QC_MIN_RELATIVE_CORRELATION
    max_masked_fraction: dict[str, float] = params.QC_MAX_MASKED_FRACTION
    min_on_target_fraction: dict[str, float] = params.QC_MIN_ON_TARGET


class Settings(CallSettings):
    """The call's thresholds and the read filters its counts were made with."""

    min_mapq: int | None = Field(description="reads below this mapping quality were ignored")
    exclude_flags: str | None = Field(description="reads with any of these flags were ignored")
    qc: QcThresholds = Field(default_factory=QcThresholds)


class PuritySolution(Model):
    """One local optimum of the purity/ploidy likelihood surface."""

    purity: float
    ploidy: float
    log_likelihood: float


class PurityFit(Model):
    """What the sample's own depth and allele counts say about its tumor fraction."""

    identifiable: bool = Field(description="whether the data fix the tumor fraction")
    value: float | None = Field(description="the best fit; null when not identifiable")
    ci95: Interval = Field(description="95% profile-likelihood interval of the tumor fraction")
    ploidy: float = Field(description="tumor ploidy of the best fit")
    ploidy_ci95: Interval | None = Field(
        None, description="ploidies inside the fit's 95% region (purity and ploidy jointly)"
    )
    reason: str
    n_segments: int
    n_snps: int = Field(description="SNP sites whose allele counts entered the fit")
    n_mutations: int = Field(
        0, description="somatic mutations (--mutations) whose allele counts entered the fit"
    )
    solutions: list[PuritySolution] = Field(description="local optima, best first")
    profile: list[PuritySolution] = Field(
        description="the profile likelihood: at each purity of the grid, its best ploidy"
    )


def percent(fraction: float) -> str:
    """A tumor fraction in words: whole percents from 1%, two digits below (0.25%), so a
    purity grid point under 1% never reads as 0%."""
    return f"{fraction:.0%}" if fraction >= 0.01 else f"{fraction * 100:.2g}%"


class Purity(Model):
    """The tumor fraction the tumor copy numbers are computed with, and where it came from."""

    value: float | None = Field(gt=0, le=1, description="the tumor fraction, e.g. 0.3 for 30%")
    ci95: Interval | None = Field(
        None, description="95% interval carried into the tumor copy numbers (estimated only)"
    )
    source: Literal["given", "estimated", "none"]
    reason: str = Field(description="why this value, or why there is none")
    fit: PurityFit | None = Field(None, description="the data's own estimate, also when given")

    @model_validator(mode="after")
    def _value_matches_source(self) -> Purity:
        if (self.value is None) != (self.source == "none"):
            raise ValueError(f"purity source {self.source!r} with value {self.value}")
        if (self.ci95 is not None) != (self.source == "estimated"):
            raise ValueError(f"purity source {self.source!r} with interval {self.ci95}")
        return self


class Ploidy(Model):
    """The tumor ploidy the purity formula uses."""

    value: float = Field(gt=0, le=params.MAX_PLOIDY, description="the tumor ploidy, e.g. 2")
    source: Literal["given", "estimated", "default"]
    ci95: Interval | None = Field(
        None, description="95% interval carried into the tumor copy numbers (estimated only)"
    )

    @model_validator(mode="after")
    def _interval_matches_source(self) -> Ploidy:
        if self.ci95 is not None and self.source != "estimated":
            raise ValueError(f"ploidy source {self.source!r} with interval {self.ci95}")
        return self


class Sample(Model):
    """What the user said about a sample (or what was assumed, and said so)."""

    name: str = Field(min_length=1)
    sample_type: SampleType = "tumor"
    purity: Purity
    ploidy: Ploidy

    @classmethod
    def given(
        cls, name: str, sample_type: str, purity: float | None, ploidy: float | None
    ) -> Sample:
        """A sample with the purity and ploidy a user gave (None: not given)."""
        return cls(  # nested as plain values, so that an error's location names the field
            name=name,
            sample_type=sample_type,
            purity={
                "value": purity,
                "source": "none" if purity is None else "given",
                "reason": "no tumor fraction was given"
                if purity is None
                else "tumor fraction given by the user",
            },
            ploidy={
                "value": params.PLOIDY if ploidy is None else ploidy,
                "source": "default" if ploidy is None else "given",
            },
        )


class Span(Model):
    """A stretch of a chromosome, 0-based half-open."""

    chrom: str
    start: int
    end: int
    size: int


class Segment(Span):
    """The CBS segment holding a gene."""

    n_bins: int
    log2: float


class Amplicon(Span):
    """The extent judged for focality: the gene's segment, that segment joined by the adjacent
    segments at its level, or the arc around the gene."""

    from_: Literal["segment", "segments at the gene's level", "arc around the gene"] = Field(
        alias="from"
    )


class Background(Model):
    """The gene's chromosome outside its amplicon: the denominator of the FISH-like ratio."""

    log2: float
    log2_se: float
    n_bins: int
    copy_number: float
    tumor_copy_number: float | None
    bins: str = Field(description="which bins were used")


class GeneCall(Model):
    """Everything reported for one panel gene (docs/outputs.md derives each number)."""

    gene: str
    chrom: str | None = None
    start: int | None = None
    end: int | None = None
    n_bins: int
    log2: float | None = None
    log2_se: float | None = None
    log2_ci95: Interval | None = None
    copy_ratio: float | None = None
    copy_number: float | None = Field(None, description="sample-average copy number 2r")
    copy_number_ci95: Interval | None = None
    z: float | None = Field(None, description="standard errors from the normals")
    tumor_copy_number: float | None = Field(None, description="purity-adjusted; null without")
    tumor_copy_number_ci95: Interval | None = None
    tumor_copy_number_clamped: bool = False
    tumor_copy_number_min: float | None = Field(
        None,
        description="without a tumor fraction: the tumor copy number's 95% lower bound over "
        "every tumor fraction and ploidy the reads allow (what the call rests on; the "
        "sample-average copy number's lower bound when they allow any)",
    )
    baf: float | None = Field(None, description="minor-allele fraction of the amplicon's SNPs")
    baf_ci95: Interval | None = None
    baf_snps: int = Field(0, description="SNP sites over the amplicon in the BAF")
    major_cn: float | None = Field(None, description="tumor copies of the more common allele")
    minor_cn: float | None = Field(None, description="tumor copies of the other allele")
    limit_of_detection: float | None = None
    limit_of_detection_copy_ratio: float | None = None
    limit_of_detection_reason: str | None = None
    segment: Segment | None = None
    amplicon: Amplicon | None = None
    chrom_background: Background | None = None
    chrom_ratio: float | None = Field(None, description="gene/chromosome (MET/chr7) ratio")
    chrom_ratio_ci95: Interval | None = None
    fish_category: Literal["none", "low", "intermediate", "high"] | None = None
    focal: bool | None = None
    focal_z: float | None = Field(None, description="SE by which the gene exceeds its background")
    focal_allelic_z: float | None = Field(
        None,
        description="SE by which the amplicon's minor-allele fraction lies below its "
        "chromosome's (one-sided likelihood ratio); null without SNPs on both sides",
    )
    focal_reason: str | None = None
    status: Status
    status_reason: str
    over_10_copies: bool | None
    over_10_reason: str

    def headline(self) -> tuple[float | None, Interval | None, str]:
        """The copy number a reader sees first: the tumor's when known, else the sample's."""
        if self.tumor_copy_number is not None:
            return self.tumor_copy_number, self.tumor_copy_number_ci95, "tumor"
        return self.copy_number, self.copy_number_ci95, "sample_average"


class QC(Model):
    """Quality metrics from the sample's own data, and the verdict they lead to."""

    status: Literal["pass", "warn", "fail"]
    reasons: list[str]
    failed: list[str] = Field(
        default_factory=list, description="the metrics (keys below) beyond their fail level"
    )
    met_median_depth: Metric
    on_target_fraction: Metric
    mapd_target: Metric
    mapd_offtarget: Metric
    bins_used: int
    bins_masked: int
    masked_fraction: Metric
    pon_correlation: Metric
    pon_correlation_normals: Metric
    pon_correlation_relative: Metric


class PonInfo(Model):
    """The panel of normals a sample was called against."""

    path: str
    md5: str
    flat: bool
    n_normals: int
    normals: list[str]
    build: str
    bins_md5: str
    metcnv_version: str
    settings: dict[str, str | int | float | bool | None]
    excluded: dict[str, str] = Field(
        default_factory=dict,
        description="normals left out of the panel as outliers against the others: the reason",
    )
    normalised_by: str | None = Field(
        None,
        description="the tool whose normalised copy ratios were called: then there is no "
        "panel of normals, and path is the copy-ratio file",
    )


class FileRef(Model):
    path: str | None
    md5: str | None


class ImportedFile(FileRef):
    format: str = Field(description="another tool's format, as metcnv.formats names it")


class Inputs(Model):
    alignments: FileRef
    coverage: FileRef | None = None
    imported: list[ImportedFile] = Field(
        default_factory=list,
        description="other tools' files read instead of a BAM/CRAM or a metcnv coverage file",
    )
    steps_done_elsewhere: list[str] = Field(
        default_factory=list, description="steps of metcnv's pipeline those tools did instead"
    )


class Outputs(Model):
    """File names of the tables written beside the JSON."""

    bins: str
    segments: str
    genes: str
    snps: str
    mutations: str | None = Field(None, description="somatic mutations' table (mutations.tsv)")


class Result(Model):
    """One sample's call: `{sample}.metcnv.json` (docs/outputs.md)."""

    schema_: Literal["metcnv-result"] = Field(SCHEMA, alias="schema")
    schema_version: Literal[2] = SCHEMA_VERSION
    sample: str = Field(min_length=1)
    sample_type: SampleType
    read_groups_sm: list[str] | None = Field(
        None,
        description="the SM (sample) names of the reads' read groups, to compare with "
        "`sample`; null when the coverage was counted before metcnv recorded them",
    )
    purity: Purity
    ploidy: Ploidy
    build: str
    verdict: str = Field(description="one or two plain sentences for a clinician")
    met: GeneCall = Field(description="the MET entry of `genes`, repeated for readers")
    genes: list[GeneCall]
    qc: QC
    reference: PonInfo
    inputs: Inputs
    settings: Settings
    software: dict[str, str]
    warnings: list[str]
    outputs: Outputs

    @model_validator(mode="after")
    def _met_is_a_gene(self) -> Result:
        if self.met not in self.genes:
            raise ValueError("`met` is not one of `genes`")
        return self

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str | Path) -> Result:
        """Parse and validate a result document; every problem is one line naming `source`."""
        regenerate = "re-run `metcnv call` on its coverage file with this metcnv"
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise MetcnvError(f"{source}: not valid JSON ({error}); {regenerate}") from None
        if not isinstance(document, dict) or document.get("schema") != SCHEMA:
            raise MetcnvError(
                f"{source}: not a metcnv result (schema is not {SCHEMA!r}); pass the "
                "{sample}.metcnv.json written by `metcnv call` or `metcnv run`"
            )
        if document.get("schema_version") != SCHEMA_VERSION:
            raise MetcnvError(
                f"{source}: metcnv-result schema version {document.get('schema_version')!r}, "
                f"this metcnv reads version {SCHEMA_VERSION}; {regenerate}"
            )
        error = jsonschema.exceptions.best_match(_validator().iter_errors(document))
        if error is not None:
            where = ".".join(map(str, error.absolute_path)) or "the document"
            raise MetcnvError(f"{source}: at {where}: {error.message}; {regenerate}")
        return cls.model_validate(document)


def json_schema() -> dict:
    """The JSON Schema of `Result`, as shipped in the package."""
    schema = Result.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


@cache
def _validator() -> jsonschema.Draft202012Validator:
    text = resources.files("metcnv").joinpath(SCHEMA_FILE).read_text()
    return jsonschema.Draft202012Validator(json.loads(text))


if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2))
