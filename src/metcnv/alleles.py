"""Reference and alternate allele counts at known SNPs, for tumor purity from B-allele
frequencies (the counting runs in metcnv.counting, inside coverage.py's single pass over
the reads).

Sites come from a population sites VCF (bgzipped and tabix-indexed). Only biallelic SNVs
inside the panel's bins (on- or off-target) are kept; every other record is counted under
the reason it was skipped, so nothing is dropped silently:
- `multiallelic`: more than one ALT, or several records at one position (a split
  multiallelic site, where one record's ALT is another's "other" base);
- `not_snv`: indels, MNVs, symbolic or missing ALTs, and bases other than A, C, G, T;
- `outside_bins`: on no bin, or on a contig without bins.

At a site, a read passing the coverage read filters (flags, MAPQ) gives the base aligned
there by its CIGAR (soft clips and insertions move along the read only; a deletion or
skip over the site gives no base), if its base quality is at least `min_baseq`; the base
is counted as ref, alt or other. A fragment counts once: of two mates over a site, the
first read that gives a base counts and the other is ignored (keyed on the read name). A
read without bases (SEQ '*') gives none and is counted in `reads_without_bases`.

A sample's somatic mutations (a VCF from its variant caller, read_mutations) are counted
the same way in the same pass: PASS records only (`filtered` otherwise), and none at a
SNP site (`at_snp_site`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from metcnv import params
from metcnv.bins import site_bins
from metcnv.errors import MetcnvError
from metcnv.files import md5sum, require_file
from metcnv.genome import canonical

SITE_COLUMNS = ["chrom", "pos", "ref", "alt", "pop_af"]
ALLELE_COLUMNS = [*SITE_COLUMNS, "ref_count", "alt_count", "other_count"]
ALLELE_DTYPES = {
    "chrom": str,
    "pos": np.int64,
    "ref": str,
    "alt": str,
    "pop_af": np.float64,
    "ref_count": np.int64,
    "alt_count": np.int64,
    "other_count": np.int64,
}
SKIP_REASONS = ("multiallelic", "not_snv", "outside_bins")
MUTATION_SKIP_REASONS = (*SKIP_REASONS, "filtered", "at_snp_site")
BASES = frozenset("ACGT")


@dataclass
class ContigSites:
    """The kept sites of one contig (0-based positions, sorted), their ref and alt bases as
    ASCII codes, and their ref/alt/other counts, which metcnv.counting fills."""

    positions: np.ndarray  # int64
    ref_codes: np.ndarray  # uint8
    alt_codes: np.ndarray  # uint8
    min_baseq: int
    counts: np.ndarray = field(init=False)  # sites x (ref, alt, other), int64
    reads_without_bases: int = 0

    def __post_init__(self) -> None:
        self.counts = np.zeros((len(self.positions), 3), dtype=np.int64)


@dataclass
class Sites:
    """Kept sites (SITE_COLUMNS, sorted like the bins) and how many records were skipped."""

    table: pd.DataFrame
    skipped: dict[str, int]
    source: str
    md5: str

    def for_contigs(self, min_baseq: int) -> dict[str, ContigSites]:
        """Fresh counters per canonical contig name."""
        return {
            chrom: ContigSites(
                group["pos"].to_numpy(np.int64) - 1,
                _codes(group["ref"]),
                _codes(group["alt"]),
                min_baseq,
            )
            for chrom, group in self.table.groupby("chrom", sort=False)
        }


def _codes(bases: pd.Series) -> np.ndarray:
    """One-letter bases as their ASCII codes."""
    return np.frombuffer("".join(bases).encode("ascii"), dtype=np.uint8).copy()


def read_sites(
    path: str | Path,
    bins: pd.DataFrame,
    what: str = "a sites VCF (bgzipped, tabix-indexed) of SNPs",
    passing_only: bool = False,
) -> Sites:
    """The biallelic SNVs of a VCF (`what` it should be) that lie in `bins`, and the skipped
    records; with `passing_only`, records whose FILTER is neither PASS nor '.' are skipped
    as `filtered`."""
    path = require_file(path, what)
    try:
        vcf = pysam.VariantFile(str(path))
    except (ValueError, OSError) as error:
        raise MetcnvError(f"{path}: not a readable VCF ({error}); check the file") from None
    with vcf:
        if vcf.index is None:
            raise MetcnvError(f"{path}: no index found; bgzip it and run `tabix -p vcf {path}`")
        has_af = "AF" in vcf.header.info
        rows, skipped = (
            [],
            dict.fromkeys(MUTATION_SKIP_REASONS if passing_only else SKIP_REASONS, 0),
        )
        for contig in vcf.index:
            for record in vcf.fetch(contig):
                alts = record.alts or ()
                if passing_only and set(record.filter.keys()) - {"PASS"}:
                    skipped["filtered"] += 1
                elif len(alts) > 1:
                    skipped["multiallelic"] += 1
                elif not alts or record.ref not in BASES or alts[0] not in BASES:
                    skipped["not_snv"] += 1
                else:
                    af = record.info.get("AF") if has_af else None
                    af = af[0] if isinstance(af, tuple) else af
                    pop_af = np.nan if af is None else float(f"{af:.6g}")
                    rows.append((canonical(contig), record.pos, record.ref, alts[0], pop_af))
    sites = pd.DataFrame(rows, columns=SITE_COLUMNS).astype(
        {c: ALLELE_DTYPES[c] for c in SITE_COLUMNS}
    )
    repeated = sites.duplicated(["chrom", "pos"], keep=False)
    skipped["multiallelic"] += int(repeated.sum())
    sites = sites[~repeated]
    inside = _in_bins(sites, bins)
    skipped["outside_bins"] += int((~inside).sum())
    return Sites(_sorted_like(sites[inside], bins), skipped, str(path), md5sum(path))


def _sorted_like(sites: pd.DataFrame, bins: pd.DataFrame) -> pd.DataFrame:
    """Sites in the bins' contig order, then by position (stable: ties keep their order)."""
    order = {chrom: i for i, chrom in enumerate(dict.fromkeys(bins["chrom"]))}
    kept = sites.sort_values(
        ["chrom", "pos"], key=lambda c: c.map(order) if c.name == "chrom" else c, kind="stable"
    )
    return kept.reset_index(drop=True)


