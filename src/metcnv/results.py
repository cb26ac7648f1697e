"""The result files of one call: the JSON (a `model.Result`), bins, segments and genes.

The layout is documented in docs/outputs.md. Every file is written atomically, the JSON
last, so that its presence means the set is complete.
"""

from __future__ import annotations

import json
import platform
from importlib.metadata import version
from pathlib import Path

import pandas as pd

from metcnv import __version__
from metcnv.call import CallResult
from metcnv.coverage import SampleCoverage
from metcnv.files import atomic_write, locked, md5sum, safe_stem
from metcnv.formats import Imported
from metcnv.model import (
    CallSettings,
    FileRef,
    GeneCall,
    ImportedFile,
    Inputs,
    Outputs,
    PonInfo,
    Result,
    Sample,
    Settings,
)
from metcnv.pon import PanelOfNormals
from metcnv.verdict import verdict

BIN_OUTPUT = [
    "chrom",
    "start",
    "end",
    "gene",
    "kind",
    "count",
    "depth",
    "gc",
    "log2",
    "weight",
    "used",
    "pon_spread",
]
SEGMENT_OUTPUT = [
    "chrom",
    "start",
    "end",
    "n_bins",
    "log2",
    "se",
    "copy_ratio",
    "copy_number",
    "n_snps",
    "baf",
    "baf_ci_low",
    "baf_ci_high",
    "major_cn",
    "minor_cn",
]
GENE_OUTPUT = [
    "gene",
    "chrom",
    "start",
    "end",
    "n_bins",
    "log2",
    "log2_ci_low",
    "log2_ci_high",
    "copy_ratio",
    "copy_number",
    "copy_number_ci_low",
    "copy_number_ci_high",
    "tumor_copy_number",
    "tumor_copy_number_ci_low",
    "tumor_copy_number_ci_high",
    "z",
    "limit_of_detection",
    "focal",
    "baf",
    "major_cn",
    "minor_cn",
    "status",
]
SNP_OUTPUT = [
    "chrom",
    "pos",
    "ref",
    "alt",
    "pop_af",
    "ref_count",
    "alt_count",
    "other_count",
    "depth",
    "het_alt_fraction",
    "segment",
    "used",
    "reason",
]


MUTATION_OUTPUT = [
    "chrom",
    "pos",
    "ref",
    "alt",
    "ref_count",
    "alt_count",
    "other_count",
    "depth",
    "alt_fraction",
    "segment",
    "used",
    "reason",
]


def output_paths(out_dir: Path, sample: str) -> dict[str, Path]:
    stem = safe_stem(sample)
    return {
        "json": out_dir / f"{stem}.metcnv.json",
        "bins": out_dir / f"{stem}.bins.tsv.gz",
        "segments": out_dir / f"{stem}.segments.tsv",
        "genes": out_dir / f"{stem}.genes.tsv",
        "snps": out_dir / f"{stem}.snps.tsv.gz",
        "mutations": out_dir / f"{stem}.mutations.tsv",
    }


