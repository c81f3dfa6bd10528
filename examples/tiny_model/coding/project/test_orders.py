"""Checks of orders.py: python3 test_orders.py"""

from orders import get_fee, make_budget, pick_load

CHECKS = [
    ("get_fee(5, 10)", lambda: get_fee(5, 10), -5),
    ("get_fee(2, 2)", lambda: get_fee(2, 2), 0),
    ("make_budget(14, 4)", lambda: make_budget(14, 4), True),
    ("make_budget(7, 7)", lambda: make_budget(7, 7), False),
    ("pick_load([2, 4, 9, 0, 9, 8])", lambda: pick_load([2, 4, 9, 0, 9, 8]), 5),
    ("pick_load([2, 8, 8, 2])", lambda: pick_load([2, 8, 8, 2]), 3),
]


def main():
    failed = 0
    for call, run, want in CHECKS:
        try:
            got = run()
        except Exception as exc:
            got = type(exc)()
        if got != want:
            failed += 1
            print(f"FAIL {call}: got {got!r}, want {want!r}")
    print(f"{len(CHECKS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
