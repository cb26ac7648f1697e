"""Reading a result back: one `{sample}.metcnv.json` (a `model.Result`) and its tables.

`read_json` parses and validates the document against the shipped JSON Schema;
`load_result` adds its bins, segments, SNP and mutation tables (docs/outputs.md). Every
problem is one MetcnvError line saying what to re-run. Used by the per-sample report and
the cohort pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from metcnv.errors import MetcnvError
from metcnv.files import require_file, safe_stem
from metcnv.model import GeneCall, Result
from metcnv.results import gene_table


@dataclass
class SampleResult:
    """One sample's result and the bin, segment, SNP and somatic-mutation tables beside it."""

    path: Path
    result: Result
    bins: pd.DataFrame
    segments: pd.DataFrame
    snps: pd.DataFrame
    mutations: pd.DataFrame  # no rows when counted without --mutations

    @property
    def sample(self) -> str:
        return self.result.sample

    @property
    def stem(self) -> str:
        return safe_stem(self.sample, source=self.path)

    @property
    def met(self) -> GeneCall:
        return self.result.met

    @cached_property
    def genes(self) -> pd.DataFrame:
        """The gene calls as the rows of `{sample}.genes.tsv`."""
        return gene_table(self.result.genes)


def read_json(path: Path) -> Result:
    """A metcnv result, or a one-line error saying what is wrong with it."""
    path = require_file(path, "a {sample}.metcnv.json written by `metcnv call` or `metcnv run`")
    try:
        text = path.read_text()
    except UnicodeDecodeError as error:
        raise MetcnvError(
            f"{path}: not a text file ({error}); pass a {{sample}}.metcnv.json"
        ) from None
    result = Result.from_json(text, path)
    safe_stem(result.sample, source=path)  # refuses control characters early
    return result


def read_table(folder: Path, result: Result, key: str, json_path: Path, **kwargs) -> pd.DataFrame:
    """The table named by the result's `outputs.{key}`, read from `folder` (pandas kwargs)."""
    path = require_file(
        folder / getattr(result.outputs, key), f"the {key} table written with {json_path.name}"
    )
    try:
        return pd.read_csv(path, sep="\t", **kwargs)
    except (ValueError, OSError) as error:
        raise MetcnvError(
            f"{path}: cannot be read as a tab-separated table ({error}); re-run `metcnv call`"
        ) from None


def load_result(path: Path) -> SampleResult:
    """Read a result JSON and its bins, segments, SNP and mutation tables (docs/outputs.md)."""
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
    missing = {"chrom", "start", "end", "kind", "log2", "used", "pon_spread", "gene"} - set(bins)
    if missing:
        raise MetcnvError(
            f"{folder / result.outputs.bins}: columns {sorted(missing)} are "
            "missing; re-run `metcnv call`"
        )
    bins["gene"] = bins["gene"].fillna("-")
    snps = read_table(folder, result, "snps", path, dtype={"chrom": str, "reason": str})
    mutations = pd.DataFrame(columns=["chrom", "pos", "reason"])
    if result.outputs.mutations is not None:  # results of metcnv before --mutations lack it
        mutations = read_table(
            folder, result, "mutations", path, dtype={"chrom": str, "reason": str}
        ).fillna({"reason": ""})
    return SampleResult(path, result, bins, segments, snps, mutations)
