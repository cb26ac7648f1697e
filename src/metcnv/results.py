"""The result files of one call: JSON (schema metcnv-result v1), bins, segments, genes.

The layout is documented in docs/outputs.md. Every file is written atomically, and the
JSON carries what is needed to reproduce it: inputs with checksums, the panel of normals,
every threshold, software versions.
"""

from __future__ import annotations

import json
import math
import platform
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from metcnv import __version__, params
from metcnv.call import CallResult, CallSettings
from metcnv.coverage import SampleCoverage
from metcnv.files import atomic_write, md5sum, safe_stem
from metcnv.pon import PanelOfNormals
from metcnv.verdict import verdict

SCHEMA, SCHEMA_VERSION = "metcnv-result", 1
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
SEGMENT_OUTPUT = ["chrom", "start", "end", "n_bins", "log2", "copy_ratio", "copy_number"]
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
    "status",
]


@dataclass
class Sample:
    """What the user said about the sample."""

    name: str
    sample_type: str
    purity: float | None
    ploidy: float


def output_paths(out_dir: Path, sample: str) -> dict[str, Path]:
    stem = safe_stem(sample)
    return {
        "json": out_dir / f"{stem}.metcnv.json",
        "bins": out_dir / f"{stem}.bins.tsv.gz",
        "segments": out_dir / f"{stem}.segments.tsv",
        "genes": out_dir / f"{stem}.genes.tsv",
    }


def result_document(
    result: CallResult,
    sample: Sample,
    settings: CallSettings,
    coverage: SampleCoverage,
    coverage_path: Path | None,
    pon: PanelOfNormals,
    pon_path: Path,
    outputs: dict[str, Path],
) -> dict:
    """The JSON result (see docs/outputs.md), with NaN and numpy types made JSON-safe."""
    inputs = {
        "alignments": {"path": coverage.meta.get("source"), "md5": coverage.meta.get("source_md5")}
    }
    if coverage_path is not None:
        inputs["coverage"] = {"path": str(coverage_path), "md5": md5sum(coverage_path)}
    document = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "sample": sample.name,
        "sample_type": sample.sample_type,
        "purity": sample.purity,
        "purity_source": None if sample.purity is None else "user",
        "ploidy": sample.ploidy,
        "build": coverage.build,
        "verdict": verdict(result.met),
        "met": result.met,
        "genes": result.genes,
        "qc": result.qc,
        "reference": {
            "path": str(pon_path),
            "md5": md5sum(pon_path),
            "flat": pon.flat,
            "n_normals": len(pon.normals),
            "normals": pon.normals,
            "build": pon.build,
            "bins_md5": pon.bins_md5,
            "metcnv_version": pon.version,
            "settings": pon.settings,
        },
        "inputs": inputs,
        "settings": settings.as_dict()
        | {
            "min_mapq": int(coverage.meta.get("min_mapq", -1)),
            "exclude_flags": coverage.meta.get("exclude_flags"),
            "qc": qc_thresholds(),
        },
        "software": software_versions(),
        "warnings": result.warnings,
        "outputs": {key: path.name for key, path in outputs.items() if key != "json"},
    }
    return _json_safe(document)


def qc_thresholds() -> dict:
    return {
        "min_met_depth": params.QC_MIN_MET_DEPTH,
        "max_mapd": params.QC_MAX_MAPD,
        "min_relative_pon_correlation": params.QC_MIN_RELATIVE_CORRELATION,
        "max_masked_fraction": params.QC_MAX_MASKED_FRACTION,
        "min_on_target_fraction": params.QC_MIN_ON_TARGET,
    }


def software_versions() -> dict:
    packages = ("numpy", "scipy", "pandas", "pysam")
    return {"metcnv": __version__, "python": platform.python_version()} | {
        name: version(name) for name in packages
    }


def _json_safe(value):
    """Plain Python values for json: numpy scalars unwrapped, NaN/inf as null."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def gene_table(genes: list[dict]) -> pd.DataFrame:
    """genes.tsv: one row per panel gene, intervals split into low/high columns."""
    rows = []
    for gene in genes:
        row = dict(gene)
        for key in ("log2", "copy_number", "tumor_copy_number"):
            low, high = gene.get(f"{key}_ci95") or (None, None)
            row[f"{key}_ci_low"], row[f"{key}_ci_high"] = low, high
        rows.append({column: row.get(column) for column in GENE_OUTPUT})
    return pd.DataFrame(rows, columns=GENE_OUTPUT)


def write_results(result: CallResult, document: dict, outputs: dict[str, Path]) -> None:
    """Write the four result files; the JSON last, so its presence means all are complete."""
    bins = result.bins.assign(
        log2=result.bins["log2"].round(5),
        weight=result.bins["weight"].round(3),
        pon_spread=result.bins["pon_spread"].round(4),
    )
    tables = {
        "bins": bins[BIN_OUTPUT],
        "segments": result.segments[SEGMENT_OUTPUT].round(5),
        "genes": gene_table(result.genes).round(5),
    }
    for key, table in tables.items():
        with atomic_write(outputs[key], "wt") as handle:
            table.to_csv(handle, sep="\t", index=False, na_rep="NA")
    with atomic_write(outputs["json"]) as handle:
        json.dump(document, handle, indent=2, allow_nan=False)
        handle.write("\n")
