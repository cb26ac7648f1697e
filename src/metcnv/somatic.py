"""Somatic point mutations' allele fractions, as evidence of the tumor fraction.

A clonal somatic SNV carried by m of a segment's tumor copies (c = a + b, in state (a, b))
shows its alternate base in a share

    f = p*m / (p*c + 2(1-p))

of the reads at tumor fraction p: the usual source of a plasma sample's tumor fraction
(twice the allele fraction of a truncal mutation on two copies), and one that needs no
copy-number change at all, where depth and B-allele frequencies leave a flat genome's
purity open. m is unknown (1..a; a mutation before a gain can be on every copy of its
allele), so each state's likelihood averages over m. A subclonal mutation (in a share
ccf < 1 of tumor cells) shows less; each mutation is clonal with prior 1 - SUBCLONAL_SHARE,
else subclonal with ccf uniform on 0.05-0.95, so one low outlier does not drag the purity down
and one clonal cluster, the highest, sets it. Counts are beta-binomial with the het SNPs'
overdispersion (purity.snp_log_likelihood), since capture and PCR treat both alike.

The mutations come from the lab's own variant caller (a VCF of somatic SNVs, as PureCN and
cfDNA assays take it); metcnv counts their reads itself. They must be somatic: a germline
variant left in the VCF reads as a clonal mutation at purity 1, and clonal haematopoiesis
(CHIP) variants in plasma are not the tumor's. When an estimate holds only with mutations at
germline-like allele fractions, purity.germline_warning says so. In blood and effusion
samples, mutations in the panel's CHIP genes (CallSettings.chip_genes) are left out of the
fit (leave_out_chip): at three times the tumor's allele fraction, two of them pull the
estimate up by half, and nothing in their reads tells them from the tumor's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import betaln, logsumexp

from metcnv.bins import gene_labels, site_bins

SUBCLONAL_SHARE = 0.2  # prior share of a VCF's mutations that are subclonal
CCF_GRID = np.linspace(0.05, 0.95, 19)  # cancer cell fractions a subclonal mutation may have
MIN_PINNING = 2  # clonal mutations on the single copy of their allele that fix a purity alone
MUTATION_COLUMNS = ["ref_count", "alt_count", "concentration"]
MIN_DEPTH = 20  # reads over a mutation for its counts to enter the fit
ERROR_FLOOR = 0.002  # lowest alt fraction: a specific wrong base at ~0.1-0.5% error per base
GERMLINE_HET = (0.35, 0.65)  # alt fractions of a germline het site (0.5, with capture bias
# and a few hundred reads' noise), or of a germline hom above GERMLINE_HOM: what a variant
# the caller let through shows. A clonal mutation of a tumor at 70-100% shows them too
GERMLINE_HOM = 0.9


def _counts(mutations: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ref and alt counts and the overdispersion of each mutation (MUTATION_COLUMNS), as
    float columns."""
    return tuple(mutations[c].to_numpy(float)[:, None] for c in MUTATION_COLUMNS)


def beta_binomial(
    alt: np.ndarray, ref: np.ndarray, f: np.ndarray, concentration: np.ndarray, floor: float
) -> np.ndarray:
    """Log-likelihood (without the binomial coefficient, shared by every f) of alt of
    alt + ref reads at alt fraction f, kept within [floor, 1 - floor], with alpha + beta =
    `concentration`; broadcast. SNPs (purity.snp_log_likelihood) and mutations share it."""
    f = np.clip(f, floor, 1 - floor)
    alpha, beta = concentration * f, concentration * (1 - f)
    return betaln(alt + alpha, ref + beta) - betaln(alpha, beta)


