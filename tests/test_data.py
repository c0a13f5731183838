"""The synthetic series and the seed's batch layout (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest

from rnntui.config import Config
from rnntui.data.feed import EpochFeed
from rnntui.data.generator import Series, generate, rule_combinations, unwindow, windows
from rnntui.data.source import train_series, val_series

SEED_RULES = ((3, 0.5), (8, -0.25))


def conditional_frequencies(x, y, rules):
    """{(X[t-lag] for each rule): (empirical P(Y=1), count)} by direct indexing."""
    pad = max(lag for lag, _ in rules)
    n = len(x)
    hist = [x[pad - lag: n - lag] for lag, _ in rules]  # X[t-lag] for t = pad .. n-1
    yt = y[pad:]
    out = {}
    for combo in np.ndindex(*(2,) * len(rules)):
        mask = np.ones(n - pad, dtype=bool)
        for h, bit in zip(hist, combo, strict=True):
            mask &= h == bit
        out[combo] = (float(yt[mask].mean()), int(mask.sum()))
    return out


def true_p(base, rules, combo):
    return base + sum(d * b for (_, d), b in zip(rules, combo, strict=True))


# -- the series --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_series():
    return generate(1_000_000, 123)


def test_shapes_and_dtypes():
    x, y = generate(1_000_000, 0)
    assert x.shape == y.shape == (1_000_000,)
    assert x.dtype == np.uint8 and y.dtype == np.uint8
    assert set(np.unique(x)) <= {0, 1} and set(np.unique(y)) <= {0, 1}
    assert generate(0, 0)[0].shape == (0,)


def test_any_stretch_is_the_same_as_in_the_whole_series():
    """Random access: rows made on their own equal the slices of the whole series, across
    generate's internal pieces too, and the history before step 0 is there."""
    series = Series(7, 0.5, SEED_RULES)
    x, y = generate(3_000_000, 7)
    starts = np.array([0, 5, 1_048_570, 2_999_000])
    rx, ry = series.rows(starts, 1000)
    for i, s in enumerate(starts):
        np.testing.assert_array_equal(rx[i], x[s:s + 1000])
        np.testing.assert_array_equal(ry[i], y[s:s + 1000])
    # Long rows are made in cache-sized blocks (Series.rows): the same steps, at any start.
    bx, by = series.rows(np.array([1, 2_000_003]), 300_000)
    for i, s in enumerate((1, 2_000_003)):
        np.testing.assert_array_equal(bx[i], x[s:s + 300_000])
        np.testing.assert_array_equal(by[i], y[s:s + 300_000])
    # Y_t = X_{t-3} exactly: Y_0..Y_2 read the history, X_{-3}..X_{-1}, made on request.
    copy = Series(7, 0.0, ((3, 1.0),))
    hx, _ = copy.rows(np.array([-3]), 3)
    _, y0 = copy.rows(np.array([0]), 3)
    np.testing.assert_array_equal(y0, hx)


def test_the_seed_stream_is_reproducible_across_versions():
    """The first draws of seed 0, written out: a change to the generator changes every
    measured number in the README, so it must be a deliberate one."""
    x, y = generate(16, 0)
    assert "".join(map(str, x)) == X0 and "".join(map(str, y)) == Y0


def test_x_is_a_fair_coin(seed_series):
    x, _ = seed_series
    assert abs(x.mean() - 0.5) < 0.003
    # Independent steps: P(X_t=1 | X_{t-1}=1) is also 1/2.
    assert abs(x[1:][x[:-1] == 1].mean() - 0.5) < 0.004


def test_conditional_frequencies_match_the_seed_rules(seed_series):
    x, y = seed_series
    freqs = conditional_frequencies(x, y, SEED_RULES)
    assert len(freqs) == 4
    for combo, (p, count) in freqs.items():
        assert count > 200_000
        assert abs(p - true_p(0.5, SEED_RULES, combo)) < 0.01, (combo, p)
    # The values themselves, written out: X[t-3]=1 adds 0.5, X[t-8]=1 takes 0.25.
    assert abs(freqs[(0, 0)][0] - 0.5) < 0.01
    assert abs(freqs[(1, 0)][0] - 1.0) < 1e-9  # exactly 1: every Y is 1
    assert abs(freqs[(0, 1)][0] - 0.25) < 0.01
    assert abs(freqs[(1, 1)][0] - 0.75) < 0.01


def test_rule_combinations_agree_with_direct_indexing(seed_series):
    x, y = seed_series
    codes = rule_combinations(x, SEED_RULES)
    assert codes.shape == x.shape
    assert np.all(codes[:8] == -1)
    assert codes[8:].min() == 0 and codes[8:].max() == 3
    t = np.arange(8, len(x))
    expected = x[t - 3].astype(np.int64) | (x[t - 8].astype(np.int64) << 1)
    np.testing.assert_array_equal(codes[8:], expected)
    for c in range(4):
        combo = (c & 1, c >> 1)
        assert abs(y[codes == c].mean() - true_p(0.5, SEED_RULES, combo)) < 0.01


