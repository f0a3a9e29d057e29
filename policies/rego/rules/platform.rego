# Rules over the platform the Pulumi program declares (build/ENV/platform/): every app namespace
# is fenced in by a quota, default limits and a default-deny network policy; every Helm release
# names an exact chart version; production components run more than one replica.
package meridian.rules.platform

import data.meridian.lib

_app_namespaces := [e |
	some e in lib.entries
	e.obj.kind == "Namespace"
	lib.labels(e.obj)["meridian.dev/tier"] == "app"
]

# Namespaces that hold a quota, a limit range: computed once, not once per namespace.
_quota_namespaces := {lib.namespace(e.obj) | some e in lib.entries; e.obj.kind == "ResourceQuota"}

_limit_namespaces := {lib.namespace(e.obj) | some e in lib.entries; e.obj.kind == "LimitRange"}

violation contains lib.violation(e, "MER-PLT-001", msg) if {
	some e in _app_namespaces
	not lib.name(e.obj) in _quota_namespaces
	msg := "has no ResourceQuota; declare one for the namespace in its environment's platform.yaml"
}

violation contains lib.violation(e, "MER-PLT-002", msg) if {
	some e in _app_namespaces
	not lib.name(e.obj) in _limit_namespaces
	msg := "has no LimitRange; declare default requests and limits for the namespace in its environment's platform.yaml"
}

violation contains lib.violation(e, "MER-PLT-003", msg) if {
	some e in _app_namespaces
	some direction in ["Ingress", "Egress"]
	not [lib.name(e.obj), direction] in lib.denied_by_default
	msg := sprintf("has no default-deny NetworkPolicy for %s; add one with podSelector: {}, policyTypes: [Ingress, Egress] and no rules", [direction])
}

_helm_releases := [e |
	some e in lib.entries
	e.obj.kind == "HelmRelease"
	startswith(e.obj.apiVersion, "meridian.dev/")
]

# An exact SemVer version: no ranges (^1.2, ~1, >=1, 1.x, *), no "latest", nothing empty.
_exact_version := `^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`

violation contains lib.violation(e, "MER-PLT-004", msg) if {
	some e in _helm_releases
	version := object.get(e.obj, ["spec", "version"], "")
	not _pinned(version)
	msg := sprintf("installs chart %v at version %q; pin an exact chart version (e.g. 1.2.3)", [object.get(e.obj, ["spec", "chart"], "?"), version])
}

_pinned(version) if {
	is_string(version)
	regex.match(_exact_version, version)
}

# Chart values spell HA differently; these are the spellings of the charts the platform installs
# (replicas, replicaCount, ha.enabled), wherever they sit in the values tree. Zero replicas turns
# a component off, which is not a single point of failure, so only exactly one counts.
violation contains lib.violation(e, "MER-PLT-005", msg) if {
	lib.is_prod
	some e in _helm_releases
	walk(object.get(e.obj, ["spec", "values"], {}), [path, value])
	count(path) > 0
	path[count(path) - 1] in {"replicas", "replicaCount"}
	value == 1
	msg := sprintf("runs one replica in prod (values.%s: 1); set it to 2 or more", [_path(path)])
}

violation contains lib.violation(e, "MER-PLT-005", msg) if {
	lib.is_prod
	some e in _helm_releases
	walk(object.get(e.obj, ["spec", "values"], {}), [path, value])
	count(path) > 1
	path[count(path) - 2] == "ha"
	path[count(path) - 1] == "enabled"
	value == false
	msg := sprintf("turns HA off in prod (values.%s: false); set it to true", [_path(path)])
}

# Vault holds every credential the apps get; outside dev, it must speak TLS to its clients and to
# its own peers. The chart's default (global.tlsDisable: true) points the injector and every agent
# at http://, and a `tls_disable` listener or an http:// join address sends tokens in the clear.
_vault_releases := [e |
	some e in _helm_releases
	object.get(e.obj, ["spec", "chart"], "") == "vault"
]

