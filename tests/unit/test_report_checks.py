"""The report states each of the paper's claims as a check that holds or not, from the numbers."""

from segmad.report.checks import conclusions


def summary(target_w=(0.70, 0.75), target_t0=(0.84, 0.83), t_last=(0.8, 0.7), baselines=(0.74, 0.72, 0.73)):
    rounds = [
        {"round": 1, "t0": {"target": target_t0[0], "g": 0.8}, "t": {"target": 0.4, "g": 0.5},
         "wild": {"target": target_w[0], "g": 0.7}},
        {"round": 2, "t0": {"target": target_t0[1], "g": 0.8}, "t": {"target": t_last[0], "g": t_last[1]},
         "wild": {"target": target_w[1], "g": 0.7}},
    ]
    mad, entropy, random = baselines
    return {"rounds": rounds, "baselines": {"mad": mad, "entropy": entropy, "random": random},
            "precision": {"m": 0.5, "s": 0.9, "random": 0.1},
            "cost": {"weak_hours": 5.0, "dense_hours": 4.0, "dense_all_m_hours": 50.0}}


def verdicts(s):
    return {c["claim"]: c["holds"] for c in conclusions(s)}


def test_all_claims_hold_on_a_run_that_shows_them():
    assert all(verdicts(summary()).values())


def test_a_t0_drop_beyond_two_hundredths_breaks_the_forgetting_claim():
    v = verdicts(summary(target_t0=(0.84, 0.81)))
    assert v["the target holds on T0 (within 0.02)"] is False


def test_losing_to_random_is_reported_not_hidden():
    v = verdicts(summary(baselines=(0.70, 0.69, 0.72)))
    assert v["MAD beats random selection on W (same budget)"] is False
    assert v["MAD beats entropy selection on W (same budget)"] is True


def test_a_competitor_ahead_on_the_last_test_set_breaks_the_overtake_claim():
    v = verdicts(summary(t_last=(0.6, 0.7)))
    assert v["the target overtakes every competitor on T(2)"] is False
