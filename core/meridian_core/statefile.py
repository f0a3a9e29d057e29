"""Machine-local state files (a cluster's settings, the admission webhook's environment): read back
by every later command, absent until first written, and never silently wrong."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from meridian_core.errors import InputError

T = TypeVar("T")


def read_json_state(path: Path, parse: Callable[[dict[str, Any]], T], *, hint: str) -> T | None:
    """`parse` of the JSON object in `path`; None when the file was never written. A file that cannot
    be parsed is an input error naming it, with `hint` saying how to write it again."""
    try:
        return parse(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path} is unreadable: {exc}", hint=hint) from None
