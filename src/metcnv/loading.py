"""Reading a result back: one `{sample}.metcnv.json` and the tables written beside it.

`read_json` checks the document is a metcnv-result of the version this metcnv reads;
`load_result` adds its bins, segments and genes tables (docs/outputs.md). Every problem
is one MetcnvError line saying what to re-run. Used by the per-sample report and the
cohort pages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from metcnv import __version__
from metcnv.errors import MetcnvError
from metcnv.export import safe_stem
from metcnv.files import require_file

SCHEMA, SCHEMA_VERSION = "metcnv-result", 1


@dataclass
class SampleResult:
    """One sample's result JSON and the tables beside it."""

    path: Path
    result: dict
    bins: pd.DataFrame
    segments: pd.DataFrame
    genes: pd.DataFrame

    @property
    def sample(self) -> str:
        return self.result["sample"]

    @property
    def stem(self) -> str:
        return safe_stem(self.sample, source=self.path)

    @property
    def met(self) -> dict:
        return self.result.get("met") or {}


def read_json(path: Path) -> dict:
    """A metcnv-result v1 document, or a one-line error saying what is wrong with it."""
    path = require_file(path, "a {sample}.metcnv.json written by `metcnv call` or `metcnv run`")
    try:
        result = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MetcnvError(
            f"{path}: not valid JSON ({error}); pass the {{sample}}.metcnv.json "
            "written by `metcnv call` or `metcnv run`"
        ) from None
    if not isinstance(result, dict) or result.get("schema") != SCHEMA:
        raise MetcnvError(
            f"{path}: not a metcnv result (schema is not {SCHEMA!r}); pass the "
            "{sample}.metcnv.json written by `metcnv call` or `metcnv run`"
        )
    if result.get("schema_version") != SCHEMA_VERSION:
        raise MetcnvError(
            f"{path}: metcnv-result schema version {result.get('schema_version')!r}, this "
            f"metcnv {__version__} reads version {SCHEMA_VERSION}; re-run `metcnv call` with "
            "this version"
        )
    if not isinstance(result.get("sample"), str) or not result["sample"]:
        raise MetcnvError(f"{path}: no sample name in the result; re-run `metcnv call`")
    safe_stem(result["sample"], source=path)  # refuses control characters early
    return result


def read_table(folder: Path, result: dict, key: str, json_path: Path, **kwargs) -> pd.DataFrame:
    """The table named by the result's `outputs.{key}`, read from `folder` (pandas kwargs)."""
    name = (result.get("outputs") or {}).get(key)
    if not name:
        raise MetcnvError(f"{json_path}: 'outputs.{key}' is missing; re-run `metcnv call`")
    path = require_file(folder / name, f"the {key} table written with {json_path.name}")
    try:
        return pd.read_csv(path, sep="\t", **kwargs)
    except (ValueError, OSError) as error:
        raise MetcnvError(
            f"{path}: cannot be read as a tab-separated table ({error}); re-run `metcnv call`"
        ) from None


def load_result(path: Path) -> SampleResult:
    """Read a result JSON and its bins, segments and genes tables (docs/outputs.md)."""
    path = Path(path)
    result = read_json(path)
    folder = path.parent
    bins = read_table(
        folder,
        result,
        "bins",
        path,
        dtype={"chrom": str, "gene": str},
        keep_default_na=False,
        na_values=["", "NA", "nan", "NaN"],
    )
    segments = read_table(folder, result, "segments", path, dtype={"chrom": str})
    genes = read_table(folder, result, "genes", path, dtype={"chrom": str, "gene": str})
    missing = {"chrom", "start", "end", "kind", "log2", "used", "pon_spread", "gene"} - set(bins)
    if missing:
        raise MetcnvError(
            f"{folder / result['outputs']['bins']}: columns {sorted(missing)} are "
            "missing; re-run `metcnv call`"
        )
    bins["gene"] = bins["gene"].fillna("-")
    return SampleResult(path, result, bins, segments, genes)
