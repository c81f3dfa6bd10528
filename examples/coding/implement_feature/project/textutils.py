"""Text helpers."""


def title_case(text: str) -> str:
    """Capitalise the first letter of every word."""
    return " ".join(word.capitalize() for word in text.split())
