"""Linear CKA and channel matching against known answers."""
import itertools
import math

import numpy as np
import pytest

from featuremaps.analysis.cka import MomentsSum, chance_cka, chance_cka_of, cka_of, debiased_cka, debiased_cka_of, \
    linear_cka
from featuremaps.compare.similarity import channel_match, correlation_matrix, correlation_of, match_channels


def test_cka_by_hand():
    # one column each: CKA is the squared correlation; centred x = [-1, 0, 1], y = [0, -1, 1]:
    # (y.x)^2 / (|x|^2 |y|^2) = 1 / 4
    assert linear_cka([[1], [2], [3]], [[1], [0], [2]]) == pytest.approx(0.25)
    # X = [[1,0],[0,1],[0,0]] against its first column: Y^T X = [2/3, -1/3], ||X^T X||_F = sqrt(90)/9,
    # Y^T Y = 2/3, so CKA = (5/9) / (sqrt(90)/9 * 2/3) = sqrt(10)/4
    x = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    assert linear_cka(x, x[:, :1]) == pytest.approx(math.sqrt(10) / 4)
    assert linear_cka(x, x) == pytest.approx(1.0)


def test_cka_invariant_to_rotation_and_scale_not_to_other_maps():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6))
    y = x @ rng.normal(size=(6, 5)) + 0.5 * rng.normal(size=(200, 5))
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    base = linear_cka(x, y)
    assert 0 < base < 1
    assert linear_cka(x, 3.7 * y @ q) == pytest.approx(base, rel=1e-10)
    assert linear_cka(x, y + 100.0) == pytest.approx(base, rel=1e-10)  # centred
    assert linear_cka(y, x) == pytest.approx(base, rel=1e-10)
    assert linear_cka(x, y * np.arange(1, 6)) != pytest.approx(base, rel=1e-3)  # anisotropic scaling matters
    assert math.isnan(linear_cka(x, np.ones((200, 3))))
    with pytest.raises(ValueError, match="same images"):
        linear_cka(x, y[:10])


def test_correlation_matrix_is_pearson():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(50, 3)), rng.normal(size=(50, 4))
    expected = np.corrcoef(x.T, y.T)[:3, 3:]
    assert np.allclose(correlation_matrix(x, y), expected)


def test_matching_recovers_a_permutation_and_reports_dead_and_extra_channels():
    rng = np.random.default_rng(2)
    x = np.maximum(rng.normal(size=(500, 8)), 0)
    perm = rng.permutation(8)
    y = x[:, perm] * 2.5 + 1.0  # B's channel j is A's channel perm[j]
    m = match_channels(x, y, threshold=0.5)
    assert [(a, b) for a, b, _ in m.pairs] == sorted((int(perm[j]) + 1, j + 1) for j in range(8))
    assert all(r == pytest.approx(1.0) for _, _, r in m.pairs)
    assert m.weak == [] and m.unmatched_a == m.unmatched_b == m.dead_a == m.dead_b == []

    # A has a dead channel 3 and two more channels than B
    x[:, 2] = 0.0
    m = match_channels(x, y[:, :6], threshold=0.5)
    assert m.dead_a == [3] and m.dead_b == []
    assert all(a != 3 for a, _, _ in m.pairs) and len(m.pairs) == 6 and len(m.unmatched_a) == 1
    kept = {int(perm[j]) + 1: j + 1 for j in range(6) if perm[j] != 2}  # A's live channels B still has
    assert {(a, b) for a, b, r in m.pairs if r > 0.99} == set(kept.items())
    assert set(m.unmatched_a) <= set(m.no_good_match("a"))
    assert np.isnan(m.correlation[2]).all()


def test_weak_pairs_fall_under_the_threshold():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2000, 3))
    y = np.stack([x[:, 0], 0.3 * x[:, 1] + rng.normal(size=2000), rng.normal(size=2000)], axis=1)
    m = match_channels(x, y, threshold=0.5)
    assert [(a, b) for a, b, _ in m.pairs][0] == (1, 1) and m.pairs[0][2] == pytest.approx(1.0)
    assert {a for a, _, _ in m.weak} == {2, 3}
    assert m.no_good_match("a") == [2, 3] and m.no_good_match("b") == [2, 3]
    assert m.mean_correlation == pytest.approx(np.mean([r for _, _, r in m.pairs]))


def test_cka_and_debiased_cka_reproduce_the_reference_notebooks_values():
    # google-research representation_similarity, Demo.ipynb: seed 1337, X = randn(100, 10), Y = randn(100, 10) + X
    np.random.seed(1337)
    x = np.random.randn(100, 10)
    y = np.random.randn(100, 10) + x
    assert round(linear_cka(x, y), 5) == 0.55761
    assert round(debiased_cka(x, y), 5) == 0.51346


