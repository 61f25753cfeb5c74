"""replisim.report: comparisons against a baseline on synthetic frames whose differences are known."""

import warnings

import numpy as np
import pandas as pd
import pytest

from replisim import report
from replisim.stats import wilson


def _group(name, n, losses, peak, collateral=0.0, hours=np.nan, extinct=None):
    """``n`` runs of regime ``name`` with exactly ``losses`` losses of control and the given peaks."""
    loss = np.zeros(n, bool)
    loss[:losses] = True
    peaks = np.broadcast_to(np.asarray(peak, float), (n,)).copy()
    return pd.DataFrame({"governance": name, "loss_of_control": loss,
                         "extinct": ~loss if extinct is None else extinct, "peak_replicas": peaks,
                         "final_replicas": np.where(loss, peaks, 0.0), "collateral_node_hours": collateral,
                         "hours_to_10pct_compute": hours})


def test_newcombe_reproduces_the_published_example():
    # Newcombe (1998), Statistics in Medicine 17:873, table II, example (a): 56/70 - 48/80 = 0.2000,
    # method 10 (hybrid score) interval 0.0524 to 0.3339
    d, lo, hi = report.newcombe(56, 70, 48, 80)
    assert d == pytest.approx(0.2)
    assert (lo, hi) == pytest.approx((0.0524, 0.3339), abs=1e-4)


