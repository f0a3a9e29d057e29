"""Kubernetes resource quantities ("500m", "2", "256Mi"): parse, compare and multiply exactly."""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

# Decimal suffixes are powers of 1000, binary ones (Ki, Mi, …) powers of 1024.
_SUFFIXES: dict[str, Fraction] = {
    "": Fraction(1),
    "m": Fraction(1, 1000),
    **{suffix: Fraction(1000**power) for power, suffix in enumerate("kMGTPE", start=1)},
    **{f"{suffix}i": Fraction(1024**power) for power, suffix in enumerate("KMGTPE", start=1)},
}
_SUFFIX = "|".join(suffix for suffix in _SUFFIXES if suffix)
_QUANTITY = re.compile(rf"^(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<suffix>{_SUFFIX})?$")


def is_quantity(text: str) -> bool:
    return _QUANTITY.match(text) is not None


def parse(text: str) -> Fraction:
    """The exact value of a quantity; Fraction keeps "100m" * 3 from drifting like a float would."""
    match = _QUANTITY.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (e.g. 500m, 2, 256Mi, 1Gi)")
    return Fraction(Decimal(match["number"])) * _SUFFIXES[match["suffix"] or ""]
