"""Cohort and patient views of many results.

`write_summary` writes into `out_dir`:

- `summary.tsv`: one row per sample (the MET call, its copy number and interval, the
  MET/chr7 ratio, QC, purity, and the sample sheet's patient, date and site);
- `summary.html`: the same as a sortable table (click a column header) with status colours
  and links to each sample's report and patient page;
- `cohort.seg`: every sample's segments in one IGV SEG file;
- `patients/{patient}.html`: for each patient ID in the sample sheet, MET copy number and
  MET/chr7 ratio over collection date, one series per sample type, with 95% intervals.

The sample sheet (`--samples`) is the workflow's TSV with columns sample, bam,
sample_type, purity, ploidy, patient, collection_date, site; only `sample` is required,
and empty or missing patient / collection_date / site are allowed (such samples have no
patient page, or no place on its time axis).

The pages are templates/summary.html.j2 and patient.html.j2, rendered by pages.py; the
functions here give them the summary rows with the links between pages.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pandas as pd
from markupsafe import Markup

from metcnv import figures, pages
from metcnv.errors import MetcnvError
from metcnv.export import seg_frame, write_seg
from metcnv.files import atomic_write, require_file, safe_stem
from metcnv.loading import read_json, read_table
from metcnv.model import CallSettings, Interval, Result
from metcnv.preflight import collection_date

SHEET_COLUMNS = ["patient", "collection_date", "site"]
SUMMARY_COLUMNS = [
    "sample",
    "patient",
    "sample_type",
    "collection_date",
    "site",
    "met_status",
    "met_copy_number",
    "met_copy_number_ci_low",
    "met_copy_number_ci_high",
    "met_cn_type",
    "met_sample_copy_number",
    "met_log2",
    "met_z",
    "met_chr7_ratio",
    "met_chr7_ratio_ci_low",
    "met_chr7_ratio_ci_high",
    "fish_category",
    "over_10_copies",
    "focal",
    "purity",
    "purity_ci_low",
    "purity_ci_high",
    "purity_source",
    "limit_of_detection",
    "limit_of_detection_copy_ratio",
    "qc_status",
    "qc_reasons",
    "verdict",
    "result",
]


def read_sheet(path: Path) -> pd.DataFrame:
    """The sample sheet indexed by sample, with patient, collection_date (datetime), site."""
    path = require_file(path, "a tab-separated sample sheet with a 'sample' column")
    try:
        sheet = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (ValueError, OSError, UnicodeDecodeError) as error:
        raise MetcnvError(
            f"{path}: cannot be read as a tab-separated sample sheet ({error}); "
            "save it as TSV with a header line"
        ) from None
    sheet.columns = [c.strip() for c in sheet.columns]
    if "sample" not in sheet:
        raise MetcnvError(
            f"{path}: no 'sample' column (columns: {', '.join(sheet.columns)}); "
            "add a header line with sample, bam, sample_type, ... columns"
        )
    sheet = sheet.map(str.strip)
    duplicated = sheet["sample"][sheet["sample"].duplicated()].unique()
    if len(duplicated):
        raise MetcnvError(
            f"{path}: sample {duplicated[0]!r} is listed more than once; give each sample one row"
        )
    for column in SHEET_COLUMNS:
        if column not in sheet:
            sheet[column] = ""
    dates = []
    for sample, text in zip(sheet["sample"], sheet["collection_date"], strict=True):
        if not text:
            dates.append(pd.NaT)
            continue
        try:
            dates.append(collection_date(text))
        except ValueError:
            raise MetcnvError(
                f"{path}: collection_date {text!r} of sample {sample!r} is not a "
                "date; write it as YYYY-MM-DD"
            ) from None
    sheet["date"] = pd.to_datetime(pd.Series(dates, index=sheet.index, dtype="datetime64[ns]"))
    return sheet.set_index("sample")


def _ends(ci: Interval | None) -> tuple[float | None, float | None]:
    return (None, None) if ci is None else ci


def summary_row(path: Path, result: Result, sheet: pd.DataFrame | None, out_dir: Path) -> dict:
    """One summary line of a result (and its sample-sheet entry, if any)."""
    met, qc = result.met, result.qc
    cn, ci, kind = met.headline()
    info = sheet.loc[result.sample] if sheet is not None and result.sample in sheet.index else None
    return {
        "sample": result.sample,
        "patient": "" if info is None else info["patient"],
        "sample_type": result.sample_type,
        "collection_date": ""
        if info is None or pd.isna(info["date"])
        else info["date"].strftime("%Y-%m-%d"),
        "site": "" if info is None else info["site"],
        "met_status": met.status.value,
        "met_copy_number": cn,
        "met_copy_number_ci_low": _ends(ci)[0],
        "met_copy_number_ci_high": _ends(ci)[1],
        "met_cn_type": kind,
        "met_sample_copy_number": met.copy_number,
        "met_log2": met.log2,
        "met_z": met.z,
        "met_chr7_ratio": met.chrom_ratio,
        "met_chr7_ratio_ci_low": _ends(met.chrom_ratio_ci95)[0],
        "met_chr7_ratio_ci_high": _ends(met.chrom_ratio_ci95)[1],
        "fish_category": met.fish_category or "",
        "over_10_copies": _flag(met.over_10_copies),
        "focal": _flag(met.focal),
        "purity": result.purity.value,
        "purity_ci_low": _ends(result.purity.ci95)[0],
        "purity_ci_high": _ends(result.purity.ci95)[1],
        "purity_source": result.purity.source,
        "limit_of_detection": met.limit_of_detection,
        "limit_of_detection_copy_ratio": met.limit_of_detection_copy_ratio,
        "qc_status": qc.status,
        "qc_reasons": "; ".join(qc.reasons),
        "verdict": " ".join(result.verdict.split()),
        "result": os.path.relpath(path.resolve(), out_dir.resolve()),
    }


def _flag(value) -> str:
    return {True: "yes", False: "no"}.get(value, "")


def _href(target: Path, start: Path) -> str:
    """A relative, URL-quoted link from folder `start` to `target`."""
    return quote(os.path.relpath(target.resolve(), start.resolve()))


def _linked(row: dict, path: Path, folder: Path) -> dict:
    """A summary row with a link (from `folder`) to the sample's report, when one was
    written beside its result."""
    report = path.parent / f"{safe_stem(row['sample'])}.report.html"
    return row | {"report_href": _href(report, folder) if report.exists() else None}


def summary_html(
    rows: list[dict], paths: list[Path], out_dir: Path, patient_pages: dict[str, Path]
) -> str:
    """summary.html: every sample's row, linked to its report and its patient's page."""
    counts = pd.Series([r["met_status"] for r in rows]).value_counts()
    linked = [
        _linked(row, path, out_dir)
        | {
            "patient_href": _href(patient_pages[row["patient"]], out_dir)
            if row["patient"] in patient_pages
            else None
        }
        for row, path in zip(rows, paths, strict=True)
    ]
    return pages.render(
        "summary.html.j2",
        rows=linked,
        tally=list(counts.items()),
        patients=[(name, _href(page, out_dir)) for name, page in sorted(patient_pages.items())],
    )


def patient_html(
    patient: str,
    rows: list[dict],
    paths: list[Path],
    folder: Path,
    summary: Path,
    settings: CallSettings,
) -> str:
    """patients/{patient}.html: one patient's samples over time, dated ones plotted."""
    frame = pd.DataFrame(rows)
    frame["date"] = pd.to_datetime(frame["collection_date"].replace("", None), errors="coerce")
    frame["cn"] = pd.to_numeric(frame["met_copy_number"], errors="coerce")
    frame["cn_low"] = pd.to_numeric(frame["met_copy_number_ci_low"], errors="coerce")
    frame["cn_high"] = pd.to_numeric(frame["met_copy_number_ci_high"], errors="coerce")
    frame["tumor"] = frame["met_cn_type"] == "tumor"
    for end in ("", "_low", "_high"):
        for name, column in (("ratio", "met_chr7_ratio"), ("purity", "purity")):
            source = column + ("" if not end else f"_ci{end}")
            frame[f"{name}{end}"] = pd.to_numeric(frame[source], errors="coerce")
    frame["estimated"] = frame["purity_source"] == "estimated"
    dated = frame["date"].notna()
    order = (
        frame.assign(_undated=frame["date"].isna())
        .sort_values(["_undated", "date", "sample_type", "sample"], kind="stable")
        .index
    )
    return pages.render(
        "patient.html.j2",
        patient=patient,
        rows=[_linked(rows[i], paths[i], folder) for i in order],
        plot=Markup(figures.patient_plot(frame, settings)) if dated.any() else None,
        undated=int((~dated).sum()),
        summary_href=_href(summary, folder),
    )


