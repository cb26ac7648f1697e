"""The panel of normals: what a sample's coverage is compared with.

One versioned file (a NumPy .npz archive, read without pickle) holds the bins, their GC,
the normals' per-bin robust centre and spread, the bins kept after masking, the principal
components used for denoising, the held-out residuals of every normal (the data from
which systematic noise is estimated), the normals' names, the build, the bins' checksum
and the metcnv version. A flat reference has no normals and says so wherever it is used.

When the normals were counted with a sites VCF, it also holds per-SNP statistics of their
allele counts (metcnv.alleles.snp_statistics says which sites are usable and why), with
the VCF's name and MD5 in its settings; without (and in a flat reference, or a PoN made
before SNPs were counted) `snps` is None.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from metcnv import __version__, params
from metcnv.alleles import SNP_STAT_DTYPES, Sites, normals_sites, snp_statistics
from metcnv.bins import BIN_COLUMNS, bins_checksum
from metcnv.coverage import SampleCoverage
from metcnv.errors import MetcnvError
from metcnv.files import atomic_write, require_file
from metcnv.normalize import (
    Reference,
    centre_per_kind,
    correct_gc,
    log2_counts,
    normalize,
    principal_components,
    reference_bins,
)
from metcnv.outliers import worst_normal
from metcnv.purity import het_concentration

FORMAT = "metcnv-pon"
FORMAT_VERSION = 1
MAD_TO_SD = 1.4826


@dataclass
class PanelOfNormals:
    bins: pd.DataFrame  # BIN_COLUMNS
    gc: np.ndarray
    centre: np.ndarray
    spread: np.ndarray  # robust SD of each bin's log2 across the normals (NaN if flat)
    used: np.ndarray
    components: np.ndarray
    loo_residuals: np.ndarray  # normals x bins: each normal against a fit without it
    normals: list[str]
    build: str
    settings: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    version: str = __version__
    snps: pd.DataFrame | None = None  # SNP_STAT_COLUMNS of metcnv.alleles; None: no SNPs
    excluded: dict[str, str] = field(default_factory=dict)  # outlier normals left out: why
    counts_md5: list[str] = field(default_factory=list)  # each normal's counts_checksum
    normalised_by: str | None = None  # external_reference: the tool that normalised the bins

    @property
    def flat(self) -> bool:
        return not self.normals

    @property
    def without_normals(self) -> str:
        """What a call against this reference lacks when it has no normals (a QC warning)."""
        if self.normalised_by:
            return (
                f"copy ratios normalised by {self.normalised_by}, whose normals metcnv cannot "
                "see: their systematic noise is a fixed floor, not measured"
            )
        return "flat reference (no normals); capture efficiency not corrected"

    @cached_property
    def bins_md5(self) -> str:
        return bins_checksum(self.bins)

    @property
    def reference(self) -> Reference:
        chrom, kinds = self.bins["chrom"].to_numpy(), self.bins["kind"].to_numpy()
        zero_line, _ = reference_bins(chrom, self.used, kinds)
        return Reference(self.centre, self.gc, kinds, self.used, zero_line, self.components)

    def save(self, path: str | Path) -> None:
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "metcnv_version": self.version,
            "build": self.build,
            "normals": self.normals,
            "bins_md5": self.bins_md5,
            "settings": self.settings,
            "warnings": self.warnings,
            "excluded": self.excluded,
            "counts_md5": self.counts_md5,
        }
        arrays = {
            f"bins_{c}": self.bins[c].to_numpy(str if c in ("chrom", "gene", "kind") else np.int64)
            for c in BIN_COLUMNS
        }
        if self.snps is not None:
            arrays |= {f"snps_{c}": self.snps[c].to_numpy(t) for c, t in SNP_STAT_DTYPES.items()}
        members = {
            "meta": np.array(json.dumps(meta)),
            "gc": self.gc,
            "centre": self.centre,
            "spread": self.spread,
            "used": self.used,
            "components": self.components,
            "loo_residuals": self.loo_residuals,
            **arrays,
        }
        with atomic_write(path, "wb") as handle:
            write_npz(handle, members)

    @classmethod
    def load(cls, path: str | Path) -> PanelOfNormals:
        path = require_file(path, "a panel of normals made by `metcnv pon build`")
        with open(path, "rb") as handle:
            head = handle.read(4)
        if head != b"PK\x03\x04":  # a .pon is a zip (npz) archive
            what = "is empty (0 bytes)" if not head else "is not a .pon archive (text or other)"
            raise MetcnvError(
                f"{path}: {what}, so not a metcnv panel of normals; make one with "
                "`metcnv pon build`"
            )
        try:
            with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as archive:
                meta = json.loads(str(archive["meta"]))
                data = {key: archive[key] for key in archive.files}
        except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as error:
            raise MetcnvError(
                f"{path}: not a metcnv panel of normals ({error}); make one with `metcnv pon build`"
            ) from None
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise MetcnvError(
                f"{path}: panel of normals format {meta.get('format_version')} is not "
                f"{FORMAT_VERSION}; rebuild it with this metcnv ({__version__})"
            )
        try:
            pon = cls._from_archive(meta, data)
        except (KeyError, ValueError, TypeError) as error:
            raise MetcnvError(
                f"{path}: panel of normals incomplete (no {error}); the file is damaged, "
                "rebuild it with `metcnv pon build`"
            ) from None
        if pon.bins_md5 != meta["bins_md5"]:
            raise MetcnvError(f"{path}: bins do not match their checksum; the file is damaged")
        return pon

    @classmethod
    def _from_archive(cls, meta: dict, data: dict[str, np.ndarray]) -> PanelOfNormals:
        """The panel of normals of a loaded archive's metadata and arrays (KeyError: one
        is missing)."""
        snps = None
        if "snps_chrom" in data:
            snps = pd.DataFrame({c: data[f"snps_{c}"] for c in SNP_STAT_DTYPES})
            snps = snps.astype(SNP_STAT_DTYPES)
        return cls(
            bins=pd.DataFrame({c: data[f"bins_{c}"] for c in BIN_COLUMNS}),
            gc=data["gc"],
            centre=data["centre"],
            spread=data["spread"],
            used=data["used"],
            components=data["components"],
            loo_residuals=data["loo_residuals"],
            normals=meta["normals"],
            build=meta["build"],
            settings=meta["settings"],
            warnings=meta["warnings"],
            version=meta["metcnv_version"],
            snps=snps,
            excluded=meta.get("excluded", {}),  # absent from older panels
            counts_md5=meta.get("counts_md5", []),
        )

    def member_like(self, coverage: SampleCoverage) -> str | None:
        """The normal of this panel whose read counts the sample's equal, or None."""
        checksum = counts_checksum(coverage)
        return next(
            (n for n, c in zip(self.normals, self.counts_md5, strict=False) if c == checksum), None
        )

    def restricted(self, chrom: str) -> PanelOfNormals:
        """The panel on one chromosome's bins (MET-first mode, `--region`): every per-bin
        array cut to them, their SNPs kept, and a warning of what a call on them lacks.

        The noise components go: their coefficients would be fitted on the chromosome
        itself, MET included, and absorb part of a MET amplification (0.1-0.2 log2 on the
        bundled focal cases, against < 0.04 without them)."""
        rows = (self.bins["chrom"] == chrom).to_numpy()
        if not rows.any():
            raise MetcnvError(
                f"the panel of normals has no bins on {chrom}; give --region a chromosome "
                f"of the panel ({', '.join(dict.fromkeys(self.bins['chrom']))})"
            )
        warning = (
            f"MET-first mode (--region {chrom}): only {chrom}'s reads were counted, so its "
            f"copy ratios are relative to {chrom} itself (a {chrom}-wide gain cannot be seen), "
            "genes elsewhere are not called, the normals' noise components are not used and "
            "the tumor fraction is not estimated from the reads (that fit needs the other "
            "chromosomes), and the alignment file's MD5 is not taken (it would read the whole "
            "file); run without --region for the full call"
        )
        return replace(
            self,
            bins=self.bins[rows].reset_index(drop=True),
            gc=self.gc[rows],
            centre=self.centre[rows],
            spread=self.spread[rows],
            used=self.used[rows],
            components=np.zeros((0, int(rows.sum()))),
            loo_residuals=self.loo_residuals[:, rows],
            warnings=[*self.warnings, warning],
            snps=None
            if self.snps is None
            else self.snps[self.snps["chrom"] == chrom].reset_index(drop=True),
        )

    def sites(self, bins: pd.DataFrame) -> Sites | None:
        """The SNP sites the normals were counted at, inside `bins` (None: no SNP table)."""
        if self.snps is None:
            return None
        return normals_sites(self.snps, bins, self.settings["snps"], self.settings["snps_md5"])

    def check_build(self, build: str, source: str) -> None:
        """Refuse alignments to another genome build than the normals'."""
        if build != self.build:
            raise MetcnvError(
                f"{source}: aligned to {build} but the panel of normals is "
                f"{self.build}; use a panel of normals built on {build} normals"
            )

    def check_sample(self, coverage: SampleCoverage, source: str) -> None:
        """Refuse a sample counted on other bins or aligned to another build."""
        self.check_build(coverage.build, source)
        if coverage.bins_md5 != self.bins_md5:
            raise MetcnvError(
                f"{source}: bins differ from the panel of normals' (another panel BED or "
                "bin settings); count it with `metcnv coverage --pon PON`"
            )


