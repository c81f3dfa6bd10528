import pytest
from stats import average, spread


def test_average_of_three() -> None:
    assert average([2, 4, 6]) == 4


def test_average_of_one() -> None:
    assert average([5]) == 5


def test_average_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        average([])


def test_spread() -> None:
    assert spread([3, 9, 1]) == 8
