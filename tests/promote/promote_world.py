"""A Meridian repository in a temporary folder, with a bare `origin`, and a controllable history.

The checkout holds what promotions read and render: the apps' contracts and Kustomize bases, the three
environments, the Rego policies (gate and promotion rules), the workflows, and a promotion.yaml
of its own. Its history is written with fixed commit times, so soak times are facts of the
history and "now" is set with MERIDIAN_NOW: nothing waits for the clock. Every version.yaml pins a
synthetic digest (`synthetic_digest`), never a real build's.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from meridian.cli import main
from meridian.promote.versions import Pin, read_pin, write_pin

REPO_ROOT = Path(__file__).resolve().parents[2]
APPS = ("inventory", "orders")
ENVS = ("dev", "staging", "prod")

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)  # a Monday: every environment at 1.0.0
T1 = T0 + timedelta(hours=1)  # dev moves to 1.1.0
NOW = datetime(2026, 6, 3, 12, 0, tzinfo=UTC)  # Wednesday noon: dev's 1.1.0 has soaked two days
SATURDAY = datetime(2026, 6, 6, 12, 0, tzinfo=UTC)  # inside prod's weekend freeze

# The tests' promotion.yaml: the repository's shape, with numbers the tests reason about.
CONFIG = """\
# Test promotion rules.
order: [dev, staging, prod]
environments:
  dev:
    soak: 1h
  staging:
    soak: 24h
    requireDigest: true
  prod:
    requireDigest: true
    freeze:
      timezone: UTC
      weekly:
        - name: weekend
          from: Sat 00:00
          to: Mon 00:00
          reason: nobody is on hand over the weekend
bundles: {}
"""

# Skip checkov (20 s a run) where it is not the subject; the real conftest and gitleaks still run.
FAST = ("--skip", "checkov")


def synthetic_digest(app: str, tag: str) -> str:
    """A made-up digest, the sha256 of "APP:TAG": no build produced it and no registry holds it.

    The promotion suites judge rules that read digests from git alone, so they need none; the
    repositories they build have no environments/images.yaml, hence no supply-chain rules. Real,
    signed builds in a loopback registry are tests/images/test_supply_chain.py's."""
    return "sha256:" + hashlib.sha256(f"{app}:{tag}".encode()).hexdigest()


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def git(cwd: Path, *args: str, when: datetime | None = None, check: bool = True) -> str:
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", LC_ALL="C")
    if when is not None:
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
        env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def build_template(dest: Path) -> None:
    """The checkout and its origin, committed and pushed: dev at 1.1.0, staging and prod at 1.0.0."""
    work, origin = dest / "work", dest / "origin.git"
    git(dest, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    work.mkdir()
    for rel in ("Pulumi.yaml", ".gitignore", "policies/gitleaks.toml", *(f"apps/{a}/app.yaml" for a in APPS)):
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / rel, work / rel)
    for rel in (
        "policies/rego",
        "policies/checkov",
        "policies/exemptions",
        "policies/promotion",
        "environments/components",
        *(f"apps/{a}/deploy" for a in APPS),
    ):
        shutil.copytree(REPO_ROOT / rel, work / rel)
    for env in ENVS:
        shutil.copy2(REPO_ROOT / "environments" / env / "platform.yaml", _mkdir(work / "environments" / env))
        for app in APPS:
            shutil.copytree(
                REPO_ROOT / "environments" / env / "apps" / app, work / "environments" / env / "apps" / app
            )
    for name in ("promote.yaml", "promotion-check.yaml"):
        shutil.copy2(REPO_ROOT / ".github" / "workflows" / name, _mkdir(work / ".github" / "workflows"))
    (work / "environments" / "promotion.yaml").write_text(CONFIG)
    # The built tools stay where `make tools` put them; bin/ is git-ignored, like in the real checkout.
    (work / "bin").symlink_to(REPO_ROOT / "bin")
    git(work, "init", "--quiet", "--initial-branch=main")
    for key, value in (
        ("user.name", "Pat Promoter"),
        ("user.email", "pat@example.com"),
        ("commit.gpgsign", "false"),
        ("gc.auto", "0"),
    ):
        git(work, "config", key, value)
    git(work, "remote", "add", "origin", str(origin))
    for env in ENVS:
        for app in APPS:
            _write_version(work, env, app, "1.0.0")
    git(work, "add", "--all")
    git(work, "commit", "--quiet", "-m", "environments at 1.0.0", when=T0)
    for app in APPS:
        _write_version(work, "dev", app, "1.1.0")
    git(work, "commit", "--quiet", "-am", "dev runs 1.1.0", when=T1)
    git(work, "push", "--quiet", "origin", "main")


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _version_file(root: Path, env: str, app: str) -> Path:
    return root / "environments" / env / "apps" / app / "version.yaml"