def write_summary(results: list[Path], out_dir: Path, samples: Path | None = None) -> list[Path]:
    """Write summary.tsv, summary.html, cohort.seg and patients/{patient}.html; return them."""
    if not results:
        raise MetcnvError("no result files given; pass one or more {sample}.metcnv.json files")
    out_dir = Path(out_dir)
    sheet = read_sheet(Path(samples)) if samples is not None else None
    paths, loaded, seen = [], [], {}
    for path in map(Path, results):
        result = read_json(path)
        sample = result.sample
        if sample in seen:
            raise MetcnvError(
                f"{path}: sample {sample!r} is also in {seen[sample]}; give each "
                "sample's result once"
            )
        seen[sample] = path
        paths.append(path)
        loaded.append(result)
    rows = [summary_row(p, r, sheet, out_dir) for p, r in zip(paths, loaded, strict=True)]
    order = sorted(
        range(len(rows)),
        key=lambda i: (
            rows[i]["patient"] == "",
            rows[i]["patient"],
            rows[i]["collection_date"] or "9999",
            rows[i]["sample"],
        ),
    )
    rows, paths, loaded = ([seq[i] for i in order] for seq in (rows, paths, loaded))
    written = []

    summary_tsv = out_dir / "summary.tsv"
    with atomic_write(summary_tsv) as handle:
        pd.DataFrame(rows, columns=SUMMARY_COLUMNS).to_csv(
            handle, sep="\t", index=False, lineterminator="\n", float_format="%.4g"
        )
    written.append(summary_tsv)

    segs = [
        seg_frame(r.sample, read_table(p.parent, r, "segments", p, dtype={"chrom": str}))
        for p, r in zip(paths, loaded, strict=True)
    ]
    written.append(write_seg(pd.concat(segs, ignore_index=True), out_dir / "cohort.seg"))

    patient_pages: dict[str, Path] = {}
    by_patient: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        if row["patient"]:
            by_patient.setdefault(row["patient"], []).append(i)
    stems: dict[str, str] = {}
    for patient in by_patient:
        stem = safe_stem(patient, what="patient", source=samples or "")
        if stem in stems:
            raise MetcnvError(
                f"{samples}: patients {stems[stem]!r} and {patient!r} would share "
                "one page; rename one of them"
            )
        stems[stem] = patient
        patient_pages[patient] = out_dir / "patients" / f"{stem}.html"

    summary_page = out_dir / "summary.html"
    with atomic_write(summary_page) as handle:
        handle.write(summary_html(rows, paths, out_dir, patient_pages))
    written.append(summary_page)

    for patient, indexes in by_patient.items():
        target = patient_pages[patient]
        settings = loaded[indexes[0]].settings
        with atomic_write(target) as handle:
            handle.write(
                patient_html(
                    patient,
                    [rows[i] for i in indexes],
                    [paths[i] for i in indexes],
                    target.parent,
                    summary_page,
                    settings,
                )
            )
        written.append(target)
    return written
