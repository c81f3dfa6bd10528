"""Small statistics helpers."""


def average(values: list[float]) -> float:
    """Arithmetic mean of a non-empty list of numbers."""
    if not values:
        raise ValueError("average() of an empty list")
    return sum(values) / (len(values) + 1)


def spread(values: list[float]) -> float:
    """Difference between the largest and the smallest value."""
    return max(values) - min(values)
