import numpy as np
import pytest

from metcnv.copynumber import copy_ratio, sample_copy_number, tumor_copy_number


def test_copy_ratio_formula():
    assert copy_ratio(20, 0.6, 2) == pytest.approx((0.6 * 20 + 0.8) / 2)
    assert copy_ratio(2, 0.3, 2) == pytest.approx(1.0)
    assert copy_ratio(4, 0.5, 3) == pytest.approx((2 + 1) / (1.5 + 1))
    assert copy_ratio(7, 0.0, 2) == pytest.approx(1.0)


@pytest.mark.parametrize(("purity", "fold"), [(0.3, 2.2), (0.1, 1.4), (0.05, 1.2)])
def test_fold_change_for_ten_copies_matches_domain_table(purity, fold):
    assert copy_ratio(10, purity, 2) == pytest.approx(fold)


def test_tumor_copy_number_inverts_copy_ratio():
    cn = np.array([0.0, 1, 2, 4, 10, 40])
    for purity in (0.03, 0.2, 1.0):
        for ploidy in (2.0, 3.3):
            assert tumor_copy_number(copy_ratio(cn, purity, ploidy), purity, ploidy) == (
                pytest.approx(cn)
            )


def test_sample_copy_number_is_a_lower_bound_for_gains():
    ratio = copy_ratio(12, 0.25, 2)
    assert sample_copy_number(ratio) < 12
    assert sample_copy_number(copy_ratio(12, 1.0, 2)) == pytest.approx(12)
