"""Vault: the Helm release (release.py) with its certificates outside dev (certificates.py), and
what Vault holds, declared object by object through hvac (configuration.py, objects.py, policies.py),
reached with the stack's settings (settings.py)."""
