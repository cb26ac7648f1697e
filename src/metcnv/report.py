"""The per-sample report a clinician reads, and the standard files made beside it.

`write_sample_reports` turns one `{sample}.metcnv.json` (docs/outputs.md) and the bin,
segment and gene tables beside it into:

- `{sample}.report.html`: one self-contained page (styles and SVG figures inline, no
  script, nothing loaded from the network) that prints on A4: a verdict box, four
  figures, the gene table, QC, methods and a "how to read this report" footnote;
- `{sample}.cnv.vcf.gz` (+ `.tbi`), `{sample}.seg`, `{sample}_mqc.tsv` (see export.py);
- with `pdf=True`, `{sample}.report.pdf` printed by headless Chromium.

`{sample}` in file names is `export.safe_stem(sample)`: names other than letters, digits
and `. _ + -` are sanitised (never refused), so no sample name can write outside
`out_dir`. Everything shown from the data is HTML-escaped.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

import pandas as pd

from metcnv import __version__, figures
from metcnv.chromium import print_pdf, require_chromium
from metcnv.export import _num, headline, write_exports
from metcnv.files import atomic_write, md5sum
from metcnv.loading import SampleResult, load_result

log = logging.getLogger(__name__)

DASH, MINUS, TIMES = "\u2013", "\u2212", "\u00d7"  # typographic en dash, minus and times

STATUS_WORDS = {
    "high_level_focal_amplification": "MET high-level focal amplification",
    "focal_amplification": "MET focal amplification",
    "chr7_gain": "Chromosome 7 gain, not a focal MET amplification",
    "neutral": "No MET amplification detected",
    "loss": "MET copy loss",
    "inconclusive": "Inconclusive: MET copy number could not be called",
}
QC_COLOURS = {"pass": "#1a7f37", "warn": "#b8860b", "fail": "#b2182b"}
SETTING_LABELS = {
    "ploidy": "tumor ploidy assumed",
    "focal_max_size": "largest focal amplicon (bp)",
    "amp_min_cn": "tumor copies for amplification",
    "high_level_cn": "tumor copies for high-level (NCCN: >10)",
    "min_z": "gain must exceed background by (standard errors)",
    "fish_low": "MET/chr7 ratio: low from",
    "fish_intermediate": "MET/chr7 ratio: intermediate above",
    "fish_high": "MET/chr7 ratio: high from",
    "segment_alpha": "segmentation significance",
    "min_gene_bins": "fewest usable MET bins",
}

CSS = """
:root { --ink: #1b1b1b; --muted: #5f6368; --line: #d9d9d9; --soft: #f6f7f9; }
* { box-sizing: border-box; }
html { font: 14px/1.45 "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif;
  color: var(--ink); background: #fff; }
body { margin: 0; }
main { max-width: 1060px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 1.5rem; margin: 0 0 2px; }
h2 { font-size: 1.15rem; margin: 26px 0 8px; border-bottom: 1px solid var(--line);
  padding-bottom: 3px; }
h3 { font-size: 1rem; margin: 16px 0 6px; }
.meta { color: var(--muted); margin: 0 0 14px; }
.meta b { color: var(--ink); }
.verdict { border: 2px solid var(--status); border-left-width: 10px; border-radius: 6px;
  padding: 12px 16px 10px; background: color-mix(in srgb, var(--status) 7%, white);
  break-inside: avoid; }
.verdict h2 { border: 0; margin: 0 0 4px; font-size: 1.45rem; color: var(--status); }
.verdict .sentence { margin: 0 0 10px; font-size: 1.02rem; }
.facts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 8px 22px;
  margin: 0; }
.facts div { border-top: 1px solid color-mix(in srgb, var(--status) 25%, white);
  padding-top: 5px; }
.facts dt { font-size: .78rem; text-transform: uppercase; letter-spacing: .03em;
  color: var(--muted); }
.facts dd { margin: 0; font-size: 1.05rem; font-weight: 600; }
.facts dd small, .note { display: block; font-weight: 400; font-size: .82rem;
  color: var(--muted); }
.caution { color: #8a4b00; }
.badge { display: inline-block; white-space: nowrap; padding: 0 7px; border-radius: 9px;
  color: #fff; font-size: .92em; font-weight: 600; background: var(--badge, #666); }
ul.reasons { margin: 2px 0 0; padding-left: 18px; font-weight: 400; font-size: .85rem; }
figure { margin: 10px 0 16px; break-inside: avoid; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { font-size: .85rem; color: var(--muted); }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; align-items: start; }
table { border-collapse: collapse; width: 100%; font-size: .86rem; margin: 6px 0 12px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.focus td { font-weight: 600; background: #fff5f5; }
.status { color: var(--badge); font-weight: 600; }
code, .mono { font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: .8rem;
  word-break: break-all; }
.howto { background: var(--soft); border-radius: 6px; padding: 10px 16px; font-size: .9rem;
  break-inside: avoid; }
.howto li { margin: 3px 0; }
footer { color: var(--muted); font-size: .8rem; margin-top: 20px; }
body.wide main { max-width: 1500px; }
body.wide table { font-size: .8rem; }
.scroll { overflow-x: auto; }
td.date { white-space: nowrap; }
table.sortable th { cursor: pointer; user-select: none; white-space: nowrap; }
table.sortable th[aria-sort="ascending"]::after { content: " \\25B2"; }
table.sortable th[aria-sort="descending"]::after { content: " \\25BC"; }
@page { size: A4; margin: 12mm 11mm; }
@media print {
  html { font-size: 10.5px; }
  main, body.wide main { max-width: none; padding: 0; }
  .scroll { overflow: visible; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { break-after: avoid; }
  tr { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
@media (max-width: 720px) { .facts, .pair { grid-template-columns: 1fr; } }
"""


def esc(value) -> str:
    """Text for HTML (content and quoted attributes); None shows as 'n/a'."""
    return html.escape("n/a" if value is None else str(value), quote=True)


def num(value, digits: int = 1, unit: str = "") -> str:
    number = _num(value)
    return "n/a" if number is None else f"{number:.{digits}f}{unit}"


def interval(ci, digits: int = 1) -> str:
    """'95% CI lo-hi' (with an en dash), or '' when the interval is unknown."""
    if not ci or len(ci) != 2 or any(_num(v) is None for v in ci):
        return ""
    return f"95% CI {num(ci[0], digits)}{DASH}{num(ci[1], digits)}"


def page(title: str, body: str, script: str = "", wide: bool = False) -> str:
    """A complete, self-contained HTML document; `wide` for broad tables."""
    tail = f"<script>{script}</script>\n" if script else ""
    body_tag = '<body class="wide">' if wide else "<body>"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n{body_tag}\n<main>\n"
        f"{body}\n</main>\n{tail}</body>\n</html>\n"
    )


# --- HTML -----------------------------------------------------------------------------
def status_words(status: str | None) -> str:
    return STATUS_WORDS.get(status or "", (status or "unknown").replace("_", " "))


def _fact(label: str, value: str, note: str = "") -> str:
    note_html = f"<small>{note}</small>" if note else ""
    return f"<div><dt>{esc(label)}</dt><dd>{value}{note_html}</dd></div>"


def verdict_box(r: SampleResult) -> str:
    res, met = r.result, r.met
    status = met.get("status") or "inconclusive"
    colour = figures.status_colour(status)
    facts = []
    cn, ci, kind = headline(met)
    if kind == "tumor":
        value = f"{num(cn)} <small>{esc(interval(ci))}</small>"
        note = ""
        if met.get("tumor_copy_number_clamped"):
            note = "the purity formula gave a value below 0; shown as 0"
        facts.append(_fact("MET tumor copy number", value, esc(note)))
    else:
        value = f"{num(cn)} <small>{esc(interval(ci))}</small>"
        note = (
            f'<span class="caution">Sample-average copy number (2 {TIMES} copy ratio): no '
            "tumor purity was given, so this mixes tumor and normal cells. For a gain it is a "
            "lower bound of the tumor's copy number, not the tumor's own.</span>"
        )
        facts.append(_fact("MET sample-average copy number", value, note))
    ratio = met.get("met_chr7_ratio")
    fish = met.get("fish_category")
    facts.append(
        _fact(
            "MET/chr7 ratio (FISH-equivalent category)",
            f"{num(ratio, 2)} <small>{esc(interval(met.get('met_chr7_ratio_ci95'), 2))}</small>",
            f"FISH-equivalent: <b>{esc(fish or 'n/a')}</b> (MET/CEP7 categories low "
            f"{esc(_setting(res, 'fish_low'))}{DASH}{esc(_setting(res, 'fish_intermediate'))}, "
            f"intermediate &lt;{esc(_setting(res, 'fish_high'))}, high ≥"
            f"{esc(_setting(res, 'fish_high'))})",
        )
    )
    over = met.get("over_10_copies")
    over_text = {True: "Yes", False: "No", None: "Unknown"}.get(over, esc(over))
    facts.append(
        _fact(
            f"More than {esc(_setting(res, 'high_level_cn', '10'))} copies",
            over_text,
            esc(met.get("over_10_reason") or ""),
        )
    )
    focal = met.get("focal")
    focal_text = {True: "Focal MET amplicon", False: "Not focal"}.get(focal, "Unknown")
    span = met.get("amplicon") if focal and met.get("amplicon") else met.get("segment")
    span = span or {}
    size = _num(span.get("size"))
    if size is not None:
        where = ""
        if span.get("chrom") and _num(span.get("start")) is not None:
            where = f"{span['chrom']}:{span['start'] / 1e6:.2f}{DASH}{span['end'] / 1e6:.2f} Mb, "
        label = "amplicon" if span is met.get("amplicon") else "segment"
        focal_text += f" <small>({esc(label)} {esc(where)}{size / 1e6:.2f} Mb)</small>"
    background = met.get("chr7_background") or {}
    bg_cn = background.get("tumor_copy_number")
    bg_label = "tumor" if _num(bg_cn) is not None else "sample-average"
    bg_cn = bg_cn if _num(bg_cn) is not None else background.get("copy_number")
    facts.append(
        _fact(
            "Focal amplification or chr7 gain",
            focal_text,
            "; ".join(
                part
                for part in (
                    esc(met.get("focal_reason") or ""),
                    f"chr7 background {bg_label} copy number {esc(num(bg_cn))}",
                )
                if part
            ),
        )
    )
    purity = _num(res.get("purity"))
    if purity is None:
        facts.append(
            _fact(
                "Tumor purity",
                "Not known",
                "no tumor fraction was given; copy numbers are sample averages",
            )
        )
    else:
        source = {"user": "given by the user"}.get(
            res.get("purity_source"), res.get("purity_source") or "source unknown"
        )
        facts.append(
            _fact(
                "Tumor purity",
                f"{purity * 100:.0f}%",
                esc(f"{source}; tumor ploidy {num(res.get('ploidy'), 1)}"),
            )
        )
    qc = res.get("qc") or {}
    qc_status = qc.get("status") or "unknown"
    reasons = "".join(f"<li>{esc(reason)}</li>" for reason in qc.get("reasons") or [])
    facts.append(
        _fact(
            "Quality control",
            _badge(qc_status.upper(), QC_COLOURS.get(qc_status)),
            f'<ul class="reasons">{reasons}</ul>' if reasons else "no QC concerns",
        )
    )
    lod = _num(met.get("limit_of_detection"))
    lod_ratio = _num(met.get("limit_of_detection_copy_ratio"))
    if lod is not None:
        lod_text = f"{lod:.1f} tumor copies"
        lod_note = (
            f"copy ratio {lod_ratio:.2f}; smaller MET gains may be missed"
            if lod_ratio is not None
            else "smaller MET gains may be missed"
        )
    elif lod_ratio is not None:
        lod_text = f"copy ratio {lod_ratio:.2f}"
        lod_note = "in tumor copies only with a known purity"
    else:
        lod_text, lod_note = "n/a", "not available for this sample"
    facts.append(_fact("Limit of detection", lod_text, esc(lod_note)))
    sentence = res.get("verdict") or met.get("status_reason") or ""
    reason = met.get("status_reason") or ""
    reason_html = (
        (
            f'<p class="note">Why: {esc(reason)} (z = {esc(num(met.get("z"), 1))} vs '
            "the panel of normals)</p>"
        )
        if reason and reason != sentence
        else ""
    )
    return (
        f'<section class="verdict" style="--status: {colour}" aria-label="verdict">\n'
        f'<h2>{esc(status_words(status))}</h2>\n<p class="sentence">{esc(sentence)}</p>\n'
        f'{reason_html}<dl class="facts">{"".join(facts)}</dl>\n</section>'
    )


def _badge(text: str, colour: str | None) -> str:
    return f'<span class="badge" style="--badge: {colour or "#666"}">{esc(text)}</span>'


def _setting(result: dict, key: str, default: str = "?") -> str:
    value = (result.get("settings") or {}).get(key)
    return default if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _locus(chrom, start, end) -> str:
    if chrom is None or _num(start) is None or _num(end) is None:
        return "n/a"
    return f"{chrom}:{int(start) + 1:,}{DASH}{int(end):,}"


def _with_ci(value, low, high, digits: int = 1) -> str:
    """'value (low-high)' for a table cell, or 'n/a'."""
    if _num(value) is None:
        return "n/a"
    text = esc(num(value, digits))
    if _num(low) is not None and _num(high) is not None:
        text += f" <small>({esc(num(low, digits))}{DASH}{esc(num(high, digits))})</small>"
    return text


def genes_table(r: SampleResult) -> str:
    main_gene = r.met.get("gene", "MET")
    rows = []
    for g in r.genes.to_dict("records"):
        focus = ' class="focus"' if g.get("gene") == main_gene else ""
        colour = figures.status_colour(g.get("status"))
        lod = _num(g.get("limit_of_detection"))
        cells = [
            f"<td>{esc(g.get('gene'))}</td>",
            f'<td class="mono">{esc(_locus(g.get("chrom"), g.get("start"), g.get("end")))}</td>',
            f'<td class="num">{esc(num(g.get("n_bins"), 0))}</td>',
            f'<td class="num">'
            f"{_with_ci(g.get('log2'), g.get('log2_ci_low'), g.get('log2_ci_high'), 2)}</td>",
            *(
                f'<td class="num">{_with_ci(g.get(k), g.get(f"{k}_ci_low"), g.get(f"{k}_ci_high"))}'
                "</td>"
                for k in ("copy_number", "tumor_copy_number")
            ),
            f'<td class="num">{esc(num(g.get("z"), 1))}</td>',
            f'<td class="num">{esc("n/a" if lod is None else f"{lod:.1f}")}</td>',
            f'<td><span class="status" style="--badge: {colour}">'
            f"{esc(str(g.get('status') or 'n/a').replace('_', ' '))}</span></td>",
        ]
        rows.append(f"<tr{focus}>{''.join(cells)}</tr>")
    return (
        '<table><thead><tr><th>gene</th><th>locus (1-based)</th><th class="num">bins</th>'
        '<th class="num">log2 (95% CI)</th><th class="num">sample-average CN (95% CI)</th>'
        '<th class="num">tumor CN (95% CI)</th><th class="num">z</th>'
        '<th class="num">LoD (tumor CN)</th><th>status</th></tr></thead>\n<tbody>'
        + "\n".join(rows)
        + "</tbody></table>"
    )


def flatten(mapping: dict, prefix: str = "") -> dict:
    """Nested settings as one level with dotted keys ('qc.max_mapd.warn')."""
    flat = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = "none" if value is None else value
    return flat


def _kv_table(rows: list[tuple[str, str]], head: tuple[str, str] = ("", "")) -> str:
    header = (
        f"<thead><tr><th>{esc(head[0])}</th><th>{esc(head[1])}</th></tr></thead>"
        if any(head)
        else ""
    )
    body = "".join(f'<tr><th scope="row">{esc(k)}</th><td>{v}</td></tr>' for k, v in rows)
    return f"<table>{header}<tbody>{body}</tbody></table>"


def qc_section(r: SampleResult) -> str:
    qc = r.result.get("qc") or {}
    labels = [
        ("met_median_depth", "median depth over MET", 0),
        ("on_target_fraction", "fraction of fragments on target", 3),
        ("mapd_target", "noise: MAPD of target bins", 3),
        ("mapd_offtarget", "noise: MAPD of off-target bins", 3),
        ("pon_correlation", "correlation with the normals' coverage profile", 3),
        ("bins_used", "bins used", 0),
        ("bins_masked", "bins masked", 0),
        ("masked_fraction", "fraction of bins masked", 3),
    ]
    rows = [(label, esc(num(qc.get(key), digits))) for key, label, digits in labels]
    rows += [
        (key.replace("_", " "), esc(f"{value:.3g}" if isinstance(value, float) else value))
        for key, value in qc.items()
        if key not in {k for k, _, _ in labels} | {"status", "reasons"}
    ]
    return _kv_table(rows, ("metric", "value"))


def methods_section(r: SampleResult) -> str:
    res = r.result
    thresholds = [
        (SETTING_LABELS.get(k, k.replace("_", " ")) + f" ({k})", esc(v))
        for k, v in flatten(res.get("settings") or {}).items()
    ]
    ref = res.get("reference") or {}
    normals = ref.get("normals") or []
    pon_name = Path(str(ref.get("path") or "n/a")).name
    kind = "flat reference (no normals)" if ref.get("flat") else "panel of normals"
    pon_rows = [
        ("name", f"{esc(pon_name)} <small>({esc(kind)})</small>"),
        ("number of normals", esc(ref.get("n_normals", len(normals)))),
        ("normals", esc(", ".join(map(str, normals)) or "none")),
        ("genome build", esc(ref.get("build") or res.get("build"))),
        ("file MD5", f"<code>{esc(ref.get('md5'))}</code>"),
        ("bins MD5", f"<code>{esc(ref.get('bins_md5'))}</code>"),
        ("built with metcnv", esc(ref.get("metcnv_version"))),
        *(
            (f"{k.replace('_', ' ')}", esc(v))
            for k, v in flatten(ref.get("settings") or {}).items()
        ),
        ("path", f"<code>{esc(ref.get('path'))}</code>"),
    ]
    inputs = res.get("inputs") or {}
    input_rows = []
    for key, label in (("alignments", "alignments"), ("coverage", "coverage")):
        item = inputs.get(key) or {}
        if item:
            input_rows.append(
                (
                    label,
                    f"<code>{esc(item.get('path'))}</code><br>MD5 "
                    f"<code>{esc(item.get('md5'))}</code>",
                )
            )
    input_rows.append(
        ("result", f"<code>{esc(r.path.name)}</code><br>MD5 <code>{esc(md5sum(r.path))}</code>")
    )
    software = [(k, esc(v)) for k, v in (res.get("software") or {}).items()]
    software.append(("report rendered by metcnv", esc(__version__)))
    warnings = "".join(f"<li>{esc(w)}</li>" for w in res.get("warnings") or [])
    return (
        "<p>Depth in target and off-target bins is normalised against the panel of normals "
        "(GC and capture corrected), segmented by circular binary segmentation, and each "
        "panel gene is estimated from its own target bins with a 95% interval. With a tumor "
        f"purity p and ploidy P the tumor copy number is c = (r·(p·P + 2(1{MINUS}p)) {MINUS} "
        f"2(1{MINUS}p)) / p "
        "for a copy ratio r; without a purity only the sample-average copy number 2r is "
        "known. The MET/chr7 ratio divides MET's copy number by that of chromosome 7 outside "
        "the MET amplicon (the NGS analogue of FISH MET/CEP7).</p>\n"
        '<div class="pair"><div><h3>Thresholds</h3>' + _kv_table(thresholds) + "</div>\n"
        "<div><h3>Panel of normals</h3>" + _kv_table(pon_rows) + "</div></div>\n"
        '<div class="pair"><div><h3>Inputs</h3>' + _kv_table(input_rows) + "</div>\n"
        "<div><h3>Software versions</h3>"
        + _kv_table(software)
        + "</div></div>\n"
        + (f"<h3>Warnings</h3><ul>{warnings}</ul>" if warnings else "")
    )


HOW_TO_READ = """
<section class="howto" aria-label="how to read this report">
<h2>How to read this report</h2>
<ul>
<li>The <b>verdict box</b> gives the call. <i>Focal amplification</i> (a short amplicon with
many MET copies) is the actionable event for MET inhibitors; a <i>chromosome 7 gain</i>
(polysomy or broad 7q gain) is not.</li>
<li><b>Tumor copy number</b> is corrected for the tumor fraction (purity). Without a purity
only the <b>sample-average copy number</b> is known: it mixes tumor and normal DNA and is a
lower bound of the tumor's copy number for a gain, especially in blood (cfDNA).</li>
<li>Every number comes with a <b>95% interval</b>. The <b>limit of detection</b> is the
smallest MET copy number this sample could show: below it a negative result does not
exclude amplification.</li>
<li>The <b>MET/chr7 ratio</b> is comparable to the FISH MET/CEP7 ratio, but NGS and FISH
agree imperfectly; treat categories as indicative.</li>
<li>Figures: grey points are bins (target dark, off-target light), red points are MET bins,
lines are segments; log2 copy ratio 0 is the normal level, +1 twice it.</li>
<li>If <b>QC</b> is <i>warn</i> or <i>fail</i>, read the reasons before acting on the call.</li>
</ul>
</section>
"""


def render_html(r: SampleResult) -> str:
    res, met = r.result, r.met
    gene = met.get("gene") or "MET"
    tumor = (
        _num(res.get("purity")) is not None
        and "tumor_copy_number" in r.genes
        and pd.to_numeric(r.genes["tumor_copy_number"], errors="coerce").notna().any()
    )
    settings = res.get("settings") or {}
    genome = figures.genome_plot(r.bins, r.segments, res.get("build"), gene)
    chrom = figures.chromosome_plot(r.bins, r.segments, met, res.get("build"), gene)
    closeup = figures.gene_closeup(r.bins, met, gene)
    genes = figures.genes_plot(r.genes, tumor, settings, gene) if len(r.genes) else ""
    sample_type = res.get("sample_type") or "unknown"
    header = (
        f'<header><h1>MET copy number report</h1>\n<p class="meta">Sample <b>{esc(r.sample)}'
        f"</b> · sample type <b>{esc(sample_type)}</b> · genome build <b>{esc(res.get('build'))}"
        f"</b> · metcnv {esc((res.get('software') or {}).get('metcnv', __version__))}</p></header>"
    )
    figures_html = (
        '<section aria-label="figures"><h2>Figures</h2>\n'
        f"<figure>{genome}<figcaption>Genome-wide log2 copy ratio of every bin used, with "
        "segments (red: gain, blue: loss). MET bins in red.</figcaption></figure>\n"
        f"<figure>{chrom}<figcaption>Chromosome {esc(met.get('chrom') or '7')}: bins and "
        "segments, the centromere (shaded; FISH's CEP7 probe lies here), MET (dotted line) "
        "and the chr7 background used for the MET/chr7 ratio (dashed).</figcaption></figure>\n"
        f'<div class="pair"><figure>{closeup}<figcaption>{esc(gene)} close-up: each {esc(gene)}'
        " target bin (red) against the range the panel of normals shows for that bin (grey "
        "bars, 95%); the red band is the gene estimate and its 95% interval.</figcaption>"
        f"</figure>\n<figure>{genes}<figcaption>Copy number of every panel gene "
        f"({'tumor copy number' if tumor else 'sample-average copy number: no purity known'}) "
        "with 95% intervals; colour shows the call.</figcaption></figure></div>\n</section>"
    )
    body = (
        f"{header}\n{verdict_box(r)}\n{figures_html}\n"
        f'<section aria-label="genes"><h2>Panel genes</h2>\n{genes_table(r)}</section>\n'
        f'<section aria-label="quality control"><h2>Quality control</h2>\n{qc_section(r)}'
        "</section>\n"
        f'<section aria-label="methods"><h2>Methods</h2>\n{methods_section(r)}</section>\n'
        f"{HOW_TO_READ}\n<footer>Research use: metcnv results support, and do not replace, "
        "a pathologist's assessment. Coordinates in tables are 1-based inclusive.</footer>"
    )
    return page(f"metcnv report: {r.sample}", body)


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
    r = load_result(result_json)
    out_dir = Path(out_dir) if out_dir is not None else result_json.parent
    stem = r.stem
    if stem != r.sample:
        log.warning("sample name %r is not a safe file name: files are named %r", r.sample, stem)
    report = out_dir / f"{stem}.report.html"
    with atomic_write(report) as handle:
        handle.write(render_html(r))
    written = [report, *write_exports(r.result, r.segments, out_dir, stem)]
    if pdf:
        written.append(print_pdf(report, out_dir / f"{stem}.report.pdf"))
    return written
