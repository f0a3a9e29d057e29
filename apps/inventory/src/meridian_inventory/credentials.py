"""Database credentials from the JSON file Vault's agent writes and rewrites on rotation.

The file is read again for every new connection, never cached, so a rotated password is used from
the next connection on without a restart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


class CredentialsError(Exception):
    """The credentials file is missing or not of the form {"username": ..., "password": ...}."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def read(path: str) -> Credentials:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CredentialsError(f"credentials file {path} does not exist") from None
    except (OSError, ValueError) as error:
        raise CredentialsError(f"credentials file {path} cannot be read as JSON: {error}") from None
    if not isinstance(data, dict):
        raise CredentialsError(f'credentials file {path} must hold an object {{"username", "password"}}')
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not username or not isinstance(password, str):
        raise CredentialsError(f'credentials file {path} needs string fields "username" and "password"')
    return Credentials(username=username, password=password)
