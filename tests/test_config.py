"""Bad input stops at compose time with one line naming the key, the value and what is allowed (issue 2, section 6).

Every case goes through the public ``replisim.compose`` exactly as a user's overrides would.
"""

from __future__ import annotations

import numpy as np
import pytest

import replisim
from replisim.config.schema import NODE_TYPES
from replisim.governance import apply_governance
from replisim.network import build_network

SMALL = ["network.nodes=200", "sim.steps=10"]


def config_error(overrides) -> str:
    """The message of the ConfigError that ``overrides`` must raise; it must be a single line."""
    with pytest.raises(replisim.ConfigError) as info:
        replisim.compose(list(overrides))
    message = str(info.value)
    assert message.strip(), "empty error message"
    assert "\n" not in message.strip(), f"error message spans several lines: {message!r}"
    return message


def assert_names(message: str, *parts: str) -> None:
    for part in parts:
        assert part in message, f"{part!r} missing from the error message {message!r}"


# --- probabilities, counts and ranges ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key, value",
    [
        ("replica.attempt_rate", "1.5"),
        ("replica.success", "-0.1"),
        ("replica.evasion", "1.01"),
        ("replica.shutdown_avoidance", "2"),
        ("replica.misalignment_rate", "-1"),
        ("governance.detection", "1.2"),
        ("governance.kill_switch", "-0.5"),
        ("collusion.flight", "7"),
        ("outcome.loss_of_control_share", "1.5"),
        ("network.types.enterprise.security", "1.5"),
    ],
)
def test_probability_outside_unit_interval(key, value):
    message = config_error([f"{key}={value}"])
    assert_names(message, key, str(float(value)), "allowed", "[0.0, 1.0]")


@pytest.mark.parametrize(
    "key, value",
    [
        ("network.nodes", "0"),
        ("network.nodes", "-5"),
        ("replica.initial", "0"),
        ("network.capacity", "0"),
        ("network.types.enterprise.capacity", "0"),
        ("runs", "0"),
    ],
)
def test_non_positive_count(key, value):
    message = config_error([f"{key}={value}"])
    assert_names(message, f"{key}={value}", "allowed", ">= 1")


@pytest.mark.parametrize("value", ["0", "-1"])
def test_non_positive_horizon(value):
    """sim.steps has an upper bound too (schema.HORIZON, so that a step plus a duration fits the engine's int32)."""
    message = config_error([f"sim.steps={value}"])
    assert_names(message, f"sim.steps={value}", "allowed", f"in [1, {2**30 - 1}]")


@pytest.mark.parametrize("key", ["governance.response_latency", "governance.if_then.response_latency"])
def test_response_latency_beyond_what_the_engine_holds(key):
    """The engine counts a pending order down in int16 (engine.state.ORDER_DTYPE): a latency in hours is held to
    that many steps of sim.hours_per_step."""
    from replisim.config.units import LATENCY_STEPS
    from replisim.engine.state import ORDER_DTYPE

    assert LATENCY_STEPS == np.iinfo(ORDER_DTYPE).max
    message = config_error([f"{key}=40000"])
    assert_names(message, f"{key}=40000", "allowed", "32767")
    replisim.compose([f"{key}=32767"])  # the largest allowed at one hour per step
    # at half an hour per step the same latency is twice the steps: the bound follows the step length
    assert_names(config_error([f"{key}=20000", "sim.hours_per_step=0.5"]), f"{key}=20000", "40000 steps",
                 "sim.hours_per_step=0.5", "16383.5 hours")


@pytest.mark.parametrize("key", ["collusion.warning_hours", "governance.quarantine_hours",
                                 "governance.if_then.delay", "governance.reporting.delay", "sim.steps"])
def test_durations_beyond_what_the_engine_adds_in_int32(key):
    """The engine adds a duration, in steps, to the current step in int32 (both at most 2^30 - 1): 3e9 once
    crashed (collusion.warning_steps, as it was) or silently switched a measure off (quarantine)."""
    from replisim.config.schema import HORIZON
    from replisim.config.units import DURATION_STEPS

    assert DURATION_STEPS + HORIZON[1] < 2**31
    message = config_error([f"{key}=3000000000"])
    assert_names(message, f"{key}=3000000000", "allowed", str(2**30 - 1))


@pytest.mark.parametrize("old, new", [("governance.quarantine_steps", "governance.quarantine_hours"),
                                      ("collusion.warning_steps", "collusion.warning_hours")])
def test_a_renamed_key_names_its_successor(old, new):
    assert_names(config_error([f"{old}=12"]), old, "renamed", new, "hours")


@pytest.mark.parametrize("value", ["inf", "nan"])
def test_a_step_length_that_is_not_finite(value):
    assert_names(config_error([f"sim.hours_per_step={value}"]), "sim.hours_per_step", "allowed")