def read_mutations(path: str | Path, bins: pd.DataFrame, snps: Sites | None) -> Sites:
    """A sample's somatic SNVs (its variant caller's VCF) in `bins`, to count in the same
    pass as the SNPs: PASS records only, and none at a site of `snps` (skipped as
    `at_snp_site`: a somatic call at a common SNP is most likely the person's own allele,
    and each site is counted once)."""
    what = "a VCF of the sample's somatic SNVs (bgzipped, tabix-indexed)"
    mutations = read_sites(path, bins, what, passing_only=True)
    mutations.table["pop_af"] = np.nan  # a caller's INFO/AF, if any, is no population's
    if snps is not None:
        known = mutations.table.merge(snps.table[["chrom", "pos"]], how="left", indicator=True)
        at_snp = (known["_merge"] == "both").to_numpy()
        mutations.skipped["at_snp_site"] = int(at_snp.sum())
        mutations.table = mutations.table[~at_snp].reset_index(drop=True)
    return mutations


def counted_together(snps: Sites | None, mutations: Sites, bins: pd.DataFrame) -> Sites:
    """SNPs and mutations as one set of sites for the counting pass, a `somatic` column
    telling them apart (split_counts splits the counted table again)."""
    tables = [mutations.table.assign(somatic=True)]
    if snps is not None:
        tables.insert(0, snps.table.assign(somatic=False))
    table = _sorted_like(pd.concat(tables, ignore_index=True), bins)
    return Sites(table, {}, mutations.source, mutations.md5)