def test_other_lags_carry_no_information(seed_series):
    x, y = seed_series
    for lag in (1, 2, 4, 5):
        p1 = y[lag:][x[:-lag] == 1].mean()
        p0 = y[lag:][x[:-lag] == 0].mean()
        assert abs(p1 - p0) < 0.01, lag
    # ...while lag 3 moves P(Y=1) by its delta, 0.5.
    assert abs((y[3:][x[:-3] == 1].mean() - y[3:][x[:-3] == 0].mean()) - 0.5) < 0.01


def test_custom_rules():
    base, rules = 0.2, ((1, 0.6), (5, 0.2))
    x, y = generate(400_000, 9, base, rules)
    freqs = conditional_frequencies(x, y, rules)
    expected = {(0, 0): 0.2, (1, 0): 0.8, (0, 1): 0.4, (1, 1): 1.0}
    for combo, p in expected.items():
        assert abs(freqs[combo][0] - p) < 0.01, combo
    # Rules given out of order mean the same thing.
    x2, y2 = generate(1000, 9, base, rules[::-1])
    x3, y3 = generate(1000, 9, base, rules)
    np.testing.assert_array_equal(y2, y3)


def test_no_rules_is_a_biased_coin():
    x, y = generate(200_000, 4, 0.3, ())
    assert abs(y.mean() - 0.3) < 0.005
    assert abs(y[x == 1].mean() - y[x == 0].mean()) < 0.01


def test_deterministic_rule_and_lag_direction():
    # base 0, X[t-2] adds 1: Y_t is exactly X_{t-2}.
    x, y = generate(10_000, 5, 0.0, ((2, 1.0),))
    np.testing.assert_array_equal(y[2:], x[:-2])


def test_same_seed_same_series_different_seed_different():
    a = generate(5000, 11)
    b = generate(5000, 11)
    c = generate(5000, 12)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[1], c[1])


def test_first_outputs_do_not_wrap_around_to_the_end():
    """The seed reads X[i-3] at i < 3 from the end of the array. Here Y_0..Y_{lag-1} must
    come from X values drawn before the series, so they agree with the wrapped-around X
    values only by chance (half the time), never always."""
    lag = 3
    agree = []
    for seed in range(300):
        x, y = generate(50, seed, 0.0, ((lag, 1.0),))
        np.testing.assert_array_equal(y[lag:], x[:-lag])  # the rule holds inside
        agree.append(y[:lag] == x[-lag:])  # what a wrap-around would give
    rate = np.mean(agree)
    assert 0.35 < rate < 0.65, rate


def test_negative_size_and_bad_rules_rejected():
    with pytest.raises(ValueError):
        generate(-1, 0)
    with pytest.raises(ValueError):
        generate(100, 0, 0.9, SEED_RULES)  # P(Y=1) = 1.4 for X[t-3]=1


def test_train_and_val_series_are_separate_streams():
    cfg = Config().with_values(size=3000, val_size=3000).data
    t0, t1 = train_series(cfg, 0), train_series(cfg, 1)
    v = val_series(cfg)
    assert not np.array_equal(t0[0], t1[0])
    assert not np.array_equal(t0[0], v[0])
    np.testing.assert_array_equal(train_series(cfg, 0)[0], t0[0])
    np.testing.assert_array_equal(val_series(cfg)[1], v[1])
    fixed = Config().with_values(size=3000, data_mode="fixed").data
    np.testing.assert_array_equal(train_series(fixed, 0)[0], train_series(fixed, 5)[0])
    other = Config().with_values(size=3000, seed=1).data
    assert not np.array_equal(train_series(other, 0)[0], t0[0])


# -- windows -----------------------------------------------------------------------------


