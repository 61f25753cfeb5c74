"""replisim.report: comparisons against a baseline on synthetic frames whose differences are known."""

import warnings

import numpy as np
import pandas as pd
import pytest

from replisim import report
from replisim.stats import wilson


def _group(name, n, losses, peak, rng=None, collateral=0.0):
    """``n`` runs of regime ``name`` with exactly ``losses`` losses of control and the given peaks."""
    loss = np.zeros(n, bool)
    loss[:losses] = True
    peaks = np.broadcast_to(np.asarray(peak, float), (n,)).copy()
    return pd.DataFrame({"governance": name, "loss_of_control": loss, "extinct": ~loss, "peak_replicas": peaks,
                         "collateral_node_hours": collateral})


def test_large_difference_is_significant_and_its_interval_excludes_zero():
    rng = np.random.default_rng(1)
    frame = pd.concat([
        _group("none", 200, 180, rng.lognormal(7, 0.3, 200), collateral=10.0),
        _group("strict", 200, 20, rng.lognormal(5, 0.3, 200), collateral=500.0),
    ])
    cmp = report.compare(frame)
    assert list(cmp["governance"]) == ["none", "strict"]
    row = cmp.iloc[1]
    assert row.diff_p_loss == pytest.approx(-0.8)
    assert row.diff_p_loss_high < 0 and row.diff_p_loss_low < row.diff_p_loss < row.diff_p_loss_high
    assert row.p_value_loss < 1e-10
    assert row.diff_median_peak_high < 0 and row.p_value_peak < 1e-10
    assert row.median_collateral_node_hours == 500.0
    assert (row.p_loss_low, row.p_loss_high) == pytest.approx(wilson(20, 200))
    assert cmp.iloc[1].p_contained == pytest.approx(0.9)
    # the baseline row is not tested against itself
    assert np.isnan(cmp.iloc[0].p_value_loss) and cmp.iloc[0].diff_p_loss == 0


def test_identical_groups_give_an_interval_around_zero_and_a_large_p():
    rng = np.random.default_rng(2)
    base = _group("none", 300, 150, rng.lognormal(6, 1.0, 300))
    frame = pd.concat([base, base.assign(governance="same")])
    row = report.compare(frame).iloc[1]
    assert row.diff_p_loss == 0 and row.diff_p_loss_low < 0 < row.diff_p_loss_high
    assert row.diff_median_peak_low < 0 < row.diff_median_peak_high
    assert row.p_value_loss == pytest.approx(1.0)
    assert row.p_value_peak > 0.9


def test_bootstrap_interval_width_matches_the_normal_approximation():
    # 0.5 vs 0.3 with n = 400 each: SE = sqrt(.25/400 + .21/400) = 0.0339, half-width 1.96 SE = 0.0665.
    # Tolerance +-15%: the percentile interval of 4999 resamples of fixed data differs from the normal
    # approximation by a few percent (resampling noise, skew of the binomial); a wrong statistic or a paired
    # resampling would be off by far more.
    frame = pd.concat([_group("none", 400, 200, 1.0), _group("b", 400, 120, 1.0)])
    row = report.compare(frame).iloc[1]
    half = (row.diff_p_loss_high - row.diff_p_loss_low) / 2
    assert half == pytest.approx(0.0665, rel=0.15)


def test_degenerate_data_gives_zero_width_intervals_without_warnings():
    frame = pd.concat([_group("none", 50, 50, 1000.0), _group("same", 50, 50, 1000.0), _group("x", 50, 0, 10.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cmp = report.compare(frame).set_index("governance")
    same = cmp.loc["same"]
    assert (same.diff_p_loss, same.diff_p_loss_low, same.diff_p_loss_high) == (0, 0, 0)
    assert (same.diff_median_peak_low, same.diff_median_peak_high) == (0, 0)
    assert same.p_value_loss == 1.0 and same.p_value_peak == 1.0
    x = cmp.loc["x"]
    assert (x.diff_p_loss, x.diff_p_loss_low, x.diff_p_loss_high) == (-1, -1, -1)
    assert x.diff_median_peak == -990


def test_compare_is_reproducible_and_uses_any_column():
    rng = np.random.default_rng(3)
    frame = pd.concat([_group("a", 80, 30, rng.lognormal(5, 1, 80)), _group("b", 80, 50, rng.lognormal(5, 1, 80))])
    frame = frame.rename(columns={"governance": "collusion"})
    one = report.compare(frame, by="collusion", baseline="a")
    two = report.compare(frame, by="collusion", baseline="a")
    pd.testing.assert_frame_equal(one, two)
    assert one.columns[0] == "collusion"


def test_missing_baseline_or_column_names_what_is_allowed():
    frame = _group("none", 10, 5, 1.0)
    with pytest.raises(ValueError, match=r"baseline='strict'.*allowed: none"):
        report.compare(frame, baseline="strict")
    with pytest.raises(ValueError, match="column 'peak_replicas' missing"):
        report.compare(frame.drop(columns="peak_replicas"))


def test_holm_by_hand():
    # sorted: 0.01*3 = 0.03; 0.03*2 = 0.06; 0.04*1 = 0.04 -> monotone 0.06
    assert report.holm([0.01, 0.04, 0.03, np.nan]) == pytest.approx([0.03, 0.06, 0.06, np.nan], nan_ok=True)


def test_markdown_has_title_rows_and_methods():
    frame = pd.concat([_group("none", 40, 30, 100.0), _group("strict", 40, 5, 10.0)]).assign(scenario="minimal")
    cmp = report.compare(frame)
    text = report.markdown(frame, cmp, "My title")
    assert text.startswith("# My title")
    assert "| none | 40 |" in text and "| strict | 40 |" in text
    assert "scenario: minimal" in text and "Fisher" in text and "Holm" in text
    assert "0.125 [" in text  # P(loss) of strict, 5/40


def test_markdown_of_stacked_comparisons_shows_the_grouping_column():
    # the sweep aggregation stacks one comparison per scenario, with the scenario column inserted in front
    parts = []
    for scenario, strict_losses in (("s1", 5), ("s2", 35)):
        frame = pd.concat([_group("none", 40, 30, 100.0), _group("strict", 40, strict_losses, 10.0)])
        part = report.compare(frame)
        part.insert(0, "scenario", scenario)
        parts.append(part)
    stacked = pd.concat(parts, ignore_index=True)
    text = report.markdown(pd.DataFrame({"seed": [0]}), stacked, "Sweep")
    assert "| scenario | governance | runs |" in text
    assert "| s2 | strict | 40 | 0.875 [" in text
    assert "within each combination of scenario" in text
