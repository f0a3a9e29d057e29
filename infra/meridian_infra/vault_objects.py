"""The Vault object providers under their first module path.

Pulumi pickles a dynamic provider by reference to its class, so a stack last updated before the
providers moved to meridian_infra.vault.objects names them here in its state; `pulumi refresh` and
the deletes of such a stack load them from this path. Every `pulumi up` records the new path.
"""

from meridian_infra.vault.objects import (
    AuthMountProvider,
    DatabaseConnectionProvider,
    DatabaseRoleProvider,
    KubernetesAuthConfigProvider,
    KubernetesAuthRoleProvider,
    PolicyProvider,
    SecretsMountProvider,
)

__all__ = [
    "AuthMountProvider",
    "DatabaseConnectionProvider",
    "DatabaseRoleProvider",
    "KubernetesAuthConfigProvider",
    "KubernetesAuthRoleProvider",
    "PolicyProvider",
    "SecretsMountProvider",
]
