"""The per-sample report a clinician reads, and the standard files made beside it.

`write_sample_reports` turns one `{sample}.metcnv.json` (docs/outputs.md) and the bin,
segment and gene tables beside it into:

- `{sample}.report.html`: one self-contained page (styles and SVG figures inline, no
  script, nothing loaded from the network) that prints on A4: a verdict box, four
  figures, the gene table, QC, methods and a "how to read this report" footnote;
- `{sample}.cnv.vcf.gz` (+ `.tbi`), `{sample}.seg`, `{sample}_mqc.tsv` (see export.py);
- with `pdf=True`, `{sample}.report.pdf` printed by headless Chromium.

The page is templates/report.html.j2; the functions here read what it shows from the
result (`report_context`), and the template lays it out. `{sample}` in file names is
`files.safe_stem(sample)`: names other than letters, digits and `. _ -` are sanitised
(never refused), so no sample name can write outside `out_dir`. Everything shown from
the data is HTML-escaped (pages.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from markupsafe import Markup

from metcnv import __version__, figures, pages
from metcnv.chromium import print_pdf, require_chromium
from metcnv.export import write_exports
from metcnv.files import atomic_write, locked, md5sum, require_file
from metcnv.loading import SampleResult, load_result
from metcnv.model import GeneCall, Purity, Settings, Status, percent

log = logging.getLogger(__name__)

QC_METRICS = [  # (key in the result's qc, label, decimals)
    ("met_median_depth", "median depth over MET", 0),
    ("on_target_fraction", "fraction of fragments on target", 3),
    ("mapd_target", "noise: MAPD of target bins", 3),
    ("mapd_offtarget", "noise: MAPD of off-target bins", 3),
    ("pon_correlation", "correlation with the normals' coverage profile", 3),
    ("pon_correlation_normals", "the same for each normal left out (median)", 3),
    ("pon_correlation_relative", "correlation relative to the normals'", 3),
    ("bins_used", "bins used", 0),
    ("bins_masked", "bins masked", 0),
    ("masked_fraction", "fraction of bins masked", 3),
]
PURITY_SOURCES = {"given": "given by the user", "estimated": "estimated from the reads"}


# --- what the report shows, read from the result ------------------------------------------
def _span(met: GeneCall) -> dict | None:
    """The amplicon of a focal call, else MET's segment: label, place and size, if known."""
    span = met.amplicon if met.focal and met.amplicon else met.segment
    if span is None:
        return None
    label = "amplicon" if span is met.amplicon else "segment"
    return {"label": label, **span.model_dump(include={"chrom", "start", "end", "size"})}


def verdict_facts(r: SampleResult) -> dict:
    """The call, its sentence and the facts of the verdict box."""
    res, met = r.result, r.met
    cn, ci, kind = met.headline()
    background = met.chrom_background
    tumor_background = background is not None and background.tumor_copy_number is not None
    settings = res.settings
    return {
        "title": met.status.headline(met.gene),
        "colour": met.status.colour,
        "sentence": res.verdict,
        "reason": met.status_reason if met.status_reason != res.verdict else "",
        "z": met.z,
        "tumor": kind == "tumor",
        "cn": cn,
        "ci": ci,
        "clamped": met.tumor_copy_number_clamped,
        "ratio": met.chrom_ratio,
        "ratio_ci": met.chrom_ratio_ci95,
        "fish": met.fish_category or "n/a",
        "fish_low": pages.significant(settings.fish_low),
        "fish_intermediate": pages.significant(settings.fish_intermediate),
        "fish_high": pages.significant(settings.fish_high),
        "high_level_cn": pages.significant(settings.high_level_cn),
        "over_10": met.over_10_copies,
        "over_10_reason": met.over_10_reason,
        "focal": met.focal,
        "span": _span(met),
        "focal_reason": met.focal_reason or "",
        "background_kind": "tumor" if tumor_background else "sample-average",
        "background_cn": None
        if background is None
        else background.tumor_copy_number
        if tumor_background
        else background.copy_number,
        "purity": res.purity.value,
        "purity_ci": res.purity.ci95,
        "purity_source": PURITY_SOURCES.get(res.purity.source, res.purity.reason),
        "purity_reason": res.purity.reason,
        "purity_fit": _fit_words(res.purity) if res.purity.source == "given" else None,
        "ploidy": res.ploidy.value,
        "ploidy_source": res.ploidy.source,
        "ploidy_ci": res.ploidy.ci95,
        "qc_status": res.qc.status,
        "qc_reasons": res.qc.reasons,
        "lod": met.limit_of_detection,
        "lod_ratio": met.limit_of_detection_copy_ratio,
    }