def test_constant_samples_keep_an_interval_of_honest_width():
    """0/200 against 0/200: the difference is 0, but 200 runs cannot exclude a rate of about 2% either way."""
    d, lo, hi = report.newcombe(0, 200, 0, 200)
    upper = wilson(0, 200)[1]  # 0.0188
    assert d == 0 and (lo, hi) == pytest.approx((-upper, upper))
    frame = pd.concat([_group("none", 200, 200, 1000.0), _group("same", 200, 200, 1000.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row = report.compare(frame).iloc[1]
    assert row.diff_p_loss_low < 0 < row.diff_p_loss_high
    assert row.loss_verdict == "no material change"  # the whole interval lies within +-0.05


def test_large_difference_is_called_lower():
    rng = np.random.default_rng(1)
    frame = pd.concat([
        _group("none", 200, 180, rng.lognormal(7, 0.3, 200), collateral=10.0),
        _group("strict", 200, 20, rng.lognormal(5, 0.3, 200), collateral=500.0),
    ])
    cmp = report.compare(frame)
    assert list(cmp["governance"]) == ["none", "strict"]
    row = cmp.iloc[1]
    assert row.diff_p_loss == pytest.approx(-0.8)
    assert row.diff_p_loss_low < row.diff_p_loss < row.diff_p_loss_high < 0
    assert row.p_value_loss < 1e-10 and row.loss_verdict == "lower" and row.extinct_verdict == "higher"
    assert row.diff_median_peak_high < 0 and row.p_value_peak < 1e-10 and row.peak_verdict == "lower"
    assert row.median_collateral_node_hours == 500.0
    assert (row.p_loss_low, row.p_loss_high) == pytest.approx(wilson(20, 200))
    assert row.p_extinct == pytest.approx(0.9)
    # the baseline row is not tested against itself
    base = cmp.iloc[0]
    assert np.isnan(base.p_value_loss) and np.isnan(base.diff_p_loss) and base.loss_verdict == "-"


def test_a_shift_of_one_replica_is_detectable_but_not_material():
    """7,220 against 7,219 replicas in every run: Mann-Whitney finds the shift (p tiny), the verdict says it does
    not matter (the interval lies within 10% of the baseline's median)."""
    frame = pd.concat([_group("none", 200, 200, 7220.0), _group("x", 200, 200, 7219.0)])
    row = report.compare(frame).iloc[1]
    assert row.p_value_peak < 1e-10
    assert row.peak_verdict == "no material change"


def test_small_samples_are_inconclusive_not_no_change():
    """Ten runs each, 5 against 4 losses: the interval of the difference spans far more than +-0.05."""
    frame = pd.concat([_group("none", 10, 5, 1.0), _group("b", 10, 4, 1.0)])
    assert report.compare(frame).iloc[1].loss_verdict == "inconclusive"


def test_verdict_by_hand():
    assert report.verdict(-0.3, -0.1, 0.05) == "lower"
    assert report.verdict(0.06, 0.2, 0.05) == "higher"
    assert report.verdict(-0.04, 0.05, 0.05) == "no material change"
    assert report.verdict(-0.1, 0.01, 0.05) == "inconclusive"
    assert report.verdict(np.inf, np.inf, 10.0) == "higher"  # e.g. a regime whose runs never reach 10%
    assert report.verdict(np.nan, 1.0, 0.05) == "inconclusive"


def test_median_interval_by_hand_and_its_coverage_on_discrete_data():
    # n = 6: P(B <= 0) = 1/64 <= 0.025 < P(B <= 1), so the interval is [x_(1), x_(6)]
    assert report.median_interval([5, 1, 4, 2, 3, 6]) == (3.5, 1.0, 6.0)
    # n = 5 cannot give 95%: P(B <= 0) = 1/32 > 0.025
    assert report.median_interval([1, 2, 3, 4, 5])[1:] == (-np.inf, np.inf)
    # censored values (+inf) stay at the top: the median is censored only when half the runs are
    assert report.median_interval([1.0, 2.0, np.inf])[0] == 2.0
    # coverage >= 95% for any distribution, ties included: Poisson(3) samples of 50, population median 3.
    # 4000 samples: the standard error of the coverage is 0.0034; the bound 0.94 is 3 SE below 0.95
    rng = np.random.default_rng(4)
    covered = [lo <= 3 <= hi for _, lo, hi in (report.median_interval(rng.poisson(3, 50)) for _ in range(4000))]
    assert np.mean(covered) >= 0.94


def test_runs_that_never_reach_the_milestone_count_as_later():
    frame = pd.concat([_group("none", 100, 100, 50.0, hours=100.0),
                       _group("slow", 100, 0, 50.0, hours=np.nan, extinct=np.zeros(100, bool))])
    row = report.compare(frame).set_index("governance").loc["slow"]
    assert np.isinf(row.median_hours_to_10pct) and row.hours_to_10pct_verdict == "higher"
    text = report.markdown(frame, report.compare(frame), "t")
    assert "never [never, never]" in text


def test_a_column_the_same_in_every_row_is_named_with_the_one_that_separates():
    frame = pd.concat([_group("none", 50, 50, 1000.0), _group("b", 50, 50, 500.0)])
    cmp = report.compare(frame)
    lines = report.separation_warnings(cmp)
    assert any("P(loss of control) is 1 in every row" in w and "median peak" in w for w in lines)
    assert any("P(contained) is 0 in every row" in w for w in lines)
    assert "cannot separate" in report.markdown(frame, cmp, "t")
    varied = pd.concat([_group("none", 50, 50, 1000.0), _group("b", 50, 10, 500.0)])
    assert report.separation_warnings(report.compare(varied)) == []


def test_compare_is_reproducible_and_uses_any_column():
    rng = np.random.default_rng(3)
    frame = pd.concat([_group("a", 80, 30, rng.lognormal(5, 1, 80)), _group("b", 80, 50, rng.lognormal(5, 1, 80))])
    frame = frame.rename(columns={"governance": "collusion"})
    one = report.compare(frame, by="collusion", baseline="a")
    two = report.compare(frame, by="collusion", baseline="a")
    pd.testing.assert_frame_equal(one, two)
    assert one.columns[0] == "collusion"


def test_a_table_without_the_time_outcome_still_compares():
    frame = pd.concat([_group("none", 20, 10, 1.0), _group("b", 20, 5, 1.0)]).drop(columns="hours_to_10pct_compute")
    row = report.compare(frame).iloc[1]
    assert np.isnan(row.median_hours_to_10pct) and row.hours_to_10pct_verdict == "-"


def test_missing_baseline_or_column_names_what_is_allowed():
    frame = _group("none", 10, 5, 1.0)
    with pytest.raises(ValueError, match=r"baseline='strict'.*allowed: none"):
        report.compare(frame, baseline="strict")
    with pytest.raises(ValueError, match="column 'peak_replicas' missing"):
        report.compare(frame.drop(columns="peak_replicas"))


def test_holm_by_hand():
    # sorted: 0.01*3 = 0.03; 0.03*2 = 0.06; 0.04*1 = 0.04 -> monotone 0.06
    assert report.holm([0.01, 0.04, 0.03, np.nan]) == pytest.approx([0.03, 0.06, 0.06, np.nan], nan_ok=True)


def test_markdown_has_title_rows_methods_context_and_notes():
    frame = pd.concat([_group("none", 40, 30, 100.0), _group("strict", 40, 5, 10.0)]).assign(scenario="minimal")
    cmp = report.compare(frame)
    text = report.markdown(frame, cmp, "My title", context=["fixed: network.nodes=300"],
                           notes={"strict": "R0 = 0.5 <= 1"})
    assert text.startswith("# My title")
    assert "| none | 40 |" in text and "| strict | 40 |" in text
    assert "scenario: minimal" in text and "Newcombe" in text and "Holm" in text
    assert "0.125 [" in text  # P(loss) of strict, 5/40
    assert "- fixed: network.nodes=300" in text and "- `strict`: R0 = 0.5 <= 1" in text
    assert "docs/governance.md" in text


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


def test_terminal_and_report_print_the_same_numbers_and_words(tmp_path, capsys):
    """One formatting function and one vocabulary: 1,200 runs and a collateral cost of 2,170 node-hours read the
    same in the terminal table and the report (never 1200 or 2.17e+03), and both call extinction 'contained'."""
    from replisim import sweep, terms

    frame = pd.concat([_group("none", 1200, 600, 100.0, collateral=2170.4),
                       _group("strict", 1200, 60, 10.0, collateral=31.5)]).assign(label=lambda f: f["governance"])
    terminal = sweep.summary_table(frame).to_string(index=False, formatters=sweep._formats(sweep.summary_table(frame)))
    text = report.markdown(frame, report.compare(frame), "t")
    for shown in ("1,200", "2,170", "31.5"):
        assert shown in terminal and shown in text
    assert "2.17e+03" not in terminal + text and "1200" not in terminal + text
    assert terms.P_LABELS["extinct"] == "P(contained)"
    assert "P(contained)" in terminal and "P(contained) [95% CI]" in text and "P(extinct)" not in terminal + text
    assert terms.fmt_num(np.inf) == "never" and terms.fmt_num(np.nan) == "-" and terms.fmt_num(0.25) == "0.25"
    # the report defines each word of the vocabulary once, in its methods text
    assert all(f"{word}: " in text for word in terms.DEFINITIONS)
