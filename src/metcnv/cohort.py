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
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from metcnv import figures
from metcnv.errors import MetcnvError
from metcnv.export import _num, headline, safe_stem, seg_frame, write_seg
from metcnv.files import atomic_write, require_file
from metcnv.loading import read_json, read_table
from metcnv.report import DASH, QC_COLOURS, esc, num, page

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
    "purity_source",
    "limit_of_detection",
    "limit_of_detection_copy_ratio",
    "qc_status",
    "qc_reasons",
    "verdict",
    "result",
]

# A tiny sortable table: click a header to sort by it, again to reverse. Cells may carry
# data-sort (numbers; empty sorts last).
SORT_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th) {
    th.setAttribute("tabindex", "0");
    function sort() {
      var body = table.tBodies[0], col = th.cellIndex;
      var up = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach(function (o) { o.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      function key(row) {
        var cell = row.cells[col];
        var sortKey = cell.getAttribute("data-sort");
        return sortKey !== null ? sortKey : cell.textContent.trim();
      }
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === "" || y === "") { return (x === "") - (y === ""); }
        var nx = Number(x), ny = Number(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny
          : x.localeCompare(y, undefined, {numeric: true});
        return up ? c : -c;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sort(); } });
  });
});
"""


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
            dates.append(pd.Timestamp(text).normalize())
        except ValueError:
            raise MetcnvError(
                f"{path}: collection_date {text!r} of sample {sample!r} is not a "
                "date; write it as YYYY-MM-DD"
            ) from None
    sheet["date"] = pd.to_datetime(pd.Series(dates, index=sheet.index, dtype="datetime64[ns]"))
    return sheet.set_index("sample")


def _ci(value, index: int):
    if not value or len(value) != 2:
        return None
    return _num(value[index])


def summary_row(path: Path, result: dict, sheet: pd.DataFrame | None, out_dir: Path) -> dict:
    """One summary line of a result (and its sample-sheet entry, if any)."""
    met = result.get("met") or {}
    qc = result.get("qc") or {}
    cn, ci, kind = headline(met)
    sample = result["sample"]
    info = sheet.loc[sample] if sheet is not None and sample in sheet.index else None
    return {
        "sample": sample,
        "patient": "" if info is None else info["patient"],
        "sample_type": result.get("sample_type") or "",
        "collection_date": ""
        if info is None or pd.isna(info["date"])
        else info["date"].strftime("%Y-%m-%d"),
        "site": "" if info is None else info["site"],
        "met_status": met.get("status") or "inconclusive",
        "met_copy_number": cn,
        "met_copy_number_ci_low": _ci(ci, 0),
        "met_copy_number_ci_high": _ci(ci, 1),
        "met_cn_type": kind,
        "met_sample_copy_number": _num(met.get("copy_number")),
        "met_log2": _num(met.get("log2")),
        "met_z": _num(met.get("z")),
        "met_chr7_ratio": _num(met.get("met_chr7_ratio")),
        "met_chr7_ratio_ci_low": _ci(met.get("met_chr7_ratio_ci95"), 0),
        "met_chr7_ratio_ci_high": _ci(met.get("met_chr7_ratio_ci95"), 1),
        "fish_category": met.get("fish_category") or "",
        "over_10_copies": _flag(met.get("over_10_copies")),
        "focal": _flag(met.get("focal")),
        "purity": _num(result.get("purity")),
        "purity_source": result.get("purity_source") or "",
        "limit_of_detection": _num(met.get("limit_of_detection")),
        "limit_of_detection_copy_ratio": _num(met.get("limit_of_detection_copy_ratio")),
        "qc_status": qc.get("status") or "",
        "qc_reasons": "; ".join(qc.get("reasons") or []),
        "verdict": " ".join(str(result.get("verdict") or "").split()),
        "result": os.path.relpath(path.resolve(), out_dir.resolve()),
    }


def _flag(value) -> str:
    return {True: "yes", False: "no"}.get(value, "")


def _href(target: Path, start: Path) -> str:
    """A relative, URL-quoted link from folder `start` to `target`, escaped for an attribute."""
    return esc(quote(os.path.relpath(target.resolve(), start.resolve())))


def _status_cell(row: dict) -> str:
    """The MET call as a coloured badge; the verdict sentence shows on hover."""
    status = row["met_status"]
    colour = figures.status_colour(status)
    return (
        f'<td data-sort="{esc(status)}" title="{esc(row["verdict"])}"><span class="badge" '
        f'style="--badge: {colour}">{esc(status.replace("_", " "))}</span></td>'
    )


def _qc_cell(row: dict) -> str:
    status = row["qc_status"] or "n/a"
    return (
        f'<td title="{esc(row["qc_reasons"])}"><span class="badge" style="--badge: '
        f'{QC_COLOURS.get(status, "#666")}">{esc(status)}</span></td>'
    )


def _num_cell(value, digits: int = 1, ci: tuple | None = None) -> str:
    number = _num(value)
    text = esc(num(number, digits)) if number is not None else ""
    if ci and all(_num(v) is not None for v in ci):
        text += f" <small>({esc(num(ci[0], digits))}{DASH}{esc(num(ci[1], digits))})</small>"
    return f'<td class="num" data-sort="{"" if number is None else number}">{text}</td>'


def _sample_link(row: dict, path: Path, folder: Path) -> str:
    """The sample's name, linked to its report when one was written beside its result."""
    report = path.parent / f"{safe_stem(row['sample'])}.report.html"
    sample = esc(row["sample"])
    return f'<a href="{_href(report, folder)}">{sample}</a>' if report.exists() else sample


