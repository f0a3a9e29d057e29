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
	not [lib.name(e.obj), direction] in _denied_by_default
	msg := sprintf("has no default-deny NetworkPolicy for %s; add one with podSelector: {}, policyTypes: [Ingress, Egress] and no rules", [direction])
}

# [namespace, direction] pairs covered by a policy that selects every pod, governs the direction
# and allows nothing in it.
_denied_by_default contains [lib.namespace(e.obj), direction] if {
	some e in lib.entries
	e.obj.kind == "NetworkPolicy"
	spec := e.obj.spec
	some direction in ["Ingress", "Egress"]
	count(object.get(spec, ["podSelector", "matchLabels"], {})) == 0
	count(object.get(spec, ["podSelector", "matchExpressions"], [])) == 0
	direction in object.get(spec, "policyTypes", [])
	count(object.get(spec, lower(direction), [])) == 0
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
	msg := sprintf("runs one replica in prod (values.%s: 1); set it to 2 or more", [concat(".", [sprintf("%v", [p]) | some p in path])])
}

violation contains lib.violation(e, "MER-PLT-005", msg) if {
	lib.is_prod
	some e in _helm_releases
	walk(object.get(e.obj, ["spec", "values"], {}), [path, value])
	count(path) > 1
	path[count(path) - 2] == "ha"
	path[count(path) - 1] == "enabled"
	value == false
	msg := sprintf("turns HA off in prod (values.%s: false); set it to true", [concat(".", [sprintf("%v", [p]) | some p in path])])
}