def _fit_words(purity: Purity) -> str | None:
    """What the reads say about the tumor fraction, beside a given one."""
    fit = purity.fit
    if fit is None:
        return None
    if not fit.identifiable:
        return "not identifiable"
    return f"{percent(fit.value)} ({percent(fit.ci95[0])}-{percent(fit.ci95[1])})"


def _plots(r: SampleResult, tumor: bool) -> dict[str, Markup]:
    """The SVG figures (markup made by figures.py, so not escaped again); the B-allele
    tracks only when SNPs were counted, the purity profile only when it was fitted."""
    res, met = r.result, r.met
    build = res.build
    plots = {
        "genome": figures.genome_plot(r.bins, r.segments, build, met.gene),
        "chromosome": figures.chromosome_plot(r.bins, r.segments, met, build),
        "closeup": figures.gene_closeup(r.bins, met),
        "genes": figures.genes_plot(r.genes, tumor, res.settings, met.gene),
    }
    if r.snps["used"].astype(bool).any():
        chrom = met.chrom or figures.find_chrom(r.bins, "7")
        plots["baf_genome"] = figures.baf_plot(r.snps, r.segments, r.bins, build)
        plots["baf_chromosome"] = figures.baf_plot(r.snps, r.segments, r.bins, build, chrom)
    if res.purity.fit is not None:
        plots["purity"] = figures.purity_plot(res.purity)
    return {name: Markup(svg) for name, svg in plots.items()}


def gene_rows(r: SampleResult) -> list[dict]:
    """The genes table's rows, missing values as None; the main gene's row in focus, and
    what each status means (shown on hovering over it)."""
    shown = r.genes.astype(object)
    rows = shown.where(shown.notna(), None).to_dict("records")
    return [
        row | {"focus": row["gene"] == r.met.gene, "meaning": Status(row["status"]).meaning}
        for row in rows
    ]


def mutation_rows(r: SampleResult) -> list[dict]:
    """The somatic mutations' rows (what the tumor fraction rests on when they set it):
    each as 'chrom:pos ref>alt' (VCF positions), its reads and whether the fit used it."""
    return [
        {
            "mutation": f"{m.chrom}:{int(m.pos):,} {m.ref}>{m.alt}",
            "alt_count": int(m.alt_count),
            "depth": int(m.depth),
            "alt_fraction": "n/a" if pd.isna(m.alt_fraction) else f"{m.alt_fraction:.1%}",
            "used": "yes" if m.used else f"no: {m.reason}",
        }
        for m in r.mutations.itertuples()
    ]


def qc_values(r: SampleResult) -> list[tuple[str, float | None, int]]:
    """The QC metrics (label, value, decimals) in a fixed order."""
    return [(label, getattr(r.result.qc, key), digits) for key, label, digits in QC_METRICS]


def flatten(mapping: dict, prefix: str = "") -> dict:
    """Nested settings as one level with dotted keys ('qc.max_mapd.warn'); a list as its
    comma-separated items."""
    flat = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{key}.")
        elif isinstance(value, list):
            flat[f"{prefix}{key}"] = ", ".join(map(str, value)) or "none"
        else:
            flat[f"{prefix}{key}"] = "none" if value is None else value
    return flat


