"""Where things live in a Meridian checkout; every command finds the repository the same way."""

import os
from dataclasses import dataclass
from pathlib import Path

from meridian_core.errors import InputError

ENVIRONMENTS = ("dev", "staging", "prod")


@dataclass(frozen=True)
class Repo:
    root: Path

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @property
    def local_dir(self) -> Path:
        """Git-ignored folder for machine-local state: Pulumi backend, local cluster, stamps."""
        return self.root / ".meridian"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def environments_dir(self) -> Path:
        return self.root / "environments"

    @property
    def policies_dir(self) -> Path:
        return self.root / "policies"

    @property
    def tools_dir(self) -> Path:
        return self.root / "tools"

    def environment_dir(self, env: str) -> Path:
        return self.environments_dir / env


def find_repo(start: Path | None = None) -> Repo:
    """The checkout that holds Pulumi.yaml, from $MERIDIAN_ROOT or the nearest parent folder."""
    override = os.environ.get("MERIDIAN_ROOT")
    if override:
        root = Path(override).resolve()
        if not (root / "Pulumi.yaml").is_file():
            raise InputError(f"MERIDIAN_ROOT={override} holds no Pulumi.yaml")
        return Repo(root)
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "Pulumi.yaml").is_file():
            return Repo(candidate)
    raise InputError(
        f"no Meridian checkout found at or above {here}",
        hint="run meridian inside the repository, or set MERIDIAN_ROOT",
    )
