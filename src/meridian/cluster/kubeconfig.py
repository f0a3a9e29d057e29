"""Kubeconfig files with the CA and the client certificate embedded, so each is self-contained:
the Pulumi program reads the admin one as a string, and a copy works from any folder."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from meridian_core.yamlio import dump_all

CLUSTER = "meridian-local"


def kubeconfig(server: str, pki: Path, identity: str) -> dict[str, Any]:
    """A kubeconfig for `identity` (the stem of its NAME.crt/NAME.key in `pki`)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CLUSTER,
                "cluster": {"server": server, "certificate-authority-data": _b64(pki / "ca.crt")},
            }
        ],
        "users": [
            {
                "name": identity,
                "user": {
                    "client-certificate-data": _b64(pki / f"{identity}.crt"),
                    "client-key-data": _b64(pki / f"{identity}.key"),
                },
            }
        ],
        "contexts": [{"name": CLUSTER, "context": {"cluster": CLUSTER, "user": identity}}],
        "current-context": CLUSTER,
        "preferences": {},
    }


def write_kubeconfig(path: Path, server: str, pki: Path, identity: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # It carries a private key: owner-only, written whole under a temporary name then renamed,
    # so a reader never sees half a file.
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(dump_all([kubeconfig(server, pki, identity)]))
    tmp.replace(path)


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")
