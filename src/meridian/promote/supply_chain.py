"""Supply-chain rules for the environments environments/images.yaml lists as verified (staging
and prod): an image goes in only by a digest the registry holds and the release key signed.

These rules ask the registry, so they run here, in Python, rather than in the Rego rules (which
judge facts from git); the promotion engine and `promote check` merge their denials with the Rego
rules' own. Like the Rego rules, the configuration and the public key are read from the commit
that judges (HEAD of a promotion, BASE of a checked change), so a change cannot bring the key
that its own images are verified with.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from meridian_core.errors import MeridianError
from meridian_core.layout import Repo
from meridian_core.snapshot import Snapshot

from meridian.images import registry, signing
from meridian.promote.images_file import IMAGES_FILE, PUBLIC_KEY_EXAMPLE, PUBLIC_KEY_VARIABLE, read_config
from meridian.promote.rules import Denial
from meridian.promote.versions import Pin

IN_REGISTRY = ("MER-IMAGE-001", "image in the registry")
SIGNED = ("MER-IMAGE-002", "image signed by the release key")
RULES = (IN_REGISTRY, SIGNED)  # policies/README.md lists them; a test keeps the two in step

# What an operator does once, said wherever a verified environment refuses for want of the key.
KEY_SETUP = (
    "make the release key pair once with `cosign generate-key-pair` (bin/cosign; it asks for a "
    "password): commit the public half, cosign.pub, e.g. as "
    f"{PUBLIC_KEY_EXAMPLE}, and set `publicKey: {PUBLIC_KEY_EXAMPLE}` in {IMAGES_FILE} "
    f"(${PUBLIC_KEY_VARIABLE}, a file path, overrides it); never commit the private half, "
    "cosign.key: keep it and its password as the forge's repository secrets COSIGN_PRIVATE_KEY "
    "and COSIGN_PASSWORD, which the release workflow signs with (docs/images.md, The release key)"
)


def _denial(rule: tuple[str, str], message: str) -> Denial:
    return Denial(rule=rule[0], title=rule[1], message=message)


def denials(repo: Repo, snapshot: Snapshot, env: str, pin: Pin) -> list[Denial]:
    """What the supply-chain rules say about `env` running `pin`, by the configuration at `snapshot`;
    [] for an environment without them."""
    config = read_config(snapshot)
    if config is None or env not in config.verified:
        return []
    if pin.digest is None:
        return [_denial(IN_REGISTRY, f"{env} takes images by digest only; {pin.image} names none")]
    located = f"{config.located(pin.repository)}@{pin.digest}"
    denial = _in_registry(repo, env, located)
    if denial is None:
        with _public_key(snapshot, config.public_key) as key:
            denial = _signed(repo, key, located)
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


@dataclass(frozen=True)
class _Key:
    path: Path | None
    problem: str = ""  # why there is no usable key, when path is None


@contextmanager
def _public_key(snapshot: Snapshot, named: str | None) -> Iterator[_Key]:
    """The release public key: $MERIDIAN_SIGNING_PUBLIC_KEY's file, else `publicKey` as committed."""
    override = os.environ.get(PUBLIC_KEY_VARIABLE, "").strip()
    if override:
        path = Path(override)
        if not path.is_file():
            yield _Key(None, f"${PUBLIC_KEY_VARIABLE} names {override}, which is not a file")
            return
        problem = _not_a_public_key(path.read_bytes(), f"${PUBLIC_KEY_VARIABLE} ({override})")
        yield _Key(None if problem else path, problem)
        return
    if named is None:
        yield _Key(None, f"no release public key is configured (publicKey in {IMAGES_FILE} is null)")
        return
    data = snapshot.read(named)
    if data is None:
        yield _Key(None, f"publicKey in {IMAGES_FILE} names {named}, which is not in {snapshot.label}")
        return
    problem = _not_a_public_key(data, snapshot.describe(named))
    if problem:
        yield _Key(None, problem)
        return
    with tempfile.TemporaryDirectory(prefix="meridian-release-key-") as tmp:
        path = Path(tmp) / "release.pub"
        path.write_bytes(data)
        yield _Key(path)


def _not_a_public_key(data: bytes, where: str) -> str:
    if b"PRIVATE KEY" in data:
        return f"{where} is a private key: only the public half belongs there, and a private key never in git"
    if b"-----BEGIN PUBLIC KEY-----" not in data:
        return f"{where} is not a PEM public key (-----BEGIN PUBLIC KEY-----), as cosign.pub is"
    return ""


def _signed(repo: Repo, key: _Key, located: str) -> Denial | None:
    if key.path is None:
        return _denial(SIGNED, f"{located} cannot be verified: {key.problem}. To set it up, {KEY_SETUP}")
    try:
        verdict = signing.verify(repo, located, key.path)
    except MeridianError as exc:
        return _denial(SIGNED, f"the signature of {located} could not be checked: {exc.message}")
    if not verdict.signed:
        return _denial(SIGNED, f"{located} carries no valid signature of the release key: {verdict.detail}")
    return None
