"""The policy gate: Rego policies (conftest), checkov and the secret scanner over Kubernetes manifests.

`meridian.policy.gate` is the one entry point: the `policy check` command, promotions and the
benchmarks all call it, so they judge manifests the same way.
"""