def seed_gen_batch(raw_x, batch_size, num_steps):
    """The seed article's gen_batch, written out as its loops: the reference layout."""
    part = len(raw_x) // batch_size
    data_x = np.zeros([batch_size, part], dtype=raw_x.dtype)
    for i in range(batch_size):
        data_x[i] = raw_x[part * i: part * (i + 1)]
    for i in range(part // num_steps):
        yield data_x[:, i * num_steps: (i + 1) * num_steps]


@pytest.mark.parametrize("length, batch_size, num_steps",
                         [(1003, 4, 7), (1000, 200, 5), (60, 3, 20), (999, 1, 1), (50, 5, 3)])
def test_windows_match_the_seed_gen_batch(length, batch_size, num_steps):
    series = np.arange(length)
    w = windows(series, batch_size, num_steps)
    ref = np.stack(list(seed_gen_batch(series, batch_size, num_steps)))
    part = length // batch_size
    assert w.shape == (part // num_steps, batch_size, num_steps)
    np.testing.assert_array_equal(w, ref)


def test_rows_continue_from_batch_to_batch():
    series = np.arange(10_000)
    w = windows(series, 8, 5)
    n = w.shape[0]
    assert n == 10_000 // 8 // 5
    # Row b of batch i+1 starts where row b of batch i ended.
    np.testing.assert_array_equal(w[1:, :, 0], w[:-1, :, -1] + 1)
    # Each row is one contiguous stretch of length len // batch_size.
    np.testing.assert_array_equal(w[0, :, 0], np.arange(8) * (10_000 // 8))
    assert np.all(np.diff(w, axis=2) == 1)


def test_unwindow_inverts_windows():
    series = np.arange(1003)
    w = windows(series, 4, 7)
    rows = unwindow(w)
    part = 1003 // 4
    used = (part // 7) * 7
    np.testing.assert_array_equal(rows, series[: 4 * part].reshape(4, part)[:, :used])
    np.testing.assert_array_equal(windows(rows.reshape(-1), 4, 7), w)
    probs = np.random.default_rng(0).random(w.shape)
    np.testing.assert_array_equal(windows(unwindow(probs).reshape(-1), 4, 7), probs)


def test_windows_too_small_raises():
    with pytest.raises(ValueError, match="too small"):
        windows(np.arange(9), 2, 5)


# -- EpochFeed ---------------------------------------------------------------------------


X0, Y0 = "0001111111100100", "0111001111101000"


def whole_epoch(feed: EpochFeed, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """All of an epoch's windows, from the feed's chunks."""
    parts = list(feed.chunks(epoch))
    return tuple(np.concatenate([p[i] for p in parts]) for i in (1, 2))


def feed_config(**values):
    base = dict(size=2000, val_size=1000, batch_size=10, num_steps=4, epochs=3)
    return Config().with_values(**{**base, **values})


def test_fresh_feed_gives_a_new_series_each_epoch_made_ahead():
    cfg = feed_config()
    feed = EpochFeed(cfg, chunk=7)
    try:
        x0, y0 = whole_epoch(feed, 0)
        assert x0.shape == y0.shape == (2000 // 10 // 4, 10, 4)
        assert x0.dtype == np.uint8
        # The next epoch's first slab is already being made in the background.
        assert (1, 0) in feed._next
        x1, y1 = whole_epoch(feed, 1)
        x2, _ = whole_epoch(feed, 2)
        assert not feed._next  # no epoch 3 to make
    finally:
        feed.close()
    assert not np.array_equal(x0, x1)
    assert not np.array_equal(x1, x2)
    for epoch, got in ((0, x0), (1, x1), (2, x2)):
        ex, _ = train_series(cfg.data, epoch)
        np.testing.assert_array_equal(got, windows(ex, 10, 4))
    ex, ey = train_series(cfg.data, 1)
    np.testing.assert_array_equal(y1, windows(ey, 10, 4))


def test_fixed_feed_gives_the_same_series_each_epoch():
    cfg = feed_config(data_mode="fixed")
    feed = EpochFeed(cfg)
    try:
        x0, y0 = whole_epoch(feed, 0)
        x1, y1 = whole_epoch(feed, 1)
        x2, y2 = whole_epoch(feed, 2)
    finally:
        feed.close()
    np.testing.assert_array_equal(x0, x1)
    np.testing.assert_array_equal(y0, y2)
    ex, ey = train_series(cfg.data, 0)
    np.testing.assert_array_equal(x0, windows(ex, 10, 4))
    np.testing.assert_array_equal(y0, windows(ey, 10, 4))


def test_fresh_feed_same_config_same_epochs():
    cfg = feed_config()
    a, b = EpochFeed(cfg), EpochFeed(cfg)
    try:
        for epoch in range(3):
            np.testing.assert_array_equal(whole_epoch(a, epoch)[1], whole_epoch(b, epoch)[1])
    finally:
        a.close()
        b.close()


def test_feed_streams_in_bounded_slabs_and_resumes_mid_epoch(monkeypatch):
    """A long epoch comes in slabs of about SLAB_STEPS steps, chunk by chunk, equal to the
    whole series' windows; starting at batch b gives the same chunks from b on."""
    monkeypatch.setattr("rnntui.data.feed.SLAB_STEPS", 400)
    cfg = feed_config(size=20_000)
    feed = EpochFeed(cfg, chunk=3)
    try:
        assert feed.slab == 9 and feed.batches == 500
        got = list(feed.chunks(1))
        assert [c0 for c0, *_ in got[:5]] == [0, 3, 6, 9, 12]
        assert max(len(x) for _, x, _ in got) == 3
        ex, ey = train_series(cfg.data, 1)
        np.testing.assert_array_equal(np.concatenate([x for _, x, _ in got]), windows(ex, 10, 4))
        np.testing.assert_array_equal(np.concatenate([y for *_, y in got]), windows(ey, 10, 4))
        later = list(feed.chunks(1, start=100))
        assert later[0][0] == 100
        np.testing.assert_array_equal(later[0][2], windows(ey, 10, 4)[100:103])
        assert sum(len(x) for _, x, _ in later) == 400
    finally:
        feed.close()