def unbiased_hsic(k: np.ndarray, l: np.ndarray) -> float:  # noqa: E741
    """Song et al. 2012, eq. 5, from Gram matrices with their diagonals zeroed: the brute-force form."""
    n = len(k)
    k, l = k - np.diag(np.diag(k)), l - np.diag(np.diag(l))  # noqa: E741
    one = np.ones(n)
    return (np.trace(k @ l) + (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * one @ k @ l @ one) / (n * (n - 3))


def test_debiased_cka_equals_the_gram_matrix_form_and_sits_near_zero_for_unrelated_layers():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(60, 7))
    y = np.tanh(x @ rng.normal(size=(7, 4))) + 0.3 * rng.normal(size=(60, 4))
    xc, yc = x - x.mean(0), y - y.mean(0)
    k, l = xc @ xc.T, yc @ yc.T  # noqa: E741
    want = unbiased_hsic(k, l) / np.sqrt(unbiased_hsic(k, k) * unbiased_hsic(l, l))
    assert debiased_cka(x, y) == pytest.approx(want, rel=1e-10)
    assert debiased_cka(x, x[:, ::-1] * 2.5) == pytest.approx(1.0)  # a permutation and a scale
    unrelated = [debiased_cka(rng.normal(size=(n, 10)), rng.normal(size=(n, 10))) for n in (256, 2048)]
    assert all(abs(v) < 0.05 for v in unrelated)
    assert math.isnan(debiased_cka(x[:3], y[:3]))


def test_the_chance_floor_falls_as_the_number_of_images_grows():
    rng = np.random.default_rng(5)
    floors = [chance_cka(rng.normal(size=(n, 10)), rng.normal(size=(n, 10))) for n in (32, 256, 2048)]
    assert floors[0] > floors[1] > floors[2] > 0
    # independent features: the floor is what their own CKA reads (biased CKA about 0.2 at n = 32, 0.03 at 256)
    assert 0.1 < floors[0] < 0.4 and 0.01 < floors[1] < 0.08
    x = rng.normal(size=(500, 6))
    assert chance_cka(x, x) < 0.1 < linear_cka(x, x)  # the same layer, images out of order: chance


def test_the_chance_floor_is_the_mean_over_every_order_of_the_images():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(6, 3)), rng.gamma(1.0, size=(6, 2))
    every = [linear_cka(x, y[list(order)]) for order in itertools.permutations(range(6))]
    assert len(every) == 720
    assert chance_cka(x, y) == pytest.approx(np.mean(every), rel=1e-12)


def test_moments_summed_chunk_by_chunk_give_what_the_whole_representations_give():
    """Several layers a side, every pair, chunks of 1, 7 and 64 images against the arrays whole."""
    rng = np.random.default_rng(7)
    n = 130
    xs = {"conv1": rng.normal(size=(n, 3)), "conv2": rng.gamma(2.0, size=(n, 5)) * 1e3}
    xs["conv2"][:, 4] = 2.5  # a dead channel
    ys = {"conv1": xs["conv1"] @ rng.normal(size=(3, 4)), "conv2": np.tanh(xs["conv2"][:, :3] / 1e3),
          "same": xs["conv1"].copy()}
    pairs = [(a, b) for a in xs for b in ys]
    for chunk in (1, 7, 64):
        total = MomentsSum({k: v.mean(0) for k, v in xs.items()}, {k: v.mean(0) for k, v in ys.items()}, pairs)
        for start in range(0, n, chunk):
            total.add({k: v[start:start + chunk] for k, v in xs.items()},
                      {k: v[start:start + chunk] for k, v in ys.items()})
        for a, b in pairs:
            m = total.moments(a, b)
            assert m.n == n
            for streamed, whole in ((cka_of, linear_cka), (debiased_cka_of, debiased_cka), (chance_cka_of, chance_cka)):
                assert streamed(m) == pytest.approx(whole(xs[a], ys[b]), rel=1e-10)
            assert np.allclose(correlation_of(m), correlation_matrix(xs[a], ys[b]), equal_nan=True, atol=1e-12)
            streamed, whole = channel_match(m, 0.5), match_channels(xs[a], ys[b], 0.5)
            assert [p[:2] for p in streamed.pairs] == [p[:2] for p in whole.pairs]
            assert [p[2] for p in streamed.pairs] == pytest.approx([p[2] for p in whole.pairs], rel=1e-10)
        assert cka_of(total.moments("conv1", "same")) == 1.0
        assert channel_match(total.moments("conv2", "conv1"), 0.5).dead_a == [5]
