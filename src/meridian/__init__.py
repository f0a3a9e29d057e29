"""Meridian: a GitOps repository's own command line (render, policy, promote, status, cluster)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("meridian")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