def _met_cells(row: dict) -> str:
    """Status, MET copy number with its interval and kind, and MET/chr7 ratio cells."""
    kind = "tumor" if row["met_cn_type"] == "tumor" else "sample avg."
    return (
        _status_cell(row)
        + _num_cell(
            row["met_copy_number"],
            1,
            (row["met_copy_number_ci_low"], row["met_copy_number_ci_high"]),
        )
        + f"<td>{esc(kind)}</td>"
        + _num_cell(
            row["met_chr7_ratio"],
            2,
            (row["met_chr7_ratio_ci_low"], row["met_chr7_ratio_ci_high"]),
        )
    )


def _purity_cell(purity: float | None) -> str:
    """The tumor fraction as a percentage, sortable by its value; "unknown" without one."""
    if purity is None:
        return '<td class="num" data-sort="">unknown</td>'
    return f'<td class="num" data-sort="{purity}">{purity * 100:.0f}%</td>'


def summary_html(
    rows: list[dict], paths: list[Path], out_dir: Path, patient_pages: dict[str, Path]
) -> str:
    counts = pd.Series([r["met_status"] for r in rows]).value_counts()
    tally = " · ".join(f"{esc(s.replace('_', ' '))}: <b>{n}</b>" for s, n in counts.items())
    lines = []
    for row, path in zip(rows, paths, strict=True):
        patient = esc(row["patient"])
        if row["patient"] in patient_pages:
            patient = f'<a href="{_href(patient_pages[row["patient"]], out_dir)}">{patient}</a>'
        lines.append(
            f"<tr><td>{_sample_link(row, path, out_dir)}</td><td>{patient}</td>"
            f"<td>{esc(row['sample_type'])}</td>"
            f'<td class="date">{esc(row["collection_date"])}</td><td>{esc(row["site"])}</td>'
            + _met_cells(row)
            + f"<td>{esc(row['fish_category'])}</td><td>{esc(row['over_10_copies'])}</td>"
            f"<td>{esc(row['focal'])}</td>"
            + _purity_cell(row["purity"])
            + _num_cell(row["limit_of_detection"], 1)
            + _qc_cell(row)
            + "</tr>"
        )
    table = (
        '<div class="scroll"><table class="sortable"><thead><tr><th>sample</th>'
        "<th>patient</th><th>type</th>"
        '<th>date</th><th>site</th><th>MET status</th><th class="num">MET CN (95% CI)</th>'
        '<th>CN of</th><th class="num">MET/chr7 (95% CI)</th><th>FISH-eq.</th>'
        '<th>&gt;10 copies</th><th>focal</th><th class="num">purity</th>'
        '<th class="num">LoD (tumor CN)</th><th>QC</th></tr></thead>\n<tbody>\n'
        + "\n".join(lines)
        + "\n</tbody></table></div>"
    )
    patients = ""
    if patient_pages:
        links = ", ".join(
            f'<a href="{_href(p, out_dir)}">{esc(name)}</a>'
            for name, p in sorted(patient_pages.items())
        )
        patients = f"<h2>Patients</h2><p>{links}</p>"
    body = (
        "<header><h1>MET copy number: cohort summary</h1>\n"
        f'<p class="meta"><b>{len(rows)}</b> samples · {tally}</p></header>\n'
        f'<section aria-label="samples"><h2>Samples</h2><p class="note">Click a column '
        "header to sort. MET CN is the tumor copy number where a purity was given, else the "
        "sample-average copy number (a lower bound of the tumor's for a gain).</p>\n"
        f"{table}</section>\n{patients}"
    )
    return page("metcnv cohort summary", body, SORT_JS, wide=True)


