"""The ports one base gives the control plane, the GitOps loop and the admission webhook: fourteen
consecutive ports, each part's own, and the defaults when no base is set."""

from __future__ import annotations

from dataclasses import fields

import pytest
from meridian_core.errors import InputError

from meridian.cluster.gitops_components import GitOpsPorts
from meridian.cluster.layout import PORT_BASE_ENV, Ports

BLOCKS = (Ports, GitOpsPorts)


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.__name__)
def test_every_port_has_one_offset_and_one_default(block: type[Ports] | type[GitOpsPorts]):
    assert len(block.OFFSETS) == len(block.DEFAULTS) == len(fields(block))


def test_a_base_gives_fourteen_consecutive_ports_and_no_port_twice(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(PORT_BASE_ENV, "30000")
    taken = [port for block in BLOCKS for port in block.from_env().by_use().values()]
    assert sorted(taken) == list(range(30000, 30014))
    assert Ports.from_env().apiserver == 30000
    assert Ports.from_env().admission == 30013
    assert GitOpsPorts.from_env().redis == 30005


def test_without_a_base_each_part_keeps_the_ports_it_was_proven_on(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(PORT_BASE_ENV, raising=False)
    assert Ports.from_env().apiserver == 16443
    assert GitOpsPorts.from_env().repo_url == "git://127.0.0.1:19418/meridian.git"
    defaults = [port for block in BLOCKS for port in block.from_env().by_use().values()]
    assert len(set(defaults)) == len(defaults)


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.__name__)
@pytest.mark.parametrize("raw", ["80", "65530", "abc"])
def test_a_base_out_of_range_is_refused_by_every_part(
    monkeypatch: pytest.MonkeyPatch, block: type[Ports] | type[GitOpsPorts], raw: str
):
    monkeypatch.setenv(PORT_BASE_ENV, raw)
    with pytest.raises(InputError, match=PORT_BASE_ENV):
        block.from_env()
