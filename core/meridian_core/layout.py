"""Where things live in a Meridian checkout: the one definition of the repository's layout.

The names below are repository-relative POSIX paths, as git, snapshots and messages use them; `Repo`
gives the same places as paths on disk. Every command finds the repository the same way.
"""

import os
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any, overload

from meridian_core.errors import InputError

ENVIRONMENTS = ("dev", "staging", "prod")

PROJECT_FILE = "Pulumi.yaml"  # marks the checkout's root
ENVIRONMENTS_DIR = "environments"
APPS_DIR = "apps"
POLICIES_DIR = "policies"
TOOLS_DIR = "tools"
BIN_DIR = "bin"  # built tools (git-ignored)
BUILD_DIR = "build"  # render output (git-ignored)
LOCAL_DIR = ".meridian"  # machine-local state (git-ignored)

SPEC_FILE = "platform.yaml"  # environments/<env>/platform.yaml: the environment's platform
CONTRACT_FILE = "app.yaml"  # apps/<app>/app.yaml: the app's contract with the platform
BASE_DIR = "deploy"  # apps/<app>/deploy/: the app's Kustomize base
OVERLAYS_DIR = "apps"  # environments/<env>/apps/<app>/: the app's overlay in one environment
KUSTOMIZATION_FILE = "kustomization.yaml"
SETTINGS_FILE = "settings.yaml"  # an overlay's replicas, autoscaling bounds and resources
VERSION_FILE = "version.yaml"  # an overlay's promoted version: what promotions write
# The JSON Schemas the specs' and the contracts' first lines point editors at (generated).
SPEC_SCHEMA = f"{ENVIRONMENTS_DIR}/platform.schema.json"
CONTRACT_SCHEMA = f"{APPS_DIR}/app.schema.json"

# Policies: the gate's Rego (conftest in CI, OPA at admission), the admission adapter, the
# promotion rules, and the chart exemptions both the gate and the admission webhook read.
GATE_POLICIES = f"{POLICIES_DIR}/rego"
ADMISSION_POLICIES = f"{POLICIES_DIR}/admission"
PROMOTION_POLICIES = f"{POLICIES_DIR}/promotion"
CHART_EXEMPTIONS_FILE = f"{POLICIES_DIR}/exemptions/charts.yaml"

LOCAL_CLUSTER_ENV = "MERIDIAN_CLUSTER_DIR"  # the local control plane's folder, instead of .meridian/cluster
LOCAL_KUBECONFIG = "kubeconfig"  # its admin kubeconfig, in that folder


class Below:
    """One path of a layout class, declared as a line of its table: `logs = Below("root", "logs")`
    reads as `self.root / "logs"`. The base is an attribute of the instance (dotted for a nested
    one, "dirs.root"); the class attribute itself is this declaration, so docs and tests can list
    a layout's places without an instance."""

    def __init__(self, base: str, *parts: str) -> None:
        self.base = base
        self.parts = parts
        self._read_base = attrgetter(base)

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> "Below": ...
    @overload
    def __get__(self, obj: object, owner: type[Any] | None = None) -> Path: ...
    def __get__(self, obj: object | None, owner: type[Any] | None = None) -> "Path | Below":
        if obj is None:
            return self
        return Path(self._read_base(obj), *self.parts)


def environment_path(env: str) -> str:
    return f"{ENVIRONMENTS_DIR}/{env}"


def environment_file(name: str) -> str:
    """A file about every environment, beside their folders (promotion.yaml, images.yaml)."""
    return f"{ENVIRONMENTS_DIR}/{name}"


def spec_path(env: str) -> str:
    """environments/<env>/platform.yaml: the environment's platform spec."""
    return f"{environment_path(env)}/{SPEC_FILE}"


def overlays_path(env: str) -> str:
    """The folder of the environment's app overlays, one folder per app (what Argo CD syncs)."""
    return f"{environment_path(env)}/{OVERLAYS_DIR}"


def overlay_path(env: str, app: str) -> str:
    """environments/<env>/apps/<app>: what the app varies in one environment."""
    return f"{overlays_path(env)}/{app}"


def settings_path(env: str, app: str) -> str:
    return f"{overlay_path(env, app)}/{SETTINGS_FILE}"


def version_path(env: str, app: str) -> str:
    """The overlay's version.yaml: the file a promotion changes."""
    return f"{overlay_path(env, app)}/{VERSION_FILE}"


