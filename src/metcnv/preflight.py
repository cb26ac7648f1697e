"""What the workflow checks before any job starts, with metcnv's own rules.

A job refuses a bad setting or BAM hours into a run; the workflow (workflow/rules/
common.smk) asks these functions first, so every such problem is reported at once:

- `config_problems`: the config's thresholds and read, bin and allele settings, by the
  models every metcnv command uses (metcnv.validation: finite, in range, in order);
- `row_problems`: a sample-sheet row's purity and ploidy by the same models, and its
  collection date as the cohort summary reads it (a real day, not 2026-02-30);
- `alignment_problems`: what a BAM/CRAM's header says (format, complete file, coordinate
  sort order, CRAM reference, genome build), as a job would see it; the index is read by
  the job itself.

Each returns problems in words (an empty list: fine).
"""

from __future__ import annotations

import contextlib
from functools import cache
from pathlib import Path

import pandas as pd

from metcnv.coverage import header_lengths
from metcnv.errors import MetcnvError
from metcnv.genome import detect_build
from metcnv.inputs import open_header, quiet_htslib
from metcnv.model import AlleleSettings, BinSettings, CallSettings, ReadSettings, Sample
from metcnv.validation import problems

COVERAGE_MODELS = (BinSettings, ReadSettings, AlleleSettings)  # config `coverage:` keys


def collection_date(text: str) -> pd.Timestamp:
    """A sheet's collection date as a day (ValueError: not a date, e.g. 2026-02-30), as the
    cohort summary reads it (metcnv.cohort) and the workflow checks it before any job."""
    return pd.Timestamp(text).normalize()


def config_problems(config: dict) -> list[str]:
    """Problems of the workflow config's `call:` and `coverage:` settings."""
    call = dict(config.get("call", {}))
    ploidy = call.pop("ploidy", None)
    found = problems(CallSettings, call, lambda field: f"config call.{field}")
    if ploidy is not None:
        found += problems(
            Sample,
            {"name": "x", "ploidy": ploidy},
            lambda field: "config call.ploidy",
            lambda **values: Sample.given(values["name"], "tumor", None, values["ploidy"]),
        )
    coverage = config.get("coverage", {})
    for model in COVERAGE_MODELS:
        values = {key: value for key, value in coverage.items() if key in model.model_fields}
        found += problems(model, values, lambda field: f"config coverage.{field}")
    return found


def row_problems(row: dict) -> list[str]:
    """Problems of one sheet row's numbers and date (its column types and patterns are the
    sheet schema's): purity and ploidy finite and in range, the date a real day."""
    numbers = {
        key: row[key]
        for key in ("purity", "ploidy")
        if isinstance(row.get(key), (int, float)) and not isinstance(row.get(key), bool)
    }
    found = problems(
        Sample,
        numbers,
        lambda field: field,
        lambda **values: Sample.given("x", "tumor", values.get("purity"), values.get("ploidy")),
    )
    date = row.get("collection_date")
    if isinstance(date, str):
        try:
            collection_date(date)
        except ValueError as error:
            found.append(f"collection_date {date!r}: not a date ({error}); write it YYYY-MM-DD")
    return found


def alignment_problems(path: str, reference: str | None) -> tuple[str | None, list[str]]:
    """The genome build a BAM/CRAM's header shows, and what is wrong with the file as far
    as its header tells (none: fine). A file is opened once per run, however many rows
    (or links) name it."""
    resolved = str(Path(path).resolve())
    build, found = _header_problems(resolved, reference)
    return build, [problem.replace(resolved, path) for problem in found]


@cache
def _header_problems(path: str, reference: str | None) -> tuple[str | None, list[str]]:
    quiet_htslib()
    try:
        handle = open_header(Path(path), reference)
    except MetcnvError as error:
        return None, [str(error)]
    try:
        return detect_build(header_lengths(handle), path), []
    except MetcnvError as error:
        return None, [str(error)]
    finally:
        with contextlib.suppress(OSError):
            handle.close()
