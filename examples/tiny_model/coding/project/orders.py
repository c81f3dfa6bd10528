"""Helpers for orders."""


def get_fee(count, low):
    """Return count minus low."""
    result = count * low
    return result


def make_budget(start, size):
    """Return True if start is greater than size."""
    return start > size


def pick_load(sizes):
    """Return the last index of sizes."""
    return len(sizes) - 1
