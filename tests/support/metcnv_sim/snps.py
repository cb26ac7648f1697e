"""Population SNP sites (a sites VCF) and each person's phased germline genotypes.

Sites are biallelic and lie in the reference's sequence windows, so reads can show them:
about `per_kb_target` common SNPs per kb of the windows around targets, far fewer in the
off-target islands, whose few reads would not measure an allele fraction anyway. Every
`{chrom}_snps` probe (panel.make_panel) is centred on a common SNP, as commercial panels
place their SNP probes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from metcnv.genome import contig_order
from metcnv_sim.reference import Reference

NUCLEOTIDES = np.frombuffer(b"ACGT", dtype=np.uint8)  # sorted: searchsorted finds a base
SNP_LABEL = "_snps"  # suffix of the SNP probes' gene label


def draw_snp_sites(
    reference: Reference,
    targets: pd.DataFrame,
    fasta: str | Path,
    seed: int,
    *,
    per_kb_target: float = 1.0,
    per_kb_island: float = 0.1,
    af_range: tuple[float, float] = (0.05, 0.5),
    probe_af_range: tuple[float, float] = (0.3, 0.5),
) -> pd.DataFrame:
    """Biallelic SNP sites (chrom, pos 0-based, id, ref, alt, af), sorted by position.

    Positions are Poisson-scattered over the sequence windows (`per_kb_*` per kb, by window
    kind), plus the centre of every SNP probe, whose AF is drawn from `probe_af_range`
    (common enough that about half of the people are heterozygous). REF is the base of
    `fasta` (the reference written by write_fasta) there, never N; ALT another base. AF,
    the ALT allele's population frequency, is uniform over `af_range`, as for common SNPs.
    """
    rng = np.random.default_rng(seed)
    windows = reference.windows
    rate = np.where(windows["kind"] == "island", per_kb_island, per_kb_target)
    length = (windows["end"] - windows["start"]).to_numpy()
    n = rng.poisson(rate * length / 1_000)
    chrom = np.repeat(windows["chrom"].to_numpy(), n)
    pos = np.repeat(windows["start"].to_numpy(), n) + np.floor(
        rng.random(n.sum()) * np.repeat(length, n)
    ).astype(np.int64)
    af = rng.uniform(*af_range, n.sum())
    probes = targets[targets["gene"].str.endswith(SNP_LABEL)]
    probe_pos = ((probes["start"] + probes["end"]) // 2).to_numpy()
    sites = pd.DataFrame(
        {
            "chrom": np.concatenate([probes["chrom"].to_numpy(), chrom]),
            "pos": np.concatenate([probe_pos, pos]),
            "af": np.concatenate([rng.uniform(*probe_af_range, len(probes)), af]),
        }
    )
    sites = sites.drop_duplicates(["chrom", "pos"], keep="first")  # a probe's SNP wins
    with pysam.FastaFile(str(fasta)) as handle:
        where = zip(sites["chrom"], sites["pos"], strict=True)
        ref = np.array([ord(handle.fetch(c, p, p + 1)) for c, p in where], dtype=np.uint8)
    sites = sites[ref != ord("N")].assign(ref=ref[ref != ord("N")])
    order = np.lexsort((sites["pos"], sites["chrom"], sites["chrom"].map(contig_order)))
    sites = sites.iloc[order]
    ref_index = np.searchsorted(NUCLEOTIDES, sites["ref"].to_numpy())
    alt = NUCLEOTIDES[(ref_index + rng.integers(1, 4, len(sites))) % 4]
    return pd.DataFrame(
        {
            "chrom": sites["chrom"].to_numpy(),
            "pos": sites["pos"].to_numpy(np.int64),
            "id": [f"sim{i}" for i in range(1, len(sites) + 1)],
            "ref": [chr(b) for b in sites["ref"]],
            "alt": [chr(b) for b in alt],
            "af": np.round(sites["af"].to_numpy(), 3),
        }
    )


def sites_header(
    contigs: Mapping[str, int], info: str, number: str, kind: str, description: str
) -> pysam.VariantHeader:
    """A VCF header without samples: the contigs in contig order and one INFO field."""
    header = pysam.VariantHeader()
    for chrom in sorted(contigs, key=contig_order):
        header.contigs.add(chrom, length=contigs[chrom])
    items = [("ID", info), ("Number", number), ("Type", kind), ("Description", description)]
    header.add_meta("INFO", items=items)
    return header


def write_vcf(sites: pd.DataFrame, contigs: Mapping[str, int], path: str | Path) -> None:
    """Write sites as a bgzipped, tabix-indexed VCFv4.2 sites file (INFO AF, no samples)."""
    about = "Population frequency of the ALT allele (simulated)"
    header = sites_header(contigs, "AF", "A", "Float", about)
    path = str(path)
    with pysam.VariantFile(path, "wz", header=header) as out:
        for chrom, pos, name, ref, alt, af in sites.itertuples(index=False):
            out.write(
                out.new_record(
                    contig=chrom, start=int(pos), alleles=(ref, alt), id=name, info={"AF": af}
                )
            )
    pysam.tabix_index(path, preset="vcf", force=True)


def draw_genotypes(sites: pd.DataFrame, germline_seed: int) -> np.ndarray:
    """One person's phased genotypes: (n_sites, 2) booleans, True where a haplotype has ALT.

    Each haplotype carries ALT with probability AF independently (Hardy-Weinberg), and
    column 0 is haplotype 1, so the draw is also the phase.
    """
    rng = np.random.default_rng([germline_seed, 0])
    return rng.random((len(sites), 2)) < sites["af"].to_numpy()[:, None]
