"""Supply-chain rules for the environments environments/images.yaml lists as verified (staging
and prod): an image goes in only by a digest the registry holds and the release key signed.

These rules ask the registry, so they run here, in Python, rather than in the Rego rules (which
judge facts from git); the promotion engine merges their denials with the Rego rules' own.
"""

from __future__ import annotations

from pathlib import Path

from meridian.errors import MeridianError
from meridian.images import registry, signing
from meridian.images.config import PUBLIC_KEY_VARIABLE, read_config
from meridian.paths import Repo
from meridian.promote.rules import Denial
from meridian.promote.snapshot import Snapshot
from meridian.promote.versions import Pin

IN_REGISTRY = ("MER-IMAGE-001", "image in the registry")
SIGNED = ("MER-IMAGE-002", "image signed by the release key")


def _denial(rule: tuple[str, str], message: str) -> Denial:
    return Denial(rule=rule[0], title=rule[1], message=message)


def denials(repo: Repo, snapshot: Snapshot, env: str, pin: Pin) -> list[Denial]:
    """What the supply-chain rules say about `env` running `pin`; [] for an environment without them."""
    config = read_config(snapshot)
    if config is None or env not in config.verified:
        return []
    if pin.digest is None:
        return [_denial(IN_REGISTRY, f"{env} takes images by digest only; {pin.image} names none")]
    located = f"{config.located(pin.repository)}@{pin.digest}"
    denial = _in_registry(repo, env, located) or _signed(repo, config.key_path(repo.root), located)
    return [denial] if denial is not None else []


def _in_registry(repo: Repo, env: str, located: str) -> Denial | None:
    try:
        found = registry.digest(repo, located)
    except MeridianError as exc:
        return _denial(IN_REGISTRY, f"the registry could not say whether it holds {located}: {exc.message}")
    if found is None:
        message = f"{located} is not in the registry: {env} runs only builds that `meridian release` pushed"
        return _denial(IN_REGISTRY, message)
    return None


def _signed(repo: Repo, key: Path | None, located: str) -> Denial | None:
    if key is None or not key.is_file():
        where = f"{key} does not exist" if key is not None else "none is configured"
        return _denial(
            SIGNED,
            f"no release public key to verify {located} with ({where}): set publicKey in "
            f"environments/images.yaml or ${PUBLIC_KEY_VARIABLE}",
        )
    try:
        verdict = signing.verify(repo, located, key)
    except MeridianError as exc:
        return _denial(SIGNED, f"the signature of {located} could not be checked: {exc.message}")
    if not verdict.signed:
        return _denial(SIGNED, f"{located} carries no valid signature of the release key: {verdict.detail}")
    return None