def _setting_label(key: str) -> str:
    """A threshold's description (the model's), with its key."""
    field = Settings.model_fields.get(key)
    words = field.description if field and field.description else key.replace("_", " ")
    return f"{words} ({key})"


def methods_tables(r: SampleResult) -> dict:
    """Thresholds, panel of normals, inputs with checksums, software and warnings."""
    res = r.result
    ref = res.reference
    files = {"alignments": res.inputs.alignments, "coverage": res.inputs.coverage}
    inputs = [(k, f.path, f.md5) for k, f in files.items() if f is not None and f.path]
    inputs += [(item.format, item.path, item.md5) for item in res.inputs.imported]
    return {
        "thresholds": [
            (_setting_label(k), v) for k, v in flatten(res.settings.model_dump()).items()
        ],
        "reference": {
            "name": Path(ref.path).name,
            "kind": f"none: copy ratios normalised by {ref.normalised_by}"
            if ref.normalised_by
            else "flat reference (no normals)"
            if ref.flat
            else "panel of normals",
            "n_normals": ref.n_normals,
            "normals": ", ".join(ref.normals) or "none",
            "excluded": [f"{name}: {why}" for name, why in ref.excluded.items()],
            "build": ref.build,
            "md5": ref.md5,
            "bins_md5": ref.bins_md5,
            "metcnv_version": ref.metcnv_version,
            "settings": list(flatten(ref.settings).items()),
            "path": ref.path,
        },
        "inputs": [*inputs, ("result", r.path.name, md5sum(r.path))],
        "software": [*res.software.items(), ("report rendered by metcnv", __version__)],
        "warnings": res.warnings,
        "steps_done_elsewhere": res.inputs.steps_done_elsewhere,
    }


def report_context(r: SampleResult) -> dict:
    """Everything templates/report.html.j2 shows of one result."""
    res, met = r.result, r.met
    tumor = res.purity.value is not None and any(g.tumor_copy_number is not None for g in res.genes)
    return {
        "sample": r.sample,
        "read_groups_sm": None if res.read_groups_sm is None else ", ".join(res.read_groups_sm),
        "sample_type": res.sample_type,
        "build": res.build,
        "metcnv_version": res.software.get("metcnv", __version__),
        "verdict": verdict_facts(r),
        "gene": met.gene,
        "chrom": met.chrom or "7",
        "tumor": tumor,
        "plots": _plots(r, tumor),
        "genes": gene_rows(r),
        "mutations": mutation_rows(r),
        "qc": qc_values(r),
        "methods": methods_tables(r),
    }


def render_html(r: SampleResult) -> str:
    """The report page of one result."""
    return pages.render("report.html.j2", **report_context(r))


# --- entry point ----------------------------------------------------------------------
def write_sample_reports(
    result_json: Path, out_dir: Path | None = None, pdf: bool = False
) -> list[Path]:
    """Write the HTML report, VCF (+ index), SEG and MultiQC table of one result.

    `out_dir` defaults to the JSON's folder. With `pdf`, also print the report to PDF with
    headless Chromium, or raise MetcnvError saying how to install Chromium. Returns the
    paths written.
    """
    result_json = Path(result_json)
    if pdf:  # say so before writing anything
        require_chromium(result_json)
    out_dir = Path(out_dir) if out_dir is not None else result_json.parent
    # The result's folder stays locked from reading to the last report written, so a
    # concurrent call of the same sample cannot slip in between (files.locked).
    with locked(out_dir, reading=(require_file(result_json, "a {sample}.metcnv.json").parent,)):
        r = load_result(result_json)
        stem = r.stem
        if stem != r.sample:
            log.warning(
                "sample name %r is not a safe file name: files are named %r", r.sample, stem
            )
        report = out_dir / f"{stem}.report.html"
        with atomic_write(report) as handle:
            handle.write(render_html(r))
        written = [report, *write_exports(r, out_dir, stem)]
        if pdf:
            written.append(print_pdf(report, out_dir / f"{stem}.report.pdf"))
    return written