_beyond_dev if not lib.environment in {"", "dev"}

_vault_values := [[e, object.get(e.obj, ["spec", "values"], {})] |
	_beyond_dev
	some e in _vault_releases
]

violation contains lib.violation(e, "MER-PLT-006", msg) if {
	some [e, values] in _vault_values
	object.get(values, ["server", "dev", "enabled"], false) == true
	msg := sprintf("runs Vault in dev mode in %s (server.dev.enabled: in memory, plain HTTP); run HA on Raft with TLS", [lib.environment])
}

violation contains lib.violation(e, "MER-PLT-006", msg) if {
	some [e, values] in _vault_values
	object.get(values, ["global", "tlsDisable"], true) != false
	msg := sprintf("serves Vault over plain HTTP in %s: global.tlsDisable is not false (the chart's default, true, points the injector and every agent at http://); set global.tlsDisable: false", [lib.environment])
}

violation contains lib.violation(e, "MER-PLT-006", msg) if {
	some [e, values] in _vault_values
	walk(values, [path, value])
	is_string(value)
	regex.match(`(?m)^\s*tls_disable\s*=\s*"?(1|true)"?\s*$`, value)
	msg := sprintf("serves Vault over plain HTTP in %s: values.%s disables TLS on a listener (tls_disable); give the listener tls_cert_file and tls_key_file", [lib.environment, _path(path)])
}

violation contains lib.violation(e, "MER-PLT-006", msg) if {
	some [e, values] in _vault_values
	walk(values, [path, value])
	is_string(value)
	contains(value, "http://")
	msg := sprintf("serves Vault over plain HTTP in %s: values.%s names an http:// address; peers and clients use https://", [lib.environment, _path(path)])
}

_path(path) := concat(".", [sprintf("%v", [p]) | some p in path])

# Clients outside dev must not be pointed at Vault over plain HTTP either.
violation contains lib.violation(e, "MER-PLT-006", msg) if {
	_beyond_dev
	some e in lib.workloads
	some c in lib.all_containers(lib.pod_spec(e.obj))
	some env in object.get(c.container, "env", [])
	env.name == "VAULT_ADDR"
	startswith(object.get(env, "value", ""), "http://")
	msg := sprintf("%s reaches Vault at %s in %s; use the https:// address", [lib.container_label(c), env.value, lib.environment])
}

violation contains lib.violation(e, "MER-PLT-006", msg) if {
	_beyond_dev
	some e in lib.workloads
	address := object.get(lib.pod_metadata(e.obj), ["annotations", "vault.hashicorp.com/service"], "")
	startswith(address, "http://")
	msg := sprintf("points its Vault Agent at %s in %s (annotation vault.hashicorp.com/service); use the https:// address", [address, lib.environment])
}

# An agent that does not verify the server hands its service-account token to whoever answers.
_injected(e) if object.get(lib.pod_metadata(e.obj), ["annotations", "vault.hashicorp.com/agent-inject"], "") == "true"

violation contains lib.violation(e, "MER-PLT-006", msg) if {
	_beyond_dev
	some e in lib.workloads
	_injected(e)
	object.get(lib.pod_metadata(e.obj), ["annotations", "vault.hashicorp.com/ca-cert"], "") == ""
	msg := sprintf("has a Vault Agent that does not verify Vault's certificate in %s; set the annotations vault.hashicorp.com/tls-secret: vault-ca and vault.hashicorp.com/ca-cert: /vault/tls/ca.crt", [lib.environment])
}

violation contains lib.violation(e, "MER-PLT-006", msg) if {
	_beyond_dev
	some e in lib.workloads
	_injected(e)
	object.get(lib.pod_metadata(e.obj), ["annotations", "vault.hashicorp.com/tls-skip-verify"], "") == "true"
	msg := sprintf("has a Vault Agent that skips verifying Vault's certificate in %s (vault.hashicorp.com/tls-skip-verify); remove it and give vault.hashicorp.com/ca-cert", [lib.environment])
}
