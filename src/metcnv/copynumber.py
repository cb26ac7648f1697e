"""Copy ratio <-> copy number, with and without the tumor fraction.

A sample that is a fraction p of tumor cells of ploidy P, with c tumor copies at a locus
and 2 copies in the normal cells, has the copy ratio (mixture depth over the sample's
average depth)

    r = (p*c + 2*(1-p)) / (p*P + 2*(1-p))

so the tumor copy number is

    c = (r*(p*P + 2*(1-p)) - 2*(1-p)) / p.

Noise can give c < 0 at a deep loss; call.py clamps it to 0 and the result says so. Without
p the sample-average copy number 2r is all that is known: for a gain it is a lower bound
of the tumor's copy number (equal only at p = 1), never the tumor's own.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def tumor_copy_number(ratio: ArrayLike, purity: float, ploidy: float) -> np.ndarray:
    """Purity-adjusted tumor copy number (unclamped) from copy ratio(s)."""
    normal = 2 * (1 - purity)
    return (np.asarray(ratio, float) * (purity * ploidy + normal) - normal) / purity


def copy_ratio(tumor_cn: ArrayLike, purity: float, ploidy: float) -> np.ndarray:
    """Expected copy ratio of a sample whose tumor cells carry `tumor_cn` copies."""
    normal = 2 * (1 - purity)
    return (purity * np.asarray(tumor_cn, float) + normal) / (purity * ploidy + normal)


def sample_copy_number(ratio: ArrayLike) -> np.ndarray:
    """Sample-average copy number 2r (a lower bound of the tumor's for a gain)."""
    return 2 * np.asarray(ratio, float)