def _fit(
    log2: np.ndarray, gc: np.ndarray, chrom: np.ndarray, kinds: np.ndarray, usable: np.ndarray
) -> tuple[Reference, np.ndarray, list[str]]:
    """Fit a reference to normals' library-centred log2 counts (normals x bins, from
    _centred_log2): centre, spread, mask, components, and the warning that the zero line
    had to include chr7 (a chr7-wide gain is then unseen)."""
    zero_line, _ = reference_bins(chrom, usable, kinds)
    first = np.median(log2, axis=0)
    log2 = first + np.vstack([correct_gc(row - first, gc, kinds, zero_line) for row in log2])
    centre = np.median(log2, axis=0)
    spread = MAD_TO_SD * np.median(np.abs(log2 - centre), axis=0)
    relative = centre_per_kind(centre, kinds, zero_line)
    used = usable & (relative >= params.MIN_RELATIVE_COVERAGE) & (spread <= params.MAX_BIN_SPREAD)
    n = len(log2)
    k = min(params.MAX_COMPONENTS, n // 2) if n >= params.MIN_NORMALS_FOR_DENOISING else 0
    components = principal_components(log2 - centre, kinds, used, k)
    zero_line, warnings = reference_bins(chrom, used, kinds)
    return Reference(centre, gc, kinds, used, zero_line, components), spread, warnings


def _centred_log2(
    counts: np.ndarray, chrom: np.ndarray, kinds: np.ndarray, usable: np.ndarray
) -> np.ndarray:
    """Each normal's log2 counts centred per kind on the zero line of the usable bins: it
    depends on that normal alone, so every fit of a subset of the normals shares it."""
    zero_line, _ = reference_bins(chrom, usable, kinds)
    return np.vstack([centre_per_kind(log2_counts(row), kinds, zero_line) for row in counts])


def held_out_folds(n: int) -> list[np.ndarray]:
    """Which normals each held-out fit leaves out: each one alone (leave-one-out) up to
    params.LOO_MAX_NORMALS, else params.LOO_MAX_NORMALS folds (normal i in fold
    i % folds), so that the number of refits stops growing with the normals."""
    folds = min(n, params.LOO_MAX_NORMALS)
    return [np.arange(fold, n, folds) for fold in range(folds)]


def _held_out_residuals(
    counts: np.ndarray,
    log2: np.ndarray,
    gc: np.ndarray,
    chrom: np.ndarray,
    kinds: np.ndarray,
    usable: np.ndarray,
) -> np.ndarray:
    """Each normal's log2 ratios against a reference fitted without it (see held_out_folds)."""
    residuals = np.empty(counts.shape)
    for fold in held_out_folds(len(counts)):
        reference = _fit(np.delete(log2, fold, axis=0), gc, chrom, kinds, usable)[0]
        for i in fold:
            residuals[i] = normalize(counts[i], reference)
    return residuals


def build_pon(
    normals: list[SampleCoverage], gc: np.ndarray, settings: dict, strict: bool = False
) -> PanelOfNormals:
    """Fit the panel of normals and each normal's residuals against the others, leaving
    out a normal that is an outlier against the others (metcnv.outliers), one at a time,
    with the reason recorded in `excluded` and in the warnings every result made with it
    shows. `strict`: refuse instead. Refused too when over half of the normals would go."""
    _check_normals(normals)
    kept, excluded = list(normals), {}
    while True:
        pon = _fit_panel(kept, gc, settings)
        found = worst_normal(pon.loo_residuals, pon.bins, pon.used, pon.centre, pon.build)
        if found is None:
            break
        normal, reason = kept.pop(found[0]), found[1]
        source = normal.meta.get("source", normal.sample)
        if strict:
            raise MetcnvError(
                f"{source}: normal {normal.sample!r} is an outlier among the normals: {reason}; "
                "remove it, or build without --strict to leave it out"
            )
        excluded[normal.sample] = reason
        if len(kept) < params.MIN_NORMALS or 2 * len(excluded) > len(normals):
            listed = "; ".join(f"{name}: {why}" for name, why in excluded.items())
            raise MetcnvError(
                f"{len(excluded)} of {len(normals)} normals are outliers against the others "
                f"({listed}); check that they are normals of this panel and assay"
            )
    pon.excluded = excluded
    pon.warnings[:0] = [
        f"normal {name!r} was left out of the panel of normals: {why}"
        for name, why in excluded.items()
    ]
    return pon


def _check_normals(normals: list[SampleCoverage]) -> None:
    """Enough normals, of one build, counted on the same bins, each named once."""
    if len(normals) < params.MIN_NORMALS:
        raise MetcnvError(
            f"a panel of normals needs at least {params.MIN_NORMALS} normals, got "
            f"{len(normals)}; add normals or use `metcnv pon flat`"
        )
    first = normals[0]
    for other in normals[1:]:
        source = other.meta.get("source", other.sample)
        if other.build != first.build:
            raise MetcnvError(
                f"{source}: aligned to {other.build} but {first.meta.get('source')} to "
                f"{first.build}; build a panel of normals from one genome build"
            )
        if other.bins_md5 != first.bins_md5:
            raise MetcnvError(
                f"{source}: counted on other bins than {first.meta.get('source')}; count all "
                "normals with the same panel BED and bin settings"
            )
    names = [n.sample for n in normals]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise MetcnvError(f"normal sample names repeat: {', '.join(duplicated)}; name each once")


def _fit_panel(normals: list[SampleCoverage], gc: np.ndarray, settings: dict) -> PanelOfNormals:
    """The panel of normals of these normals, and each one's residuals against the others."""
    snps, settings = _normal_snps(normals, settings)
    bins = normals[0].bins[BIN_COLUMNS]
    chrom, kinds = bins["chrom"].to_numpy(), bins["kind"].to_numpy()
    counts = np.vstack([n.bins["count"].to_numpy() for n in normals])
    usable, warnings = _usable_bins(counts, kinds)
    if len(normals) < params.WARN_NORMALS:
        warnings.append(
            f"only {len(normals)} normals: per-bin spreads are crude and no denoising is done; "
            f"use at least {params.WARN_NORMALS}"
        )
    if len(normals) < params.OUTLIER_MIN_NORMALS:
        warnings.append(
            f"with {len(normals)} normals, a tumor or a failed library among them cannot be "
            f"told apart from the others; use at least {params.OUTLIER_MIN_NORMALS}"
        )
    log2 = _centred_log2(counts, chrom, kinds, usable)
    reference, spread, zero_line_warnings = _fit(log2, gc, chrom, kinds, usable)
    warnings += zero_line_warnings
    loo = _held_out_residuals(counts, log2, gc, chrom, kinds, usable)
    return PanelOfNormals(
        bins=bins,
        gc=gc,
        centre=reference.centre,
        spread=spread,
        used=reference.used,
        components=reference.components,
        loo_residuals=loo,
        normals=[n.sample for n in normals],
        build=normals[0].build,
        settings=settings,
        warnings=warnings,
        snps=snps,
        counts_md5=[counts_checksum(n) for n in normals],
    )


def counts_checksum(coverage: SampleCoverage) -> str:
    """MD5 of a sample's per-bin counts: equal for the same reads counted on the same bins."""
    return hashlib.md5(coverage.bins["count"].to_numpy(np.int64).tobytes()).hexdigest()


def _normal_snps(normals: list[SampleCoverage], settings: dict) -> tuple[pd.DataFrame | None, dict]:
    """The normals' SNP statistics and the settings naming their sites VCF, or None and the
    settings when no normal has allele counts; refuses a mix, or normals of other VCFs."""
    with_alleles = [n for n in normals if n.alleles is not None]
    if not with_alleles:
        return None, settings
    first = with_alleles[0]
    for other in normals:
        source = other.meta.get("source", other.sample)
        if other.alleles is None:
            problem = f"no allele counts, but {first.meta.get('source')} has them"
        elif other.meta["snps_md5"] != first.meta["snps_md5"]:
            problem = f"alleles counted at another sites VCF than {first.meta.get('source')}'s"
        else:
            continue
        raise MetcnvError(f"{source}: {problem}; count all normals with the same --snps")
    tables = [n.alleles for n in normals]
    snps = snp_statistics(tables)
    return snps, settings | {
        "snps": Path(first.meta["snps_source"]).name,
        "snps_md5": first.meta["snps_md5"],
        "het_concentration": het_concentration(tables, snps["usable"].to_numpy(bool)),
    }


def _usable_bins(counts: np.ndarray, kinds: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Bins with reads in the normals; off-target bins go when the panel has none (amplicons)."""
    usable = np.median(counts, axis=0) > 0
    warnings = []
    offtarget = kinds == "offtarget"
    if offtarget.any() and counts[:, offtarget].sum() == 0:
        warnings.append(
            "the normals have no off-target reads (amplicon panel?): off-target bins are not used"
        )
    dropped = int((~usable).sum())
    if dropped:
        warnings.append(f"{dropped} bins without reads in most normals are masked")
    return usable, warnings


def flat_pon(bins: pd.DataFrame, gc: np.ndarray, build: str, settings: dict) -> PanelOfNormals:
    """A reference without normals: every bin expected at the same depth per kind.

    Capture efficiency differences between bins are not corrected, so noise is higher and
    every result made with it says "flat reference".
    """
    n = len(bins)
    _, zero_line_warnings = reference_bins(
        bins["chrom"].to_numpy(), np.ones(n, dtype=bool), bins["kind"].to_numpy()
    )
    return PanelOfNormals(
        bins=bins[BIN_COLUMNS].reset_index(drop=True),
        gc=gc,
        centre=np.zeros(n),
        spread=np.full(n, np.nan),
        used=np.ones(n, dtype=bool),
        components=np.zeros((0, n)),
        loo_residuals=np.zeros((0, n)),
        normals=[],
        build=build,
        settings=settings,
        warnings=[
            "flat reference: no normals, capture efficiency is not corrected",
            *zero_line_warnings,
        ],
    )


def external_reference(bins: pd.DataFrame, build: str, normalised_by: str) -> PanelOfNormals:
    """The stand-in reference of copy ratios another tool normalised (a CNVkit .cnr, GATK
    denoised copy ratios): the bins are called as they are, never saved as a panel.

    metcnv sees none of that tool's normals, so no bin spread, no leave-one-out residuals:
    a gene's standard error is its bins' own scatter plus the flat reference's systematic
    floor (call.FLAT_SYSTEMATIC_SD), and every result made with it says which steps the
    other tool did.
    """
    n = len(bins)
    return PanelOfNormals(
        bins=bins[BIN_COLUMNS].reset_index(drop=True),
        gc=np.full(n, np.nan),
        centre=np.zeros(n),
        spread=np.full(n, np.nan),
        used=bins["used"].to_numpy(bool),
        components=np.zeros((0, n)),
        loo_residuals=np.zeros((0, n)),
        normals=[],
        build=build,
        settings={"normalised_by": normalised_by},
        warnings=[
            f"copy ratios normalised by {normalised_by}: metcnv did not count, normalise or "
            "GC-correct them, and without that tool's normals each standard error has a fixed "
            "systematic floor instead of one measured on normals"
        ],
        normalised_by=normalised_by,
    )


def write_npz(handle: BinaryIO, arrays: dict[str, np.ndarray]) -> None:
    """`np.savez_compressed`, but with a fixed time stamp on every member (numpy stamps the
    current time), so that the same normals give the same bytes and the same checksum."""
    with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            member = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(member, "w", force_zip64=True) as stream:
                np.lib.format.write_array(stream, np.asanyarray(array), allow_pickle=False)
