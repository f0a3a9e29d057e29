"""The local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
as plain processes on this machine, with fake nodes, so the platform program and `meridian validate`
have a real API server to talk to where no container runtime exists.

docs/local-cluster.md explains how it works; `meridian cluster up|down|status --local` drive it.
"""

from meridian.cluster.layout import ClusterDir, Ports, cluster_dir
from meridian.cluster.manager import LocalCluster

__all__ = ["ClusterDir", "LocalCluster", "Ports", "cluster_dir"]