def split_counts(counted: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """allele_table of counted_together's sites, as (SNPs, mutations), each in site order."""
    somatic = counted["somatic"].to_numpy(bool)
    parts = (counted[~somatic], counted[somatic])
    return tuple(part.drop(columns="somatic").reset_index(drop=True) for part in parts)


def normals_sites(snps: pd.DataFrame, bins: pd.DataFrame, vcf_name: str, md5: str) -> Sites:
    """The sites a panel of normals' SNP table holds (those its normals were counted at:
    the kept sites of their VCF, `vcf_name` with digest `md5`), inside `bins`. A sample
    counted at them without --snps gets the alleles it would get from that VCF."""
    sites = snps[SITE_COLUMNS].astype({c: ALLELE_DTYPES[c] for c in SITE_COLUMNS})
    inside = _in_bins(sites, bins)
    skipped = dict.fromkeys(SKIP_REASONS, 0) | {"outside_bins": int((~inside).sum())}
    source = f"{vcf_name} (the panel of normals' sites)"
    return Sites(sites[inside].reset_index(drop=True), skipped, source, md5)


def _in_bins(sites: pd.DataFrame, bins: pd.DataFrame) -> np.ndarray:
    """Whether each site (1-based pos) lies in one of the bins (0-based, half-open)."""
    return site_bins(sites, bins) >= 0


def allele_table(sites: Sites, counters: dict[str, ContigSites]) -> pd.DataFrame:
    """The sites with their counts (ALLELE_COLUMNS), in the sites' order."""
    chroms = dict.fromkeys(sites.table["chrom"])
    counts = np.vstack([np.zeros((0, 3), np.int64)] + [counters[c].counts for c in chroms])
    return sites.table.assign(
        ref_count=counts[:, 0], alt_count=counts[:, 1], other_count=counts[:, 2]
    ).reset_index(drop=True)


SNP_STAT_DTYPES = {
    **{c: ALLELE_DTYPES[c] for c in SITE_COLUMNS},
    "normals_covered": np.int64,
    "het_normals": np.int64,
    "het_alt_fraction": np.float64,
    "artefact_normals": np.int64,
    "usable": bool,
    "reason": str,
}
SNP_STAT_COLUMNS = list(SNP_STAT_DTYPES)


def genotype_calls(
    tables: list[pd.DataFrame],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ref and alt counts and alt fraction (normals x sites; 0 without reads), and where a
    normal covers the site and where it is het."""
    ref = np.vstack([t["ref_count"].to_numpy(np.int64) for t in tables])
    alt = np.vstack([t["alt_count"].to_numpy(np.int64) for t in tables])
    depth = ref + alt
    covered = depth >= params.SNP_MIN_DEPTH
    fraction = np.divide(alt, depth, out=np.zeros(depth.shape), where=depth > 0)
    het = covered & (fraction >= params.SNP_HET_MIN) & (fraction <= params.SNP_HET_MAX)
    return ref, alt, fraction, covered, het


def snp_statistics(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Per-site statistics of the normals' allele counts (the same sites in each), as
    PureCN's panel of normals keeps them, and whether the site is fit for a purity fit.

    A normal covers a site with at least SNP_MIN_DEPTH ref + alt reads; it is het there
    with an alt fraction in [SNP_HET_MIN, SNP_HET_MAX], an artefact with one that is neither
    that nor within SNP_HOM_MAX_ERROR of 0 or 1. `het_alt_fraction` is the mean over the
    het normals (the capture's and aligner's bias toward the reference; NaN if none).
    A site is not usable (and `reason` says why, '; '-joined) when
    - fewer than SNP_MIN_COVERED_FRACTION of the normals cover it ("rarely covered");
    - more than SNP_MAX_ARTEFACT_FRACTION of the covered normals, and at least
      SNP_MIN_ARTEFACT_NORMALS, are artefacts ("never balanced"): no clean germline SNP;
    - at least SNP_MIN_HET_NORMALS_FOR_BIAS normals are het and their mean alt fraction is
      more than SNP_MAX_HET_BIAS from 0.5 ("biased in normals").
    """
    ref, _, fraction, covered, het = genotype_calls(tables)
    hom = (fraction <= params.SNP_HOM_MAX_ERROR) | (fraction >= 1 - params.SNP_HOM_MAX_ERROR)
    artefact = covered & ~het & ~hom
    n_covered, n_het, n_artefact = covered.sum(0), het.sum(0), artefact.sum(0)
    with np.errstate(invalid="ignore"):
        het_fraction = np.where(het, fraction, 0).sum(0) / n_het
    reasons = []
    for site in range(ref.shape[1]):
        found = []
        if n_covered[site] < params.SNP_MIN_COVERED_FRACTION * len(tables):
            found.append(
                f"rarely covered: {n_covered[site]} of {len(tables)} normals have "
                f">= {params.SNP_MIN_DEPTH} reads"
            )
        if (
            n_artefact[site] >= params.SNP_MIN_ARTEFACT_NORMALS
            and n_artefact[site] > params.SNP_MAX_ARTEFACT_FRACTION * n_covered[site]
        ):
            found.append(
                f"never balanced: {n_artefact[site]} of {n_covered[site]} covered normals "
                "are neither hom nor het"
            )
        if (
            n_het[site] >= params.SNP_MIN_HET_NORMALS_FOR_BIAS
            and abs(het_fraction[site] - 0.5) > params.SNP_MAX_HET_BIAS
        ):
            found.append(f"biased in normals: mean het alt fraction {het_fraction[site]:.2f}")
        reasons.append("; ".join(found))
    return (
        tables[0][SITE_COLUMNS]
        .assign(
            normals_covered=n_covered,
            het_normals=n_het,
            het_alt_fraction=het_fraction,
            artefact_normals=n_artefact,
            usable=[not r for r in reasons],
            reason=reasons,
        )
        .reset_index(drop=True)
    )
