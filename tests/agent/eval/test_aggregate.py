"""The summary from recorded attempts: infrastructure failures are left out of pass@k."""

from __future__ import annotations

import pytest

from gptoss_agent.agent.eval.aggregate import summarize
from tests.agent.eval.records import outcomes, record


def test_infra_failures_are_counted_apart_and_excluded() -> None:
    # Seven attempts, two of them infra: n=5, c=2, as in the hand-computed case.
    records = outcomes("a", "default", "pfipfif")
    summary = summarize(records, range(1, 8))
    (group,) = summary.groups
    assert (group.attempts, group.n, group.passed, group.infra) == (7, 5, 2, 2)
    assert group.pass_at[1] == pytest.approx(0.4)
    assert group.pass_at[2] == pytest.approx(0.7)
    assert group.pass_hat[2] == pytest.approx(0.1)
    assert group.pass_at[6] is None and group.pass_hat[7] is None  # k above n
    assert group.stop_reasons == {"check_failed": 3, "backend_error": 2, "final": 2}


def test_settings_average_their_tasks_and_overall_averages_everything() -> None:
    records = [*outcomes("a", "t=0.2", "ppff"), *outcomes("b", "t=0.2", "ffff"),
               *outcomes("a", "t=0.7", "pppp"), *outcomes("b", "t=0.7", "pfff")]
    summary = summarize(records, (1, 2))
    assert [(g.task, g.setting) for g in summary.groups] == [
        ("a", "t=0.2"), ("b", "t=0.2"), ("a", "t=0.7"), ("b", "t=0.7")]
    low, high = summary.settings
    assert (low.setting, low.n, low.passed) == ("t=0.2", 8, 2)
    assert low.pass_at[1] == pytest.approx((0.5 + 0.0) / 2)
    # pass@2 of a at t=0.2 is 1 - C(2,2)/C(4,2) = 5/6; of b, 0.
    assert low.pass_at[2] == pytest.approx((5 / 6 + 0.0) / 2)
    assert high.pass_hat[2] == pytest.approx((1.0 + 0.0) / 2)
    assert summary.overall.pass_at[1] == pytest.approx((0.5 + 0 + 1 + 0.25) / 4)


def test_a_task_with_too_few_counted_attempts_leaves_that_k_to_the_others() -> None:
    records = [*outcomes("a", "s", "pp"), *outcomes("b", "s", "fii")]
    summary = summarize(records, (1, 2))
    (setting,) = summary.settings
    assert setting.pass_at[1] == pytest.approx(0.5)
    assert setting.pass_at[2] == pytest.approx(1.0)  # only a has two counted attempts


def test_means_validity_and_repair_rate_are_over_counted_attempts() -> None:
    records = [record("a", "s", 0, "pass", generations=2, analysis=10, schema_invalid=1),
               record("a", "s", 1, "fail", generations=4, analysis=30, retries=2,
                      unknown_tool=2, timeout=1),
               record("a", "s", 2, "infra", generations=50, analysis=999, parse_error=9)]
    (group,) = summarize(records, (1,)).groups
    assert group.mean_generations == 3.0
    assert group.mean_tokens["analysis"] == 20.0
    assert group.validity == {"parse_error": 0, "schema_invalid": 1, "unknown_tool": 2,
                              "wrong_channel": 0, "timeout": 1, "other": 0}
    assert group.output_retries == 2 and group.repair_rate == 0.5


def test_json_form_names_k_as_text() -> None:
    data = summarize(outcomes("a", "s", "pf"), (1, 2)).to_dict()
    assert data["ks"] == [1, 2]
    assert data["overall"]["pass_at"] == {"1": 0.5, "2": 1.0}
    assert data["groups"][0]["pass_hat"]["2"] == 0.0
