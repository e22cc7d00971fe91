"""One error type for bad user input.

Every check in :mod:`omicsnb` that rejects input raises :class:`OmicsInputError` with a single line that names the
problem and the fix, for example ``"label column 'cancer_type' not found in counts.csv; pass one of: sample, type"``.
Introduced in chapter 1, *Data and exploration*.
"""

from __future__ import annotations


class OmicsInputError(ValueError):
    """Bad input or parameter: the message is one line, naming the problem and how to fix it."""

    def __init__(self, message: str):
        if "\n" in message:
            raise AssertionError("OmicsInputError messages must be a single line")
        super().__init__(message)


def check_range(name: str, value, low=None, high=None, *, low_open: bool = False, high_open: bool = False) -> None:
    """Raise :class:`OmicsInputError` unless ``low <= value <= high`` (bounds optional, open if asked)."""
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        interval = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
        raise OmicsInputError(f"{name}={value!r} is out of range; pass a value in {interval}")
