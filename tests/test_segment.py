import numpy as np
import pandas as pd

from metcnv.segment import (
    SEARCHES,
    _best_arc,
    _best_split,
    _significant,
    anchored_arc,
    noise_scale,
    segment_bins,
    segment_chromosome,
    segments_at,
)


def test_finds_a_step_and_a_short_focal_block():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 0.1, 300)
    x[100:] += 0.4
    x[200:208] += 2.0
    w = np.full(300, 100.0)
    assert segment_chromosome(x, w) == [(0, 100), (100, 200), (200, 208), (208, 300)]


def test_pure_noise_stays_one_segment_most_of_the_time():
    rng = np.random.default_rng(2)
    splits = sum(
        len(segment_chromosome(rng.normal(0, 0.2, 200), np.full(200, 25.0))) > 1 for _ in range(40)
    )
    assert splits <= 3  # alpha 0.01 per test; a few false splits at most


def test_an_alpha_below_what_permutations_can_show_leaves_the_bonferroni_bound_to_decide():
    """A step at T ~5.6 (nominal p 2e-8) is significant at 0.01 but, over 200 bins'
    199 splits or ~20,000 arcs, not at half of 1e-6 (Bonferroni: 4e-6, 4e-4), and 200
    permutations (p >= 1/201) cannot show it either: no split."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 0.1, 200)
    x[100:] += 0.05
    w = np.ones(200)
    assert len(segment_chromosome(x, w, alpha=0.01)) > 1
    assert segment_chromosome(x, w, alpha=1e-6) == [(0, 200)]


def test_one_change_point_is_tested_for_itself_with_more_power_than_an_arc():
    """An arm-level step (a third of the bins 0.3 SD above the rest): the single-split
    test, whose null maximum runs over n positions, accepts it in twice as many of 20
    noisy chromosomes as the arc test, whose null runs over n^2/2 arcs."""
    accepted = {_best_split: 0, _best_arc: 0}
    for seed in range(20):
        rng = np.random.default_rng(seed)
        x = rng.normal(0, 0.5, 600)
        x[200:] -= 0.17
        w = np.full(600, 4.0)
        for best, tests in SEARCHES:
            t_max = best(x, w, 2)[0]
            accepted[best] += _significant(
                x, w, t_max, noise_scale(x, w), 2, 0.005, np.random.default_rng(0), best, tests(600)
            )
    assert accepted[_best_split] >= 12
    assert accepted[_best_arc] <= 9


def test_segment_bins_reports_rows_and_weighted_means():
    bins = pd.DataFrame(
        {
            "chrom": ["chr7"] * 6 + ["chr8"] * 2,
            "start": [0, 10, 20, 30, 40, 50, 0, 10],
            "end": [10, 20, 30, 40, 50, 60, 10, 20],
            "log2": [0, 0, 0, 0, 0, 0, 1.0, 3.0],
            "weight": [1.0] * 7 + [3.0],
        }
    )
    segments = segment_bins(bins)
    assert list(segments["chrom"]) == ["chr7", "chr8"]
    assert segments["log2"].iloc[1] == 2.5
    assert list(segments[["first_row", "last_row"]].iloc[1]) == [6, 7]


def test_anchored_arc_finds_the_amplicon_around_a_known_position():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 0.3, 200)
    x[80:110] += 0.5  # a weak gain that CBS may merge with its neighbours
    w = np.full(200, 11.0)
    i, j = anchored_arc(x, w, 93, 97)
    assert abs(i - 80) <= 3 and abs(j - 110) <= 3
    dip = np.zeros(50)
    dip[20:25] = -1.0  # the position itself is low: no arc around it stands higher
    assert anchored_arc(dip, np.ones(50), 20, 24) is None


def test_segments_at_another_tools_boundaries():
    """Bins join the given segment holding their midpoint; bins in none (the tool dropped
    them) form segments of their own, so the segments still cover every bin."""
    bins = pd.DataFrame(
        {
            "chrom": ["chr7"] * 6 + ["chr8"] * 2,
            "start": [0, 10, 20, 30, 40, 50, 0, 10],
            "end": [10, 20, 30, 40, 50, 60, 10, 20],
            "log2": [0, 0, 1.0, 1.0, 0, 0, 2.0, 2.0],
            "weight": [1.0] * 8,
        }
    )
    given = pd.DataFrame(
        {"chrom": ["chr7", "chr7", "chr8"], "start": [0, 20, 0], "end": [20, 40, 20]}
    )
    segments = segments_at(bins, given)
    assert segments[["chrom", "start", "end", "n_bins"]].values.tolist() == [
        ["chr7", 0, 20, 2],
        ["chr7", 20, 40, 2],
        ["chr7", 40, 60, 2],
        ["chr8", 0, 20, 2],
    ]
    assert segments["log2"].tolist() == [0.0, 1.0, 0.0, 2.0]
    assert segments["last_row"].tolist() == [1, 3, 5, 7]
