"""Read an environment into an EnvironmentSpec, or fail with errors pointing at the YAML.

An environment is read from three kinds of file, each the one owner of what it says:

- `environments/<env>/platform.yaml`: the platform (PlatformSpec);
- `environments/<env>/apps/<app>/`: one overlay folder per app that runs in the environment (what
  Argo CD's ApplicationSet syncs); its settings.yaml gives the app's replicas, autoscaling bounds and
  resources there, which the platform reads to size the app's namespace (Sizing);
- `apps/<app>/app.yaml`: the app's contract with the platform (AppContract).

A malformed file stops `pulumi preview` / `meridian render` before any resource is declared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from meridian_core import layout
from meridian_core.yamlmodel import (
    Problem,
    YamlModelError,
    line_of,
    load_document,
    load_documents,
    load_yaml_model,
    validate_document,
)
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from ruamel.yaml.comments import CommentedMap

from meridian_infra.spec.models import (
    App,
    AppContract,
    ContainerSize,
    EnvironmentSpec,
    PlatformSpec,
    Quantity,
    Sizing,
    app_problems,
)

SPEC_FILE = layout.SPEC_FILE

SpecProblem = Problem


class SpecError(YamlModelError):
    """A file of an environment that cannot be used."""

    def __init__(self, file: Path, problems: list[Problem]) -> None:
        self.file = file
        super().__init__(str(file), problems)


def spec_path(environments_dir: Path, env: str) -> Path:
    return environments_dir / env / SPEC_FILE


def _checkout(environments_dir: Path) -> layout.Repo:
    """The checkout whose environments/ this is: apps/ lies beside it."""
    return layout.Repo(environments_dir.parent)


def environment_files(environments_dir: Path, env: str) -> list[Path]:
    """Every file `load_environment` reads for `env`: a change to any of them changes the spec."""
    repo = _checkout(environments_dir)
    apps = repo.apps_of(env)
    return [
        spec_path(environments_dir, env),
        *(repo.contract_file(app) for app in apps),
        *(repo.settings_file(env, app) for app in apps),
    ]


def load_environment(environments_dir: Path, env: str) -> EnvironmentSpec:
    """The environment `env`: its platform.yaml (whose `name` must match its folder), and each app of
    its overlay folders with that app's contract and the sizing of its overlay."""
    path = spec_path(environments_dir, env)
    if not path.is_file():
        known = sorted(p.parent.name for p in environments_dir.glob(f"*/{SPEC_FILE}"))
        raise SpecError(path, [Problem("", None, f"no such environment {env!r}; known: {', '.join(known)}")])
    platform = load_spec_file(path)
    if platform.name != env:
        raise SpecError(path, [Problem("name", None, f"is {platform.name!r} but the folder is {env!r}")])
    repo = _checkout(environments_dir)
    contracts: dict[str, tuple[AppContract, CommentedMap]] = {}
    sizings: dict[str, Sizing] = {}
    for app in repo.apps_of(env):
        contracts[app] = _read_contract(repo.contract_file(app), app, env)
        sizings[app] = load_settings_file(repo.settings_file(env, app), app)
    problems = app_problems({app: c for app, (c, _) in contracts.items()}, platform.platform_namespaces)
    if problems:
        first = problems[0].app  # one file per error: the first app's contract with all of its problems
        document = contracts[first][1]
        raise SpecError(
            repo.contract_file(first),
            [
                Problem(".".join(p.field), line_of(document, p.field) if p.field else None, p.message)
                for p in problems
                if p.app == first
            ],
        )
    apps = {
        app: App(**dict(contract), sizing=sizings[app]) for app, (contract, _) in sorted(contracts.items())
    }
    return EnvironmentSpec(**dict(platform), apps=apps)


# Keys platform.yaml once had, and where what they said is written now.
_MOVED = {
    "apps": "an app runs in the environment when it has an overlay folder under apps/ here; its team, "
    "calls, ports, SLO and database are its contract (apps/<app>/app.yaml), its replicas, autoscaling "
    "bounds and resources the overlay's settings.yaml",
    "sizes": "an app's resources are its overlay's settings.yaml (environments/<env>/apps/<app>/)",
}


def load_spec_file(path: Path) -> PlatformSpec:
    try:
        return load_yaml_model(PlatformSpec, _read(path), str(path))
    except YamlModelError as exc:
        problems = [
            Problem(p.path, p.line, f"no longer here: {_MOVED[p.path]}") if p.path in _MOVED else p
            for p in exc.problems
        ]
        raise SpecError(path, problems) from None


def load_contract_file(path: Path) -> AppContract:
    return _contract(path)[0]


def _read_contract(path: Path, app: str, env: str) -> tuple[AppContract, CommentedMap]:
    if not path.is_file():
        missing = (
            f"missing: {app} runs in {env} ({layout.overlay_path(env, app)}/), and every app that runs "
            "anywhere has a contract with the platform here"
        )
        raise SpecError(path, [Problem("", None, missing)])
    return _contract(path)


