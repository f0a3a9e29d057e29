"""Debian packages of an image: resolved once into a lock file, then fetched, verified and unpacked.

An image's Debian part is a set of .deb files unpacked side by side (as distroless images are
made): no maintainer scripts run and no package manager ships, so the result depends on the
locked files alone. Each package's control file goes to /var/lib/dpkg/status.d/, where image
scanners look for what is installed.

The module needs only the standard library: the Dockerfiles' build stages run it as a script.

    python3 debian.py lock --root PKG… [--exclude PKG…] [--no-deps] > LOCK   (needs apt lists)
    python3 debian.py base LOCK ROOTFS [--cache DIR]    the packages, plus what every image has
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import shlex
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# Left out of every image: documentation and translations (each package's copyright file stays).
_DROPPED = ("usr/share/man/", "usr/share/info/", "usr/share/lintian/", "usr/share/locale/", "usr/share/doc/")
_KEPT = re.compile(r"^usr/share/doc/[^/]+/copyright$")
_LINE = re.compile(
    r"^(?P<name>[a-z0-9][a-z0-9+.-]*) (?P<version>\S+) sha256:(?P<sha256>[0-9a-f]{64}) (?P<url>\S+)$"
)


class DebianError(Exception):
    """A lock file that cannot be read, a package that cannot be fetched or does not verify."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    sha256: str
    url: str

    def line(self) -> str:
        return f"{self.name} {self.version} sha256:{self.sha256} {self.url}"


# --- the lock file -------------------------------------------------------------------------------------


def read_lock(path: Path) -> list[Package]:
    packages = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise DebianError(f"{path}:{number}: expected `NAME VERSION sha256:HEX URL`, found {line!r}")
        packages.append(Package(**match.groupdict()))
    if not packages:
        raise DebianError(f"{path}: lists no packages")
    return packages


def resolve(roots: list[str], exclude: set[str], *, follow: bool) -> list[Package]:
    """The roots and (if `follow`) everything they depend on, as this machine's apt lists say."""
    chosen: set[str] = set()
    todo = list(roots)
    while todo:
        batch = sorted({name for name in todo if name not in chosen and name not in exclude})
        todo = []
        if not batch:
            break
        chosen.update(batch)
        if follow:
            todo = _dependencies(batch, chosen, exclude)
    return _uris(sorted(chosen))


def _dependencies(names: list[str], chosen: set[str], exclude: set[str]) -> list[str]:
    """Depends and Pre-Depends; of alternatives `a | b`, one already chosen, else the first real one."""
    proc = _apt(
        [
            "apt-cache",
            "depends",
            "--no-recommends",
            "--no-suggests",
            "--no-conflicts",
            "--no-breaks",
            "--no-replaces",
            "--no-enhances",
            *names,
        ]
    )
    found: list[str] = []
    group: list[str] = []
    for line in proc.splitlines():
        match = re.match(r"^ (\|| )(PreDepends|Depends): (\S+)$", line)
        if match is None:
            continue
        alternative, name = match.group(1) == "|", match.group(3)
        group.append(name)
        if alternative:
            continue
        real = [n for n in group if not n.startswith("<")]
        pick = next((n for n in real if n in chosen or n in exclude), real[0] if real else None)
        if pick is not None:
            found.append(pick)
        group = []
    return found


def _uris(names: list[str]) -> list[Package]:
    out = _apt(["apt-get", "download", "--print-uris", *names])
    packages = []
    for line in out.splitlines():
        # 'http://…/libc6_2.36-9+deb12u10_amd64.deb' libc6_2.36-9+deb12u10_amd64.deb 2757936 SHA256:…
        url, filename, _size, checksum = shlex.split(line)
        name, version, _ = filename.split("_", 2)
        packages.append(Package(name, version.replace("%3a", ":"), checksum.split(":", 1)[1].lower(), url))
    missing = set(names) - {p.name for p in packages}
    if missing:
        raise DebianError(f"apt knows no download for {', '.join(sorted(missing))}")
    return sorted(packages, key=lambda p: p.name)


def _apt(command: list[str]) -> str:
    proc = subprocess.run(
        command, capture_output=True, text=True, check=False, env={**os.environ, "LC_ALL": "C"}
    )
    if proc.returncode != 0:
        raise DebianError(f"{command[0]} failed: {proc.stderr.strip()[:300]} (run `apt-get update` first?)")
    return proc.stdout


# --- fetch and unpack --------------------------------------------------------------------------------------


def fetch(package: Package, cache: Path) -> bytes:
    """The .deb's bytes, from the cache or the mirror; refused unless its sha256 is the locked one."""
    path = cache / f"{package.sha256}.deb"
    if path.is_file():
        cached = path.read_bytes()
        if hashlib.sha256(cached).hexdigest() == package.sha256:
            return cached
    try:
        with urllib.request.urlopen(package.url, timeout=120) as response:  # noqa: S310 - a locked URL
            data: bytes = response.read()
    except urllib.error.URLError as exc:
        raise DebianError(
            f"{package.name} {package.version}: {package.url}: {exc}",
        ) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != package.sha256:
        raise DebianError(
            f"{package.name} {package.version}: {package.url} has sha256 {actual}, locked {package.sha256}"
        )
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return data


