"""Passwords the stack generates itself: kept in its encrypted state and secret wherever they go."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random


@dataclass(frozen=True)
class GeneratedPassword:
    value: pulumi.Output[str]
    bcrypt_hash: pulumi.Output[str]


def generated_password(
    name: str, *, length: int = 24, parent: pulumi.Resource | None = None
) -> GeneratedPassword:
    """Letters and digits only, so no chart or config format has to escape it."""
    password = random.RandomPassword(
        name, length=length, special=False, opts=pulumi.ResourceOptions(parent=parent)
    )
    # Marked secret here as well as by the provider, so no code path can leak it in plain text.
    return GeneratedPassword(
        pulumi.Output.secret(password.result), pulumi.Output.secret(password.bcrypt_hash)
    )