def _contract(path: Path) -> tuple[AppContract, CommentedMap]:
    """The contract and its document, whose lines point problems found later at the file."""
    try:
        document = load_document(_read(path), str(path))
        return validate_document(AppContract, document, str(path)), document
    except YamlModelError as exc:
        raise SpecError(path, exc.problems) from None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise SpecError(path, [Problem("", None, f"cannot read: {exc.strerror}")]) from None


# --- settings.yaml: Kustomize patches Argo CD applies as they are; the platform reads their sizing ---


def _quantity_text(value: Any) -> Any:
    """YAML reads `cpu: 2` as a number; Kubernetes takes either."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


class _Patch(BaseModel):
    # A patch may set anything else Kubernetes knows; only the sizing is the platform's concern.
    model_config = ConfigDict(extra="ignore", frozen=True, alias_generator=to_camel, populate_by_name=True)


class _Amounts(_Patch):
    cpu: Annotated[Quantity, BeforeValidator(_quantity_text)]
    memory: Annotated[Quantity, BeforeValidator(_quantity_text)]


class _Resources(_Patch):
    requests: _Amounts
    limits: _Amounts


class _Container(_Patch):
    name: str
    resources: _Resources | None = None


class _PodSpec(_Patch):
    containers: list[_Container]


class _Template(_Patch):
    spec: _PodSpec


class _DeploymentSpec(_Patch):
    replicas: Annotated[int, Field(ge=1, le=100)]
    template: _Template


class _Deployment(_Patch):
    spec: _DeploymentSpec


class _AutoscalerSpec(_Patch):
    min_replicas: Annotated[int, Field(ge=1, le=100)]
    max_replicas: Annotated[int, Field(ge=1, le=100)]


class _Autoscaler(_Patch):
    spec: _AutoscalerSpec


_WHY = (
    "this file gives the app's replicas, autoscaling bounds and resources, which also size its "
    "namespace's quota and limit range"
)


def load_settings_file(path: Path, app: str) -> Sizing:
    """The sizing of `app` in one environment, from its overlay's settings.yaml: the Deployment and the
    HorizontalPodAutoscaler named after the app, and the Deployment's container of that name."""
    if not path.is_file():
        raise SpecError(path, [Problem("", None, f"missing: {_WHY}")])
    try:
        return _sizing(load_documents(_read(path), str(path)), str(path), app)
    except YamlModelError as exc:
        raise SpecError(path, exc.problems) from None


def _sizing(documents: list[CommentedMap], where: str, app: str) -> Sizing:
    found = {(d.get("kind"), _name(d)): d for d in documents}
    missing = [kind for kind in ("Deployment", "HorizontalPodAutoscaler") if (kind, app) not in found]
    if missing:
        raise YamlModelError(
            where, [Problem("", None, f"no {kind} named {app!r}: {_WHY}") for kind in missing]
        )
    deployment_doc, autoscaler_doc = found["Deployment", app], found["HorizontalPodAutoscaler", app]
    deployment = validate_document(_Deployment, deployment_doc, where, within=f"Deployment {app}")
    autoscaler = validate_document(
        _Autoscaler, autoscaler_doc, where, within=f"HorizontalPodAutoscaler {app}"
    )

    def problem(document: CommentedMap, loc: list[str], message: str) -> YamlModelError:
        kind = "Deployment" if document is deployment_doc else "HorizontalPodAutoscaler"
        return YamlModelError(
            where, [Problem(f"{kind} {app}: {'.'.join(loc)}", line_of(document, loc), message)]
        )

    containers = deployment.spec.template.spec.containers
    index = next((i for i, c in enumerate(containers) if c.name == app), None)
    if index is None:
        raise problem(
            deployment_doc, ["spec", "template", "spec", "containers"], f"no container named {app!r}: {_WHY}"
        )
    resources = containers[index].resources
    loc = ["spec", "template", "spec", "containers", str(index), "resources"]
    if resources is None:
        raise problem(deployment_doc, loc, f"missing: {_WHY}")
    try:
        container = ContainerSize(
            cpu_request=resources.requests.cpu,
            memory_request=resources.requests.memory,
            cpu_limit=resources.limits.cpu,
            memory_limit=resources.limits.memory,
        )
    except ValidationError as exc:
        raise problem(deployment_doc, loc, _message(exc)) from None
    low, high, replicas = autoscaler.spec.min_replicas, autoscaler.spec.max_replicas, deployment.spec.replicas
    if low > high:
        raise problem(autoscaler_doc, ["spec", "minReplicas"], f"{low} is above maxReplicas {high}")
    if not low <= replicas <= high:
        raise problem(
            deployment_doc,
            ["spec", "replicas"],
            f"{replicas} is outside the autoscaler's bounds {low}..{high}",
        )
    return Sizing(replicas=replicas, min_replicas=low, max_replicas=high, container=container)


def _name(document: CommentedMap) -> str | None:
    metadata = document.get("metadata")
    return metadata.get("name") if isinstance(metadata, dict) else None


def _message(exc: ValidationError) -> str:
    return "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