def test_the_longest_duration_runs_and_keeps_its_measure_on():
    """At the bound, quarantine still takes nodes offline: the quarantined capacity is charged as collateral."""
    cfg = replisim.compose(["scenario=minimal", "network.nodes=30", "sim.steps=5", "governance.detection=0.5",
                            f"governance.quarantine_hours={2**30 - 1}", "governance.false_positive_rate=0",
                            "governance.shutdown_cost_hours=0"])
    assert replisim.simulate(cfg, runs=2, seed=0).outcomes["collateral_node_hours"].gt(0).all()


def test_choice_outside_the_allowed_set():
    message = config_error(["network.kind=ring"])
    assert_names(message, "network.kind", "ring", "complete", "small_world", "datacenter")


# --- unknown keys, options and wrong types -----------------------------------------------------------------------
def test_unknown_key_suggests_the_close_one():
    message = config_error(["replica.atempt_rate=0.3"])
    assert_names(message, "replica.atempt_rate", "did you mean 'replica.attempt_rate'")


def test_unknown_top_level_key_added_with_plus():
    message = config_error(["+replica_rate=0.3"])
    assert_names(message, "replica_rate", "unknown key")


def test_unknown_group_option_lists_the_options():
    message = config_error(["scenario=minimall"])
    assert_names(message, "scenario=minimall", "allowed", "minimal", "pan2024_qwen25_72b", "did you mean 'minimal'")


def test_wrong_type():
    message = config_error(["replica.attempt_rate=abc"])
    assert_names(message, "replica.attempt_rate", "abc", "allowed", "Float")


def test_wrong_type_of_a_flag():
    message = config_error(["collusion.enabled=maybe"])
    assert_names(message, "collusion.enabled", "maybe", "allowed")


# --- cross-key constraints -------------------------------------------------------------------------------------
def test_more_initial_replicas_than_capacity():
    message = config_error(["network.nodes=10", "network.capacity=2", "replica.initial=21"])
    assert_names(message, "replica.initial=21", "20", "allowed: <= 20")


def test_initial_replicas_equal_to_capacity_is_allowed():
    cfg = replisim.compose(["network.nodes=10", "network.capacity=2", "replica.initial=20"])
    assert cfg.replica.initial == 20


def test_memory_estimate_beyond_the_machine():
    message = config_error(["network.nodes=100000000000"])
    assert_names(message, "network.nodes=100000000000", "GiB", "allowed")


def test_memory_estimate_beyond_the_configured_limit():
    # 10^6 nodes x 4 slots x 40 bytes is ~150 MiB, far above a 1 MiB limit on any machine
    message = config_error(["network.nodes=1000000", "network.capacity=4", "sim.memory_limit_gb=0.001"])
    assert_names(message, "network.nodes=1000000", "GiB", "allowed")


def test_trial_successes_above_trials():
    message = config_error(["replica.trial_successes=11", "replica.trial_total=10"])
    assert_names(message, "replica.trial_successes=11", "replica.trial_total=10")


def test_random_regular_parity():
    message = config_error(["network=random_regular", "network.nodes=101", "network.degree=3"])
    assert_names(message, "network.degree=3", "network.nodes=101", "even")


def test_degree_not_below_nodes():
    message = config_error(["network=small_world", "network.nodes=8", "network.degree=8", "replica.initial=1"])
    assert_names(message, "network.degree=8", "network.nodes=8")


# --- node types and jurisdictions --------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["network.mix", "governance.monitoring", "governance.kill_switch_mandate"])
def test_unknown_node_type(key):
    message = config_error([f"+{key}.gpu_farm=0.5"])
    assert_names(message, f"{key}.gpu_farm", "allowed", *NODE_TYPES)


def test_unknown_node_type_suggests_the_close_one():
    message = config_error(["+governance.monitoring.entreprise=0.5"])
    assert_names(message, "governance.monitoring.entreprise", "did you mean 'enterprise'")


@pytest.mark.parametrize("key", ["governance.monitoring.enterprise", "governance.kill_switch_mandate.academic"])
def test_node_type_level_outside_unit_interval(key):
    message = config_error([f"+{key}=1.5"])
    assert_names(message, f"{key}=1.5", "allowed", "[0.0, 1.0]")


def test_node_mix_share_out_of_range():
    message = config_error(["network.mix.enterprise=-1"])
    assert_names(message, "network.mix.enterprise", "-1", "allowed")


def test_node_mix_without_positive_share():
    zero = ",".join(f"{t}: 0" for t in NODE_TYPES)
    message = config_error([f"network.mix={{{zero}}}"])
    assert_names(message, "network.mix", "allowed", "positive")


def test_jurisdiction_shares_must_sum_to_one():
    message = config_error(["jurisdictions=single", "jurisdictions.regions.global.share=0.5"])
    assert_names(message, "jurisdictions.regions", "0.5", "allowed", "summing to 1")


def test_jurisdiction_shares_of_a_preset():
    message = config_error(["jurisdictions=three_blocs", "jurisdictions.regions.us.share=0.9"])
    assert_names(message, "jurisdictions.regions", "1.15", "allowed", "summing to 1")


