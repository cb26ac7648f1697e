"""HTML pages from the Jinja2 templates in metcnv/templates, for the report and the cohort.

One environment renders every page. It autoescapes: every value from a result or a
sample sheet is HTML-escaped, in text and in quoted attributes, and only markup metcnv
makes itself (the SVG figures) is passed in as `markupsafe.Markup`. An undefined name in
a template is an error, not an empty string. Numbers, intervals and loci are formatted by
the filters registered here, so every page writes them the same way.
"""

from __future__ import annotations

import math

from jinja2 import Environment, PackageLoader, StrictUndefined

from metcnv.model import Status

DASH = "\u2013"  # typographic en dash, between the ends of a range
QC_COLOURS = {"pass": "#1a7f37", "warn": "#b8860b", "fail": "#b2182b"}


def finite(value) -> float | None:
    """A finite float, or None for null / NaN / missing / not a number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def num(value, digits: int = 1) -> str:
    """The value with `digits` decimals, or 'n/a' when it is missing or not a number."""
    number = finite(value)
    return "n/a" if number is None else f"{number:.{digits}f}"


def interval(ci, digits: int = 1) -> str:
    """'95% CI lo-hi' (with an en dash), or '' when the interval is unknown."""
    if not ci or len(ci) != 2 or any(finite(v) is None for v in ci):
        return ""
    return f"95% CI {num(ci[0], digits)}{DASH}{num(ci[1], digits)}"


def locus(chrom, start, end) -> str:
    """'chrom:start-end' (en dash), 1-based inclusive, from a 0-based start."""
    if chrom is None or finite(start) is None or finite(end) is None:
        return "n/a"
    return f"{chrom}:{int(start) + 1:,}{DASH}{int(end):,}"


def na(value):
    """'n/a' for a missing value (None); any other value as it is."""
    return "n/a" if value is None else value


def words(name: str) -> str:
    """A snake_case name as words: 'focal_amplification' -> 'focal amplification'."""
    return str(name).replace("_", " ")


def percent(fraction: float) -> str:
    """A fraction as a whole percentage: 0.4 -> '40%'."""
    return f"{fraction * 100:.0f}%"


def megabases(bp: float) -> str:
    """A position or length in base pairs as megabases with two decimals."""
    return f"{bp / 1e6:.2f}"


def significant(value, digits: int = 6):
    """A float with `digits` significant digits; any other value as it is."""
    return f"{value:.{digits}g}" if isinstance(value, float) else value


def qc_colour(status: str) -> str:
    """The colour of a QC status (pass, warn, fail); grey for any other."""
    return QC_COLOURS.get(status, "#666")


ENVIRONMENT = Environment(
    loader=PackageLoader("metcnv", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
ENVIRONMENT.filters |= {
    "num": num,
    "interval": interval,
    "locus": locus,
    "na": na,
    "words": words,
    "percent": percent,
    "megabases": megabases,
    "significant": significant,
    "finite": finite,
    "status_colour": lambda status: Status(status).colour,
    "qc_colour": qc_colour,
}
ENVIRONMENT.tests["known"] = lambda value: finite(value) is not None  # a finite number


def render(template: str, **context) -> str:
    """The page made by `template` (a file in metcnv/templates) from `context`."""
    return ENVIRONMENT.get_template(template).render(**context)