def _ar_members(data: bytes, where: str) -> dict[str, bytes]:
    if not data.startswith(b"!<arch>\n"):
        raise DebianError(f"{where}: not a Debian package (no ar header)")
    members, offset = {}, 8
    while offset + 60 <= len(data):
        header = data[offset : offset + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        members[name] = data[offset + 60 : offset + 60 + size]
        offset += 60 + size + (size % 2)
    return members


def _member(members: dict[str, bytes], prefix: str, where: str) -> tarfile.TarFile:
    for name, body in members.items():
        if name.startswith(prefix):
            return tarfile.open(fileobj=io.BytesIO(body), mode="r:*")
    raise DebianError(f"{where}: has no {prefix}*")


def _kept(name: str) -> bool:
    name = name.removeprefix("./")
    return not name.startswith(_DROPPED) or bool(_KEPT.match(name))


def unpack(package: Package, data: bytes, rootfs: Path) -> None:
    where = f"{package.name} {package.version}"
    members = _ar_members(data, where)
    with _member(members, "data.tar", where) as tar:
        entries = [m for m in tar.getmembers() if _kept(m.name)]
        # The "tar" filter refuses absolute paths and links out of the tree, and drops setuid bits.
        tar.extractall(rootfs, members=entries, filter="tar")
    with _member(members, "control.tar", where) as tar:
        control = tar.extractfile("./control")
        if control is None:
            raise DebianError(f"{where}: control.tar has no control file")
        status = rootfs / "var/lib/dpkg/status.d"
        status.mkdir(parents=True, exist_ok=True)
        (status / package.name).write_bytes(control.read())


def unpack_all(lock: Path, rootfs: Path, cache: Path) -> list[Package]:
    packages = read_lock(lock)
    for package in packages:
        unpack(package, fetch(package, cache), rootfs)
    return packages


# The same two accounts as distroless images: root owns every file, the app runs as nonroot.
USERS = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
GROUPS = "root:x:0:\nnonroot:x:65532:\n"
CA_BUNDLE = "etc/ssl/certs/ca-certificates.crt"


def make_base(lock: Path, rootfs: Path, cache: Path) -> list[Package]:
    """The bottom layer of an image: the locked packages, the accounts, the CA bundle, a /tmp anyone
    may write, and `python3` where Debian's python3.11 is installed."""
    packages = unpack_all(lock, rootfs, cache)
    (rootfs / "etc").mkdir(exist_ok=True)
    (rootfs / "etc/passwd").write_text(USERS)
    (rootfs / "etc/group").write_text(GROUPS)
    (rootfs / "home/nonroot").mkdir(parents=True, exist_ok=True)
    (rootfs / "tmp").mkdir(exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)
    # update-ca-certificates would do this at install time: every certificate Debian ships, in order.
    certs = sorted((rootfs / "usr/share/ca-certificates").rglob("*.crt"), key=lambda p: str(p).encode())
    if not certs:
        raise DebianError(f"{lock}: brings no CA certificates (lock ca-certificates)")
    bundle = rootfs / CA_BUNDLE
    bundle.parent.mkdir(parents=True, exist_ok=True)
    bundle.write_bytes(b"".join(p.read_bytes().rstrip(b"\n") + b"\n" for p in certs))
    if (rootfs / "usr/bin/python3.11").is_file():  # python3-minimal would add these links
        for name in ("python3", "python"):
            (rootfs / "usr/bin" / name).symlink_to("python3.11")
    return packages


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="debian.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lock = sub.add_parser("lock", help="resolve packages into lock lines (stdout)")
    lock.add_argument("--root", nargs="+", required=True)
    lock.add_argument("--exclude", nargs="*", default=[])
    lock.add_argument("--no-deps", action="store_true", help="the roots alone, not what they depend on")
    unpacking = sub.add_parser(
        "base", help="fetch, verify and unpack a lock's packages, add accounts and CAs"
    )
    unpacking.add_argument("lock", type=Path)
    unpacking.add_argument("rootfs", type=Path)
    unpacking.add_argument("--cache", type=Path, default=Path(".debs"))
    args = parser.parse_args(argv)
    try:
        if args.command == "lock":
            found = resolve(args.root, set(args.exclude), follow=not args.no_deps)
            print("\n".join(p.line() for p in found))
        else:
            os.umask(0o022)  # the same modes on every machine
            args.rootfs.mkdir(parents=True, exist_ok=True)
            make_base(args.lock, args.rootfs, args.cache)
    except DebianError as exc:
        print(f"debian.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
