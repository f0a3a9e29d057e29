# Namespaces carry their Pod Security level, app namespaces the strictest one, and nothing runs in
# `default`, which has neither quota nor policies.
package meridian.rules.namespaces

import data.meridian.lib

_enforce := "pod-security.kubernetes.io/enforce"

violation contains lib.violation(e, "MER-NS-001", msg) if {
	some e in lib.entries
	e.obj.kind == "Namespace"
	not lib.labels(e.obj)[_enforce]
	msg := sprintf("has no Pod Security level; add label %s: restricted (baseline for platform namespaces that need it)", [_enforce])
}

violation contains lib.violation(e, "MER-NS-002", msg) if {
	some e in lib.entries
	e.obj.kind == "Namespace"
	lib.labels(e.obj)["meridian.dev/tier"] == "app"
	level := lib.labels(e.obj)[_enforce]
	level != "restricted"
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