def _write_version(root: Path, env: str, app: str, tag: str, sha: str | None = None) -> None:
    path = _version_file(root, env, app)
    text = path.read_text()
    pin = read_pin(text, app, str(path))
    path.write_text(
        write_pin(text, app, Pin(pin.repository, tag, sha or synthetic_digest(app, tag), tag), str(path))
    )


class World:
    def __init__(
        self, root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        self.root = root / "work"
        self.origin = root / "origin.git"
        self._monkeypatch = monkeypatch
        self._capsys = capsys
        git(self.root, "remote", "set-url", "origin", str(self.origin))
        monkeypatch.setenv("MERIDIAN_ROOT", str(self.root))
        monkeypatch.setenv("COLUMNS", "200")
        monkeypatch.setenv("NO_COLOR", "1")
        for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.chdir(self.root)

    # --- running meridian ---------------------------------------------------------------------

    def cli(self, *args: str, now: datetime = NOW, env: dict[str, str] | None = None) -> Result:
        """`meridian ARGS` in this process (the real CLI entry point, exit code and streams)."""
        self._monkeypatch.setenv("MERIDIAN_NOW", now.isoformat())
        for key, value in (env or {}).items():
            self._monkeypatch.setenv(key, value)
        self._capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = self._capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def spawn(self, *args: str, now: datetime = NOW) -> subprocess.Popen[str]:
        """`meridian ARGS` as a separate process, for what must really run side by side."""
        env = dict(os.environ, MERIDIAN_ROOT=str(self.root), MERIDIAN_NOW=now.isoformat(), NO_COLOR="1")
        return subprocess.Popen(
            [sys.executable, "-m", "meridian.cli", *args],
            cwd=self.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    # --- the repository --------------------------------------------------------------------------

    def git(self, *args: str, when: datetime | None = None, check: bool = True) -> str:
        return git(self.root, *args, when=when, check=check)

    def set_version(self, env: str, app: str, tag: str, *, when: datetime, sha: str | None = None) -> str:
        """Commit a new version of the app in the environment on main, as landed at `when`."""
        _write_version(self.root, env, app, tag, sha)
        self.git("commit", "--quiet", "-am", f"{env}: {app} {tag}", when=when)
        return self.git("rev-parse", "HEAD").strip()

    def write_config(self, text: str, *, when: datetime) -> None:
        (self.root / "environments" / "promotion.yaml").write_text(text)
        self.git("commit", "--quiet", "-am", "promotion rules", when=when)

    def merge(self, branch: str, *, when: datetime) -> str:
        """Merge a branch into main the way a pull request lands: a merge commit, at `when`."""
        self.git("merge", "--quiet", "--no-ff", "-m", f"Merge {branch}", branch, when=when)
        return self.git("rev-parse", "HEAD").strip()

    def version(self, env: str, app: str, rev: str = "HEAD") -> Pin:
        text = self.git("show", f"{rev}:environments/{env}/apps/{app}/version.yaml")
        return read_pin(text, app, f"{env}/{app}")

    def file(self, rev: str, path: str) -> str:
        return self.git("show", f"{rev}:{path}")

    def branches(self) -> dict[str, str]:
        out = self.git("for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads")
        return dict(line.split() for line in out.splitlines())

    def changed(self, base: str, head: str) -> list[str]:
        return self.git("diff", "--name-only", base, head).split()

    def trailers(self, rev: str) -> dict[str, str]:
        out = self.git("log", "-1", "--format=%(trailers:only,unfold)", rev)
        return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)

    def state(self) -> dict[str, object]:
        """Everything a refusal must leave as it was: HEAD, refs, index, working tree, worktrees."""
        files = {}
        for path in sorted(self.root.rglob("*")):
            rel = path.relative_to(self.root)
            if rel.parts[0] in (".git", "bin", "build") or not path.is_file():
                continue
            files[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
        return {
            "head": self.git("rev-parse", "HEAD"),
            "symbolic": self.git("symbolic-ref", "-q", "HEAD", check=False),
            "refs": self.git("for-each-ref", "--format=%(refname) %(objectname)"),
            "index": self.git("ls-files", "--stage"),
            "status": self.git("status", "--porcelain=v1", "--untracked-files=all"),
            "worktrees": self.git("worktree", "list", "--porcelain"),
            "files": files,
        }