def make_result(
    call: CallResult,
    sample: Sample,
    settings: CallSettings,
    coverage: SampleCoverage,
    coverage_path: Path | None,
    pon: PanelOfNormals,
    pon_path: Path,
    outputs: dict[str, Path],
    imported: Imported | None = None,
) -> Result:
    """The typed result of a call, with what is needed to reproduce it: inputs with
    checksums (other tools' files with their format, and the steps those tools did), the
    panel of normals, every threshold, software versions."""
    inputs = Inputs(
        alignments=FileRef(path=coverage.meta.get("source"), md5=coverage.meta.get("source_md5")),
        coverage=None
        if coverage_path is None
        else FileRef(path=str(coverage_path), md5=md5sum(coverage_path)),
    )
    if imported is not None:
        inputs.alignments = FileRef(path=None, md5=None)
        inputs.imported = [ImportedFile(path=p, md5=m, format=f) for p, m, f in imported.sources]
        inputs.steps_done_elsewhere = imported.steps_done_elsewhere
    min_mapq = coverage.meta.get("min_mapq")
    return Result(
        sample=sample.name,
        sample_type=sample.sample_type,
        read_groups_sm=json.loads(coverage.meta["read_groups_sm"])
        if "read_groups_sm" in coverage.meta
        else None,
        purity=call.purity,
        ploidy=call.ploidy,
        build=coverage.build,
        verdict=verdict(call.met, call.purity, call.qc),
        met=call.met,
        genes=call.genes,
        qc=call.qc,
        reference=PonInfo(
            path=str(pon_path),
            md5=md5sum(pon_path),
            flat=pon.flat,
            n_normals=len(pon.normals),
            normals=pon.normals,
            build=pon.build,
            bins_md5=pon.bins_md5,
            metcnv_version=pon.version,
            settings=pon.settings,
            excluded=pon.excluded,
            normalised_by=pon.normalised_by,
        ),
        inputs=inputs,
        settings=Settings(
            **settings.model_dump(),
            min_mapq=None if min_mapq is None else int(min_mapq),
            exclude_flags=coverage.meta.get("exclude_flags"),
        ),
        software=software_versions(),
        warnings=call.warnings,
        outputs=Outputs(**{key: path.name for key, path in outputs.items() if key != "json"}),
    )


def software_versions() -> dict:
    packages = ("numpy", "scipy", "pandas", "pysam", "pydantic")
    return {"metcnv": __version__, "python": platform.python_version()} | {
        name: version(name) for name in packages
    }


def gene_table(genes: list[GeneCall]) -> pd.DataFrame:
    """genes.tsv: one row per panel gene, intervals split into low/high columns."""
    rows = []
    for gene in genes:
        row = gene.model_dump(mode="json")
        for key in ("log2", "copy_number", "tumor_copy_number"):
            row[f"{key}_ci_low"], row[f"{key}_ci_high"] = row[f"{key}_ci95"] or (None, None)
        rows.append({column: row[column] for column in GENE_OUTPUT})
    return pd.DataFrame(rows, columns=GENE_OUTPUT)


def snp_table(sites: pd.DataFrame | None) -> pd.DataFrame:
    """snps.tsv.gz: every SNP site's allele counts, the normals' reference bias, its segment
    (row of segments.tsv, -1 outside) and whether the purity fit used it (else why not);
    only the header when the coverage was counted without --snps."""
    if sites is None:
        return pd.DataFrame(columns=SNP_OUTPUT)
    return sites[SNP_OUTPUT].round({"pop_af": 4, "het_alt_fraction": 4}).astype({"used": int})


def mutation_table(mutations: pd.DataFrame | None) -> pd.DataFrame:
    """mutations.tsv: every somatic mutation's allele counts, its segment (row of
    segments.tsv, -1 outside) and whether the purity fit used it (else why not); only the
    header when the coverage was counted without --mutations."""
    if mutations is None:
        return pd.DataFrame(columns=MUTATION_OUTPUT)
    return mutations[MUTATION_OUTPUT].round({"alt_fraction": 5}).astype({"used": int})


def write_results(call: CallResult, result: Result, outputs: dict[str, Path]) -> None:
    """Write the result files; the JSON last, so its presence means all are complete."""
    bins = call.bins.assign(
        log2=call.bins["log2"].round(5),
        weight=call.bins["weight"].round(3),
        pon_spread=call.bins["pon_spread"].round(4),
    )
    tables = {
        "bins": bins[BIN_OUTPUT],
        "segments": call.segments[SEGMENT_OUTPUT].round(5),
        "genes": gene_table(result.genes).round(5),
        "snps": snp_table(call.sites),
        "mutations": mutation_table(call.mutations),
    }
    with locked(outputs["json"].parent):  # one call's set, never a mix (files.locked)
        for key, table in tables.items():
            with atomic_write(outputs[key], "wt") as handle:
                table.to_csv(handle, sep="\t", index=False, na_rep="NA")
        with atomic_write(outputs["json"]) as handle:
            handle.write(result.to_json())
