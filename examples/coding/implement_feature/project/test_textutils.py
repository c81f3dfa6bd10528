from textutils import title_case


def test_title_case() -> None:
    assert title_case("hello big world") == "Hello Big World"