def test_unknown_jurisdiction_set():
    message = config_error(["jurisdictions=three_blocz"])
    assert_names(message, "jurisdictions=three_blocz", "allowed", "three_blocs", "did you mean 'three_blocs'")


def test_new_jurisdiction_by_override():
    overrides = ["jurisdictions=single", "+jurisdictions.regions.eu.share=0.5", "jurisdictions.regions.global.share=0.5"]
    try:
        cfg = replisim.compose(overrides)
    except replisim.ConfigError as exc:  # refusing is fine, if the message says what is allowed
        assert_names(str(exc), "jurisdictions.regions.eu", "allowed")
    else:
        assert set(cfg.jurisdictions.regions) == {"global", "eu"}


def test_node_type_dict_without_plus():
    message = config_error(["governance.monitoring={enterprise: 0.5}"])
    assert "did you mean 'governance.monitoring'" not in message
    assert_names(message, "governance.monitoring", "+governance.monitoring.enterprise")


def test_jurisdiction_factor_out_of_range():
    message = config_error(["jurisdictions=single", "jurisdictions.regions.global.kill_switch_factor=2"])
    assert_names(message, "jurisdictions.regions.global.kill_switch_factor=2.0", "allowed", "[0.0, 1.0]")


# --- what must work -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scenario", ["default", "minimal", "pan2024_llama31_70b", "pan2024_qwen25_72b"])
def test_scenarios_compose(scenario):
    cfg = replisim.compose([f"scenario={scenario}", *SMALL])
    assert isinstance(cfg, replisim.Config)
    assert cfg.scenario == scenario
    assert cfg.network.nodes == 200 and cfg.sim.steps == 10


def test_pan2024_presets_carry_the_trial_counts():
    llama = replisim.compose(["scenario=pan2024_llama31_70b"]).replica
    qwen = replisim.compose(["scenario=pan2024_qwen25_72b"]).replica
    assert (llama.success, llama.trial_successes, llama.trial_total) == (0.5, 5, 10)
    assert (qwen.success, qwen.trial_successes, qwen.trial_total) == (0.9, 9, 10)


def _governed(overrides):
    cfg = replisim.compose(overrides)
    net = build_network(cfg, np.random.default_rng(0))
    return net, apply_governance(cfg, net)


def test_node_values_differ_by_type_without_overrides():
    net, gov = _governed(["network.nodes=300"])
    assert np.unique(gov.monitoring).size > 1
    assert np.unique(gov.kill_switch).size > 1
    for k, name in enumerate(NODE_TYPES):
        sel = net.node_type == k
        if sel.any():
            expected = replisim.compose([]).network.types[name]
            assert np.all(gov.monitoring[sel] == np.float32(expected.monitoring))
            assert np.all(gov.kill_switch[sel] == np.float32(expected.kill_switch))


@pytest.mark.parametrize("network", ["mixed", "datacenter", "scale_free"])
def test_global_detection_and_kill_switch_override_every_node(network):
    # per-type measures and licensing are set too: the global overrides must still win everywhere
    net, gov = _governed([
        f"network={network}", "network.nodes=300", "governance.detection=0.3", "governance.kill_switch=0.7",
        "+governance.monitoring.enterprise=0.9", "+governance.kill_switch_mandate.consumer_edge=0.99",
        "governance.licensing.enabled=true",
    ])
    assert gov.monitoring.shape == (300,) and gov.kill_switch.shape == (300,)
    assert np.all(gov.monitoring == np.float32(0.3))
    assert np.all(gov.kill_switch == np.float32(0.7))


def test_count_bounds_are_the_engines_own_widths():
    """config.limits names the dtypes the engine stores counts in; the engine's arrays must still use them, so the
    bounds validate() enforces are the engine's (a wider array here would leave a stale, too strict bound; a
    narrower one, a count that wraps)."""
    from replisim.config.limits import LINEAGE, NODE_COUNT, NODE_INDEX
    from replisim.engine import state
    from replisim.world import setup

    cfg = replisim.compose(["scenario=minimal", "network.nodes=50"])
    net, gov = setup(cfg, 0)
    frame = state.new_frame(state.world_of(net, gov), 200, cfg.replica.initial, 1)
    assert frame.table.node.dtype == NODE_INDEX and frame.links.indices.dtype == NODE_INDEX
    assert frame.table.lineage.dtype == LINEAGE
    assert gov.capacity.dtype == NODE_COUNT and frame.nodes.occ.dtype == NODE_COUNT


@pytest.mark.parametrize("override,key", [
    ("network.capacity=3000000000", "network.capacity=3000000000"),
    ("network.nodes=3000000000", "network.nodes=3000000000"),
    ("network.types.frontier_lab.capacity=2147483648", "network.types.frontier_lab: slots per node=2147483648"),
])
def test_counts_past_the_engines_widths_are_refused(override, key):
    with pytest.raises(replisim.ConfigError, match="the engine counts it in 32 bits") as err:
        replisim.compose(["sim.memory_limit_gb=100000000", override])
    assert key in str(err.value)
