"""The platform program points Argo CD at the loop's git server only when asked, and only at loopback."""

from __future__ import annotations

import pytest
from meridian_infra import argocd
from meridian_infra.spec import EnvironmentSpec, load_environment
from support.local_cluster import REPO_ROOT

SERVED = "git://127.0.0.1:19418/meridian.git"


@pytest.fixture
def dev() -> EnvironmentSpec:
    return load_environment(REPO_ROOT / "environments", "dev")


def test_without_the_variable_argocd_reads_the_spec_repository(
    dev: EnvironmentSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(argocd.REPO_URL_ENV, raising=False)
    generator = argocd.application_set(dev)["spec"]["generators"][0]["git"]
    assert generator["repoURL"] == dev.argocd.repo_url == "https://github.com/meridian-platform/meridian.git"


def test_a_loopback_url_replaces_the_repository_everywhere_argocd_reads_it(
    dev: EnvironmentSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(argocd.REPO_URL_ENV, SERVED)
    appset = argocd.application_set(dev)["spec"]
    assert appset["generators"][0]["git"]["repoURL"] == SERVED
    assert appset["template"]["spec"]["source"]["repoURL"] == SERVED
    assert argocd.app_project(dev)["spec"]["sourceRepos"] == [SERVED]


@pytest.mark.parametrize("url", ["https://git.example.com/meridian.git", "git://10.0.0.5/meridian.git"])
def test_a_url_off_loopback_is_refused_naming_the_variable(
    dev: EnvironmentSpec, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv(argocd.REPO_URL_ENV, url)
    with pytest.raises(ValueError, match=f"{argocd.REPO_URL_ENV}={url}: only a repository on loopback"):
        argocd.application_set(dev)
