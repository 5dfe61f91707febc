"""The latent shift, domain choice, centroids and interpolation (vaest.latent)."""

import numpy as np
import pytest

from vaest.errors import UserError
from vaest.latent import CentroidTally, Shift, choose_domain, lerp, slerp, weighted_centroid


def test_shift_is_the_formula_in_both_forms():
    rng = np.random.default_rng(1)
    mu, c_s, c_t = rng.normal(size=(3, 4, 8)).astype(np.float32)[0], *rng.normal(size=(2, 8))
    shifted = Shift(c_s, c_t, 0.25, 0.5).apply(mu)
    np.testing.assert_allclose(shifted, mu - 0.25 * c_s + 0.5 * c_t, rtol=1e-5, atol=1e-5)
    assert shifted.dtype == np.float32 and shifted.shape == mu.shape
    alpha = Shift.toward(c_s, c_t, 2.0)
    np.testing.assert_allclose(alpha.apply(mu), mu + 2.0 * (c_t - c_s), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(Shift.toward(c_s, c_t, 0.0).apply(mu), mu)


def test_centroid_tally_matches_numpy_over_batches():
    rng = np.random.default_rng(2)
    rows = rng.normal(3.0, 2.0, size=(50, 6))
    keys = rng.integers(0, 3, size=50)
    tally = CentroidTally(6)
    for start in range(0, 50, 7):
        tally.add_by_key(keys[start : start + 7], rows[start : start + 7])
    for key in range(3):
        mine = rows[keys == key]
        assert tally.count(key) == len(mine)
        np.testing.assert_allclose(tally.centroid(key), mine.mean(axis=0), rtol=1e-5)
        np.testing.assert_allclose(tally.std(key), mine.std(axis=0), rtol=1e-4)
    np.testing.assert_array_equal(tally.centroid("absent"), np.zeros(6))
    both = weighted_centroid(
        [tally.centroid(0), tally.centroid(1)], [tally.count(0), tally.count(1)]
    )
    np.testing.assert_allclose(both, rows[keys < 2].mean(axis=0), rtol=1e-5)


class _Domain:
    def __init__(self, name, kind):
        self.name, self.kind = name, kind


def test_choose_domain_names_the_choices_in_one_message_family():
    domains = [_Domain("clip", "video"), _Domain("a", "painting"), _Domain("b", "painting")]
    assert choose_domain(domains, "video", None, "source") == "clip"
    assert choose_domain(domains, "painting", "b", "target") == "b"
    with pytest.raises(UserError, match=r"--target clip is not a painting domain.*: a, b"):
        choose_domain(domains, "painting", "clip", "target")
    with pytest.raises(UserError, match=r"several painting domains \(a, b\).*--style_target"):
        choose_domain(domains, "painting", None, "style_target")


def test_slerp_keeps_unit_norm_and_hits_the_endpoints():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 512))
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    steps = np.linspace(0, 1, 9)
    path = slerp(a, b, steps)
    assert path.shape == (9, 512)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(path[0], a, atol=1e-12)
    np.testing.assert_allclose(path[-1], b, atol=1e-12)
    # Equal angular steps: the middle is equally far from both ends.
    middle = slerp(a, b, 0.5)
    assert middle @ a == pytest.approx(middle @ b)
    # Straight lines cut the corner: the lerp midpoint is shorter.
    assert np.linalg.norm(lerp(a, b, 0.5)) < 0.8


def test_slerp_falls_back_to_lerp_for_parallel_vectors():
    a = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(slerp(a, 2 * a, 0.25), 1.25 * a)
    np.testing.assert_allclose(slerp(a, -a, 0.5), 0.0)
    np.testing.assert_allclose(lerp(a, 3 * a, [0.0, 0.5, 1.0]), [a, 2 * a, 3 * a])
