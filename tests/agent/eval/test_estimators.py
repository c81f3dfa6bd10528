"""pass@k and pass^k against values computed by hand."""

from __future__ import annotations

import pytest

from gptoss_agent.agent.eval import pass_at_k, pass_hat_k


def test_five_attempts_two_passes_match_the_hand_computed_values() -> None:
    # pass@2 = 1 - C(3,2)/C(5,2) = 1 - 3/10; pass^2 = C(2,2)/C(5,2) = 1/10.
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)
    assert pass_hat_k(5, 2, 1) == pytest.approx(0.4)
    assert pass_hat_k(5, 2, 2) == pytest.approx(0.1)
    # Three fails cannot fill four draws, so pass@4 is certain; pass^3 needs three passes.
    assert pass_at_k(5, 2, 4) == pytest.approx(1.0)
    assert pass_hat_k(5, 2, 3) == 0.0


def test_ten_attempts_three_passes() -> None:
    # pass@3 = 1 - C(7,3)/C(10,3) = 1 - 35/120; pass^2 = C(3,2)/C(10,2) = 3/45.
    assert pass_at_k(10, 3, 3) == pytest.approx(85 / 120)
    assert pass_hat_k(10, 3, 2) == pytest.approx(3 / 45)


@pytest.mark.parametrize("n", [1, 4, 7])
def test_all_or_nothing(n: int) -> None:
    for k in range(1, n + 1):
        assert pass_at_k(n, 0, k) == 0.0 and pass_hat_k(n, 0, k) == 0.0
        assert pass_at_k(n, n, k) == 1.0 and pass_hat_k(n, n, k) == 1.0


def test_pass_at_k_grows_and_pass_hat_k_shrinks_with_k() -> None:
    at = [pass_at_k(8, 3, k) for k in range(1, 9)]
    hat = [pass_hat_k(8, 3, k) for k in range(1, 9)]
    assert at == sorted(at) and hat == sorted(hat, reverse=True)


@pytest.mark.parametrize(("n", "c", "k"), [(5, 2, 0), (5, 2, 6), (5, 6, 1), (3, -1, 1)])
def test_impossible_arguments_are_refused(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)
    with pytest.raises(ValueError):
        pass_hat_k(n, c, k)
