"""Image signatures with cosign (built from tools/cosign/): signed by the release key, verified
against its public half. No transparency log is written or read: signatures live in the registry
next to the image (`sha256-<digest>.sig`), and the key pair is the trust root.

Nothing is fetched from Sigstore's public services: verification is given a trusted root with no
authorities in it, so cosign does not go looking for one (checked with strace: only the registry
is contacted). The private key never enters git: `meridian release --key` (or $MERIDIAN_SIGNING_KEY) names a
file, cosign reads its password from $COSIGN_PASSWORD; CI keeps both as secrets.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from meridian_core.errors import RefusedError
from meridian_core.layout import Repo
from meridian_core.loopback import is_loopback

from meridian import toolchain

TOOL = "cosign"


@dataclass(frozen=True)
class Verdict:
    signed: bool
    detail: str


def _run(repo: Repo, args: list[str], ref: str) -> subprocess.CompletedProcess[str]:
    cosign = toolchain.require_tool(repo, TOOL)
    # Only the loopback registry of local runs and tests speaks plain HTTP.
    plain = ["--allow-http-registry"] if is_loopback(ref.split("/", 1)[0].rsplit(":", 1)[0]) else []
    with tempfile.TemporaryDirectory(prefix="meridian-cosign-") as home:
        # A fresh TUF folder: cosign must not reach for the public Sigstore roots; this key is the root.
        env = {**toolchain.tool_env(repo), "TUF_ROOT": home, "SIGSTORE_NO_CACHE": "1"}
        try:
            return toolchain.run([cosign, *args, *plain, ref], env=env, timeout=300)
        except subprocess.TimeoutExpired:
            raise RefusedError(f"cosign {args[0]} {ref} did not finish in 300 s") from None


def sign(repo: Repo, ref: str, key: Path) -> None:
    """Sign `ref` (registry/repository@sha256:…) with the private key in `key`."""
    if "@sha256:" not in ref:
        raise RefusedError(f"{ref}: only a digest is signed, never a tag")
    if not key.is_file():
        raise RefusedError(f"signing key {key} does not exist", hint="cosign generate-key-pair writes one")
    proc = _run(repo, ["sign", "--key", str(key), "--tlog-upload=false", "--yes"], ref)
    if proc.returncode != 0:
        raise RefusedError(f"cosign could not sign {ref}: {_last_lines(proc)}")


def verify(repo: Repo, ref: str, public_key: Path) -> Verdict:
    """Does `ref` carry a signature that `public_key` verifies?"""
    proc = _run(
        repo, ["verify", "--key", str(public_key), "--insecure-ignore-tlog=true", "--output", "json"], ref
    )
    if proc.returncode == 0:
        return Verdict(True, "signed by the release key")
    return Verdict(False, _last_lines(proc))


def _last_lines(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
    # cosign warns about skipping the transparency log before it says what failed.
    wanted = [line for line in lines if not line.startswith("WARNING")] or lines
    return " ".join(" ".join(wanted[-2:]).split())[:400]
