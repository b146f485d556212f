"""Spans written as ISO 8601 durations, the way the settings take them (P7D, PT1H30M).

Pure, so that messages of the domain (the retention's 410) and of the worker (/v1/status,
the dead-letter review) name a setting's span in the very text an operator would set."""

from __future__ import annotations

from datetime import timedelta

_DAY_MICROS = 86_400_000_000


def iso_duration(span: timedelta) -> str:
    """P7D, PT36H, PT1H30M: exact (integer arithmetic, no float rounding), so that the
    settings' `parse_duration` reads back the same span."""
    micros = span // timedelta(microseconds=1)
    if micros % _DAY_MICROS == 0:
        return f"P{micros // _DAY_MICROS}D"
    hours, rest = divmod(micros, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds, fraction = divmod(rest, 1_000_000)
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if seconds or fraction:
        text += f"{seconds}.{fraction:06d}".rstrip("0").rstrip(".") + "S"
    return text
