"""The one git wrapper every promotion command uses: subprocess `git`, nothing else.

Everything the promotion model knows about time and provenance comes from here: which commits
changed a file, when they reached the branch, what their trailers say. Keeping every call in one
module keeps the formats (`--format`, `-z`, `cat-file --batch`) in one place, and means a test of
this module exercises the exact commands the CLI runs.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from meridian_core.errors import InputError, RefusedError

ZERO_SHA = "0" * 40

# Separators no commit subject or trailer can contain.
_FIELD = "\x1f"
_RECORD = "\x1e"
_LOG_FORMAT = _FIELD.join(["%H", "%P", "%ct", "%an <%ae>", "%s", "%(trailers:unfold,only)"]) + _RECORD


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    time: datetime  # committer time: when the commit reached the branch, for merges and rebases alike
    author: str
    subject: str
    trailers: tuple[tuple[str, str], ...] = field(default=())

    @property
    def short(self) -> str:
        return self.sha[:10]

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


class Git:
    """git in one working tree (the main checkout or a temporary worktree of it)."""

    def __init__(self, root: Path, env: Mapping[str, str] | None = None) -> None:
        self.root = root
        self._env = dict(env) if env is not None else None

    def run(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        proc = self._run(list(args), stdin.encode() if stdin is not None else None)
        if check and proc.returncode != 0:
            raise _failure(args, proc.stderr.decode(errors="replace"))
        return proc.stdout.decode(errors="replace")

    def ok(self, *args: str) -> bool:
        """Whether a git command that answers with its exit code (is-ancestor, show-ref) says yes."""
        return self._run(list(args), None).returncode == 0

    def _run(self, args: list[str], stdin: bytes | None) -> subprocess.CompletedProcess[bytes]:
        env = dict(self._env if self._env is not None else os.environ)
        # Messages are parsed in a few places (merge conflicts, missing refs); keep them in English.
        env["LC_ALL"] = "C"
        env.pop("GIT_DIR", None)  # a caller's GIT_DIR would point every command at another repository
        try:
            return subprocess.run(
                ["git", *args], cwd=self.root, input=stdin, capture_output=True, env=env, check=False
            )
        except FileNotFoundError:
            raise RefusedError("git is not installed", hint="install git (2.39 or newer)") from None

    # --- the repository -------------------------------------------------------------------------

    def require_repository(self) -> None:
        if not self.ok("rev-parse", "--git-dir"):
            raise InputError(f"{self.root} is not a git repository", hint="promotions work on a git clone")
        if self.rev_parse("HEAD") is None:
            raise InputError("the repository has no commit yet", hint="commit the environments first")

    def rev_parse(self, rev: str) -> str | None:
        proc = self._run(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], None)
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def require_rev(self, rev: str) -> str:
        sha = self.rev_parse(rev)
        if sha is None:
            raise InputError(
                f"no such commit: {rev!r}", hint="name a branch, tag or commit of this repository"
            )
        return sha

    def current_branch(self) -> str | None:
        proc = self._run(["symbolic-ref", "--quiet", "--short", "HEAD"], None)
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def merge_base(self, a: str, b: str) -> str:
        return self.run("merge-base", a, b).strip()

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self.ok("merge-base", "--is-ancestor", ancestor, descendant)

    def identity(self) -> str:
        """`Name <email>` of whoever commits here, as git would record it."""
        ident = self.run("var", "GIT_COMMITTER_IDENT").strip()
        return ident.rsplit(">", 1)[0] + ">" if ">" in ident else ident

    def dirty_paths(self, pathspecs: Sequence[str] = ()) -> list[str]:
        """Modified, staged or untracked (not ignored) paths, limited to `pathspecs` when given."""
        out = self.run("status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *pathspecs)
        entries = [e for e in out.split("\0") if e]
        paths, skip = [], False
        for entry in entries:
            if skip:  # the second path of a rename record
                skip = False
                continue
            paths.append(entry[3:])
            skip = entry[0] in "RC"
        return paths

    # --- content at a revision -------------------------------------------------------------------

    def read(self, rev: str, path: str) -> bytes | None:
        return self.read_many([f"{rev}:{path}"])[0]

    def read_many(self, specs: Sequence[str]) -> list[bytes | None]:
        """Blobs named `rev:path`, in one `git cat-file --batch` process; None where there is none."""
        if not specs:
            return []
        proc = self._run(["cat-file", "--batch"], "".join(f"{s}\n" for s in specs).encode())
        if proc.returncode != 0:
            raise _failure(("cat-file", "--batch"), proc.stderr.decode(errors="replace"))
        data, pos = proc.stdout, 0
        blobs: list[bytes | None] = []
        for _ in specs:
            end = data.index(b"\n", pos)
            header = data[pos:end].decode(errors="replace").split()
            pos = end + 1
            if len(header) == 3 and header[1] == "blob":
                size = int(header[2])
                blobs.append(data[pos : pos + size])
                pos += size + 1
            elif len(header) == 3:  # a tree or commit where a file was expected
                pos += int(header[2]) + 1
                blobs.append(None)
            else:  # "<spec> missing"
                blobs.append(None)
        return blobs

    def list_tree(self, rev: str, path: str, *, directories: bool = False) -> list[str]:
        """Folders directly under `path` at `rev` (names only), or every file below it (paths)."""
        prefix = path.rstrip("/") + "/"
        if directories:
            out = self.run("ls-tree", "-d", "-z", "--name-only", rev, prefix)
            return sorted(p[len(prefix) :] for p in out.split("\0") if p)
        out = self.run("ls-tree", "-r", "-z", "--name-only", rev, prefix)
        return sorted(p for p in out.split("\0") if p)

    # --- history ----------------------------------------------------------------------------------

    def log(self, *args: str) -> list[Commit]:
        out = self.run("log", f"--format={_LOG_FORMAT}", *args)
        return [_commit(record) for record in out.split(_RECORD) if record.strip()]

    def file_history(self, rev: str, path: str) -> list[Commit]:
        """Commits on the first-parent line of `rev` that changed `path`, newest first.

        First parent: a pull request's change counts from the moment it was merged, which is the
        moment Argo CD could deploy it; the branch commits' own times say when someone typed them.
        """
        return self.log("--first-parent", rev, "--", path)

    def merged_commits(self, merge: Commit, path: str) -> list[Commit]:
        """The commits a merge brought in that changed `path`, newest first."""
        return self.log(f"{merge.parents[0]}..{merge.sha}", "--no-merges", "--", path)

    def changed_files(self, base: str, head: str) -> list[tuple[str, str]]:
        """(status letter, path) of every file that differs between two commits; renames split."""
        out = self.run("diff", "--name-status", "-z", "--no-renames", base, head)
        fields = [f for f in out.split("\0") if f]
        return [(fields[i][0], fields[i + 1]) for i in range(0, len(fields), 2)]

    # --- branches -----------------------------------------------------------------------------------

    def refs(self, pattern: str) -> dict[str, str]:
        """{ref name: commit} for refs matching a for-each-ref pattern (e.g. refs/heads/promote/a/)."""
        out = self.run("for-each-ref", "--format=%(refname)%00%(objectname)", pattern)
        refs = {}
        for line in out.splitlines():
            name, _, sha = line.partition("\0")
            refs[name] = sha
        return refs

    def create_branch(self, name: str, sha: str) -> None:
        """Create refs/heads/<name> at `sha`; fails, changing nothing, if the branch already exists."""
        self.run("update-ref", "-m", "meridian: create branch", f"refs/heads/{name}", sha, ZERO_SHA)

    def put_branch(self, name: str, sha: str) -> None:
        """Point refs/heads/<name> at `sha`, creating it or moving it from where it is now."""
        ref = f"refs/heads/{name}"
        current = self.refs(ref).get(ref)
        if current is None:
            self.create_branch(name, sha)
        else:
            self.move_branch(name, sha, current)

    def move_branch(self, name: str, sha: str, expected: str) -> None:
        self.run("update-ref", "-m", "meridian: move branch", f"refs/heads/{name}", sha, expected)

    def delete_ref(self, ref: str, expected: str) -> None:
        self.run("update-ref", "-d", ref, expected)

    # --- worktrees and commits -------------------------------------------------------------------------

    def add_worktree(self, path: Path, rev: str) -> None:
        self.run("worktree", "add", "--detach", "--quiet", str(path), rev)

    def remove_worktree(self, path: Path) -> None:
        self.run("worktree", "remove", "--force", str(path), check=False)
        self.run("worktree", "prune", check=False)

    def commit_paths(self, paths: Iterable[str], message: str) -> str:
        """Stage exactly `paths` (added, changed or deleted) and commit them; returns the new commit."""
        listed = list(paths)
        self.run("add", "--all", "--", *listed)
        self.run("commit", "--quiet", "--no-verify", "--file", "-", "--", *listed, stdin=message)
        return self.run("rev-parse", "HEAD").strip()

    # --- remotes ----------------------------------------------------------------------------------------

    def remote_url(self, remote: str) -> str | None:
        proc = self._run(["remote", "get-url", remote], None)
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def push(self, remote: str, *refspecs: str) -> None:
        self.run("push", "--quiet", remote, *refspecs)


def _commit(record: str) -> Commit:
    sha, parents, ct, author, subject, trailers = record.strip("\n").split(_FIELD, 5)
    return Commit(
        sha=sha,
        parents=tuple(parents.split()),
        time=datetime.fromtimestamp(int(ct), UTC),
        author=author,
        subject=subject,
        trailers=parse_trailers(trailers),
    )


def parse_trailers(text: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key and " " not in key.strip():
            pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def _failure(args: Sequence[str], stderr: str) -> RefusedError:
    detail = " ".join(stderr.split())[:500] or "no message"
    return RefusedError(f"git {' '.join(args[:2])} failed: {detail}")
