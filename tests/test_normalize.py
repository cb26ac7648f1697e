import numpy as np

from metcnv.normalize import centre_per_kind, log2_counts


def test_centring_puts_the_mean_of_thin_neutral_bins_at_zero():
    """log2 of ~9 reads is skewed: its median is not its mean; the zero line must be the mean."""
    rng = np.random.default_rng(5)
    kinds = np.array(["offtarget"] * 4000)
    x = log2_counts(rng.poisson(9, 4000))
    centred = centre_per_kind(x, kinds, np.ones(4000, bool))
    assert abs(centred.mean()) < 0.01
    assert abs((x - np.median(x)).mean()) > 0.03  # a plain median is off


def test_centring_ignores_gains_and_losses_on_some_chromosomes():
    rng = np.random.default_rng(6)
    kinds = np.array(["target"] * 3000)
    x = rng.normal(0, 0.2, 3000)
    x[:400] += 1.0  # a gained arm
    x[400:700] -= 1.0  # a lost one
    centred = centre_per_kind(x + 3.0, kinds, np.ones(3000, bool))
    assert abs(np.median(centred[700:])) < 0.03
