"""The unbiased pass@k and pass^k estimators, from ``n`` attempts with ``c`` successes.

pass@k is the chance that at least one of ``k`` attempts drawn without replacement from
the ``n`` passes, ``1 - C(n-c, k) / C(n, k)`` (Chen et al., 2021); pass^k the chance that
all ``k`` pass, ``C(c, k) / C(n, k)`` (Yao et al., 2024). Both are exact fractions of
binomial coefficients, so no sampling noise is added on top of the attempts' own.
"""

from __future__ import annotations

from math import comb


def _checked(n: int, c: int, k: int) -> None:
    if n < 0 or not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and n={n}, got {k}")


def pass_at_k(n: int, c: int, k: int) -> float:
    """The chance that at least one of ``k`` of the ``n`` attempts passed.

    Raises:
        ValueError: ``c`` is not within ``0..n``, or ``k`` not within ``1..n``.
    """
    _checked(n, c, k)
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """The chance that all ``k`` of ``k`` attempts drawn from the ``n`` passed (pass^k).

    Raises:
        ValueError: ``c`` is not within ``0..n``, or ``k`` not within ``1..n``.
    """
    _checked(n, c, k)
    return comb(c, k) / comb(n, k)
