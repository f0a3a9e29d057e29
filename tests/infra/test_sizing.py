"""Quota and limit-range sizing from t-shirt sizes, and the quantity arithmetic under it."""

from fractions import Fraction

import pytest
from meridian_core import quantity
from meridian_infra import sizing
from meridian_infra.spec.models import ContainerSize

SMALL = ContainerSize(cpu_request="100m", memory_request="128Mi", cpu_limit="500m", memory_limit="256Mi")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Fraction(1, 2)),
        ("2", Fraction(2)),
        ("1.5", Fraction(3, 2)),
        ("256Mi", Fraction(256 * 2**20)),
        ("1Gi", Fraction(2**30)),
        ("1G", Fraction(10**9)),
    ],
)
def test_quantities_parse_exactly(text, value):
    assert quantity.parse(text) == value


@pytest.mark.parametrize("text", ["", "1.2.3", "-1", "64 MB", "1gi", "m"])
def test_malformed_quantities_are_refused(text):
    assert not quantity.is_quantity(text)
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        quantity.parse(text)


@pytest.mark.parametrize(("replicas", "pods"), [(1, 2), (2, 3), (4, 5), (10, 13)])
def test_peak_pods_include_a_rolling_update_surge(replicas, pods):
    assert sizing.pods_at_peak(replicas) == pods


def test_app_quota_is_size_times_peak_pods():
    assert sizing.app_quota(SMALL, max_replicas=2) == {
        "pods": "3",
        "requests.cpu": "300m",
        "requests.memory": "384Mi",
        "limits.cpu": "1500m",
        "limits.memory": "768Mi",
    }


def test_app_quota_counts_each_pods_sidecar():
    sidecar = ContainerSize(cpu_request="50m", memory_request="64Mi", cpu_limit="100m", memory_limit="128Mi")
    hard = sizing.app_quota(SMALL, max_replicas=4, sidecar=sidecar)
    assert hard["pods"] == "5"
    assert hard["requests.cpu"] == "750m"  # (100m + 50m) x 5
    assert hard["limits.memory"] == "1920Mi"  # (256Mi + 128Mi) x 5


def test_whole_cores_stay_whole():
    size = ContainerSize(cpu_request="1", memory_request="1Gi", cpu_limit="2", memory_limit="2Gi")
    hard = sizing.app_quota(size, max_replicas=3)
    assert hard["requests.cpu"] == "4" and hard["limits.memory"] == "8Gi"


def test_limit_range_defaults_and_caps_containers_at_the_size():
    limits = sizing.container_limits(SMALL)
    assert limits["defaultRequest"] == {"cpu": "100m", "memory": "128Mi"}
    assert limits["default"] == limits["max"] == {"cpu": "500m", "memory": "256Mi"}
