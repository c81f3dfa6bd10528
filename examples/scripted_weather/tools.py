"""Function tools for the scripted weather example."""

from __future__ import annotations

from typing import Literal

_FORECASTS = {"paris": 18.5, "oslo": 3.0, "cairo": 31.0}


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, object]:
    """Current temperature in a city.

    Args:
        city: City name, e.g. "Paris".
        unit: Temperature unit of the answer.
    """
    celsius = _FORECASTS.get(city.strip().lower())
    if celsius is None:
        raise ValueError(f"no forecast for {city!r}; known: {', '.join(sorted(_FORECASTS))}")
    value = celsius if unit == "celsius" else celsius * 9 / 5 + 32
    return {"city": city, "temperature": round(value, 1), "unit": unit}
