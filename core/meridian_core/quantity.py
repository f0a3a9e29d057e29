"""Kubernetes resource quantities ("500m", "2", "256Mi"): parse, compare and multiply exactly."""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

_QUANTITY = re.compile(r"^(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<suffix>m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")

_SUFFIXES: dict[str, Fraction] = {
    "": Fraction(1),
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}


def is_quantity(text: str) -> bool:
    return _QUANTITY.match(text) is not None


def parse(text: str) -> Fraction:
    """The exact value of a quantity; Fraction keeps "100m" * 3 from drifting like a float would."""
    match = _QUANTITY.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (e.g. 500m, 2, 256Mi, 1Gi)")
    return Fraction(Decimal(match["number"])) * _SUFFIXES[match["suffix"] or ""]
