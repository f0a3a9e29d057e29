# Namespaces carry their Pod Security level, app namespaces the strictest one, and nothing runs in
# `default`, which has neither quota nor policies.
package meridian.rules.namespaces

import data.meridian.lib

_enforce := "pod-security.kubernetes.io/enforce"

_pod_security_labels(obj) := {key | some key, _ in lib.labels(obj); startswith(key, "pod-security.kubernetes.io/")}

_levels := {"privileged", "baseline", "restricted"}

violation contains lib.violation(e, "MER-NS-001", msg) if {
	some e in lib.entries
	e.obj.kind == "Namespace"
	count(_pod_security_labels(e.obj)) == 0
	msg := sprintf("has no Pod Security level; add label %s: restricted (baseline for platform namespaces that need it)", [_enforce])
}

# audit and warn only report: without enforce, Pod Security admission lets every pod in.
violation contains lib.violation(e, "MER-NS-004", msg) if {
	some e in lib.entries
	e.obj.kind == "Namespace"
	labels := _pod_security_labels(e.obj)
	count(labels) > 0
	not lib.labels(e.obj)[_enforce]
	msg := sprintf("has Pod Security labels (%s) but no %s, so nothing is enforced; add %s: restricted", [concat(", ", sort(labels)), _enforce, _enforce])
}

violation contains lib.violation(e, "MER-NS-004", msg) if {
	some e in lib.entries
	e.obj.kind == "Namespace"
	level := lib.labels(e.obj)[_enforce]
	not level in _levels
	msg := sprintf("enforces %q, which is no Pod Security level; use one of %s", [level, concat(", ", sort(_levels))])
}

violation contains lib.violation(e, "MER-NS-002", msg) if {
	some e in lib.entries
	e.obj.kind == "Namespace"
	lib.labels(e.obj)["meridian.dev/tier"] == "app"
	level := lib.labels(e.obj)[_enforce]
	level != "restricted"
	level in _levels
	msg := sprintf("is an app namespace enforcing %q; set label %s: restricted", [level, _enforce])
}

violation contains lib.violation(e, "MER-NS-003", msg) if {
	some e in lib.entries
	lib.namespace(e.obj) == "default"
	msg := "lives in the default namespace; move it to the app's namespace (kustomization `namespace:`)"
}

# A workload without a namespace lands wherever it is applied, which is `default` unless told
# otherwise: rendered manifests must say where they go.
violation contains lib.violation(e, "MER-NS-003", msg) if {
	some e in lib.workloads
	lib.namespace(e.obj) == ""
	msg := "has no namespace and would land in default; set metadata.namespace (kustomization `namespace:`)"
}