def mutation_log_likelihood(
    purity: float, states: np.ndarray, mutations: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Log-likelihood of each mutation's counts (rows) in each (major, minor) state
    (columns) at `purity`, and the posterior that it is clonal, (mutations x states) each."""
    ref, alt, conc = (v[:, :, None] for v in _counts(mutations))
    major = states[:, 0].astype(float)
    cells = purity * states.sum(axis=1) + 2 * (1 - purity)
    copies = np.arange(1, int(major.max(initial=1)) + 1, dtype=float)
    f = purity * copies[None, :] / cells[:, None]  # states x multiplicities
    possible = copies[None, :] <= major[:, None]
    clonal = np.where(possible[None], beta_binomial(alt, ref, f[None], conc, ERROR_FLOOR), -np.inf)
    clonal = logsumexp(clonal, axis=2) - np.log(np.maximum(major, 1))[None, :]
    f_sub = f[:, :1] * CCF_GRID[None, :]  # one copy, in some of the tumor cells
    sub = beta_binomial(alt, ref, f_sub[None], conc, ERROR_FLOOR)
    sub = logsumexp(sub, axis=2) - np.log(len(CCF_GRID))
    clonal = np.log(1 - SUBCLONAL_SHARE) + clonal
    sub = np.log(SUBCLONAL_SHARE) + sub
    total = np.logaddexp(clonal, sub)
    return total, np.exp(clonal - total)


def free_log_likelihood(mutations: pd.DataFrame) -> np.ndarray:
    """Each mutation's log-likelihood at its own best alt fraction (on a 1% grid): what a
    segment left unexplained, at no particular state, gives its mutations."""
    grid = np.linspace(0.0, 1.0, 101)
    ref, alt, conc = _counts(mutations)
    return beta_binomial(alt, ref, grid[None, :], conc, ERROR_FLOOR).max(axis=1)


def fit_mutations(counts: pd.DataFrame, concentration: float) -> pd.DataFrame:
    """The sample's counts at its somatic mutations with their depth, alt fraction and
    overdispersion (`concentration`, the het SNPs'), and whether the fit may use each
    (`used`, else `reason`): MIN_DEPTH reads at least. A mutation with no alt read is kept:
    a truncal mutation absent from a plasma sample bounds its tumor fraction."""
    sites = counts.copy()
    sites["depth"] = sites["ref_count"] + sites["alt_count"]
    sites["alt_fraction"] = sites["alt_count"] / sites["depth"].where(sites["depth"] > 0)
    sites["concentration"] = concentration
    sites["used"] = sites["depth"] >= MIN_DEPTH
    sites["reason"] = np.where(sites["used"], "", f"depth below {MIN_DEPTH}")
    return sites


def germline_like(mutations: pd.DataFrame) -> np.ndarray:
    """Mask of mutations whose alt fraction is a germline variant's (GERMLINE_HET or above
    GERMLINE_HOM): four germline variants left in a tumor-only VCF of a flat plasma sample at
    10% tumor DNA fit as clonal mutations of a pure tumor, at 99-100%, the tumor's own
    mutations then subclonal (purity.germline_warning)."""
    ref, alt, _ = _counts(mutations)
    fraction = (alt / np.maximum(alt + ref, 1))[:, 0]
    low, high = GERMLINE_HET
    return ((fraction >= low) & (fraction <= high)) | (fraction >= GERMLINE_HOM)


def leave_out_chip(mutations: pd.DataFrame, bins: pd.DataFrame, genes: list[str]) -> str | None:
    """Mark the used mutations that lie in a target bin of one of `genes` (clonal
    haematopoiesis genes) as not used, with the reason; a warning naming them, if any."""
    targets = bins[(bins["kind"] == "target").to_numpy()]
    labels = gene_labels(targets)
    found = pd.Series(
        [
            next((g for g in labels.iloc[i] if g in genes), "") if i >= 0 else ""
            for i in site_bins(mutations, targets)
        ],
        index=mutations.index,
    )
    chip = mutations["used"] & found.ne("")
    if not chip.any():
        return None
    mutations.loc[chip, "used"] = False
    mutations.loc[chip, "reason"] = "in " + found[chip] + ", a clonal haematopoiesis gene"
    names = ", ".join(sorted(set(found[chip])))
    return (
        f"{int(chip.sum())} of {len(mutations)} somatic mutations lie in clonal haematopoiesis "
        f"genes ({names}) and were not used for the tumor fraction: in blood and effusions "
        "their reads may be the blood cells', not the tumor's (--chip-genes to change the list)"
    )