def version_file_of(path: str) -> tuple[str, str] | None:
    """(env, app) when the repository-relative `path` is an app's version.yaml, else None."""
    parts = path.split("/")
    if (
        len(parts) == 5
        and parts[0] == ENVIRONMENTS_DIR
        and parts[2] == OVERLAYS_DIR
        and parts[4] == VERSION_FILE
    ):
        return parts[1], parts[3]
    return None


def app_path(app: str, *below: str) -> str:
    """apps/<app>: the app's code, its contract (CONTRACT_FILE) and Kustomize base (BASE_DIR), the
    base every environment's overlay builds on."""
    return "/".join((APPS_DIR, app, *below))


RENDERED_CHARTS = "charts"  # in a rendered platform folder: the objects of its Helm releases


@dataclass(frozen=True)
class Rendered:
    """One environment's render (`meridian render ENV`, the policy gate's input):
    apps/APP.yaml (kustomize output), platform/ (the program's objects), platform/charts/ (its
    Helm releases' objects)."""

    folder: Path
    apps = Below("folder", "apps")
    platform = Below("folder", "platform")
    charts = Below("platform", RENDERED_CHARTS)

    def app_file(self, app: str) -> Path:
        return self.apps / f"{app}.yaml"


@dataclass(frozen=True)
class Repo:
    root: Path

    def path(self, relative: str) -> Path:
        """A repository-relative path of this module, on disk."""
        return self.root / relative

    bin_dir = Below("root", BIN_DIR)
    local_dir = Below("root", LOCAL_DIR)  # machine-local state: Pulumi backend, local cluster, stamps
    build_dir = Below("root", BUILD_DIR)
    environments_dir = Below("root", ENVIRONMENTS_DIR)
    apps_dir = Below("root", APPS_DIR)
    policies_dir = Below("root", POLICIES_DIR)
    tools_dir = Below("root", TOOLS_DIR)

    def rendered(self, env: str) -> Rendered:
        """build/ENV: where `meridian render ENV` writes."""
        return Rendered(self.build_dir / env)

    def rendered_crds(self, env: str) -> Path:
        """build/crds/ENV: the CRDs the environment's charts install, apart from what the gate checks."""
        return self.build_dir / "crds" / env

    @property
    def local_cluster_dir(self) -> Path:
        """The local control plane's folder: $MERIDIAN_CLUSTER_DIR, else .meridian/cluster. Absolute,
        because its processes are recognised by this path in their command line."""
        override = os.environ.get(LOCAL_CLUSTER_ENV, "").strip()
        return Path(override).expanduser().resolve() if override else self.local_dir.resolve() / "cluster"

    @property
    def local_kubeconfig(self) -> Path:
        """Written by `meridian cluster up --local`: what users, kubectl and the Pulumi program use."""
        return self.local_cluster_dir / LOCAL_KUBECONFIG

    def environment_dir(self, env: str) -> Path:
        return self.path(environment_path(env))

    def spec_file(self, env: str) -> Path:
        return self.path(spec_path(env))

    def overlay_dir(self, env: str, app: str) -> Path:
        return self.path(overlay_path(env, app))

    def settings_file(self, env: str, app: str) -> Path:
        return self.path(settings_path(env, app))

    def contract_file(self, app: str) -> Path:
        return self.path(app_path(app, CONTRACT_FILE))

    def app_overlays(self, env: str) -> list[Path]:
        """The environment's app overlays: the folders under environments/<env>/apps/ that Kustomize
        can build. An app runs in an environment exactly when it has one (Argo CD's ApplicationSet
        makes an Application of each)."""
        folder = self.path(overlays_path(env))
        return sorted(p.parent for p in folder.glob(f"*/{KUSTOMIZATION_FILE}"))

    def apps_of(self, env: str) -> list[str]:
        return [overlay.name for overlay in self.app_overlays(env)]


def find_repo(start: Path | None = None) -> Repo:
    """The checkout that holds Pulumi.yaml, from $MERIDIAN_ROOT or the nearest parent folder."""
    override = os.environ.get("MERIDIAN_ROOT")
    if override:
        root = Path(override).resolve()
        if not (root / PROJECT_FILE).is_file():
            raise InputError(f"MERIDIAN_ROOT={override} holds no {PROJECT_FILE}")
        return Repo(root)
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / PROJECT_FILE).is_file():
            return Repo(candidate)
    raise InputError(
        f"no Meridian checkout found at or above {here}",
        hint="run meridian inside the repository, or set MERIDIAN_ROOT",
    )