def patient_html(
    patient: str, rows: list[dict], paths: list[Path], folder: Path, summary: Path, settings: dict
) -> str:
    frame = pd.DataFrame(rows)
    frame["date"] = pd.to_datetime(frame["collection_date"].replace("", None), errors="coerce")
    frame["cn"] = pd.to_numeric(frame["met_copy_number"], errors="coerce")
    frame["cn_low"] = pd.to_numeric(frame["met_copy_number_ci_low"], errors="coerce")
    frame["cn_high"] = pd.to_numeric(frame["met_copy_number_ci_high"], errors="coerce")
    frame["tumor"] = frame["met_cn_type"] == "tumor"
    for end in ("", "_low", "_high"):
        source = "met_chr7_ratio" + ("" if not end else f"_ci{end}")
        frame[f"ratio{end}"] = pd.to_numeric(frame[source], errors="coerce")
    dated = frame["date"].notna()
    figure = (
        figures.patient_plot(frame, settings)
        if dated.any()
        else '<p class="note">No sample of this patient has a collection date in the '
        "sample sheet: add collection_date (YYYY-MM-DD) to plot them over time.</p>"
    )
    order = (
        frame.assign(_undated=frame["date"].isna())
        .sort_values(["_undated", "date", "sample_type", "sample"], kind="stable")
        .index
    )
    lines = []
    for i in order:
        row, path = rows[i], paths[i]
        lines.append(
            f'<tr><td class="date">{esc(row["collection_date"] or "no date")}</td>'
            f"<td>{_sample_link(row, path, folder)}</td>"
            f"<td>{esc(row['sample_type'])}</td><td>{esc(row['site'])}</td>"
            + _met_cells(row)
            + _purity_cell(row["purity"])
            + _qc_cell(row)
            + "</tr>"
        )
    undated = int((~dated).sum())
    note = (
        f'<p class="note">{undated} sample(s) without a collection date are listed below '
        "but not plotted.</p>"
        if undated
        else ""
    )
    body = (
        f'<header><h1>Patient {esc(patient)}: MET over time</h1>\n<p class="meta">'
        f'<b>{len(rows)}</b> samples · <a href="{_href(summary, folder)}">cohort summary</a>'
        '</p></header>\n<section aria-label="timeline"><h2>MET copy number over time</h2>\n'
        f"<figure>{figure}<figcaption>Each point is one sample at its collection date, coloured "
        "by sample type, with its 95% interval. Filled: tumor copy number (purity known); "
        "hollow: sample-average copy number (no purity; a lower bound of the tumor's). Dashed "
        "lines: amplification thresholds (left) and FISH-equivalent ratio categories (right)."
        f"</figcaption></figure>{note}</section>\n"
        '<section aria-label="samples"><h2>Samples</h2><div class="scroll">'
        '<table class="sortable"><thead><tr>'
        "<th>date</th><th>sample</th><th>type</th><th>site</th><th>MET status</th>"
        '<th class="num">MET CN (95% CI)</th><th>CN of</th><th class="num">MET/chr7 '
        '(95% CI)</th><th class="num">purity</th><th>QC</th></tr></thead>\n'
        "<tbody>\n" + "\n".join(lines) + "\n</tbody></table></div></section>\n"
        '<section class="howto"><h2>How to read this page</h2><ul>'
        "<li>A rising MET copy number during treatment can signal resistance (MET bypass), a "
        "falling one response; compare like with like: tumor copy numbers with tumor copy "
        "numbers.</li><li>Blood (cfDNA) samples without a tumor fraction show the "
        "sample-average copy number, which falls with the tumor fraction even when the "
        "tumor's MET copy number does not.</li><li>Samples from different sites on the same "
        "date show agreement (or heterogeneity) between sites.</li></ul></section>"
    )
    return page(f"metcnv patient {patient}", body, SORT_JS)


def write_summary(results: list[Path], out_dir: Path, samples: Path | None = None) -> list[Path]:
    """Write summary.tsv, summary.html, cohort.seg and patients/{patient}.html; return them."""
    if not results:
        raise MetcnvError("no result files given; pass one or more {sample}.metcnv.json files")
    out_dir = Path(out_dir)
    sheet = read_sheet(Path(samples)) if samples is not None else None
    paths, loaded, seen = [], [], {}
    for path in map(Path, results):
        result = read_json(path)
        sample = result["sample"]
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
        seg_frame(r["sample"], read_table(p.parent, r, "segments", p, dtype={"chrom": str}))
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
        settings = loaded[indexes[0]].get("settings") or {}
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
