# RBAC least privilege: name what may be done to what, never grant cluster-admin, and give every
# workload a service account of its own.
package meridian.rules.rbac

import data.meridian.lib

_role_kinds := {"Role", "ClusterRole"}

_binding_kinds := {"RoleBinding", "ClusterRoleBinding"}

violation contains lib.violation(e, "MER-RBAC-001", msg) if {
	some e in lib.entries
	e.obj.kind in _role_kinds
	some i, rule in object.get(e.obj, "rules", [])
	some field in ["apiGroups", "resources", "verbs", "nonResourceURLs"]
	"*" in object.get(rule, field, [])
	msg := sprintf("rules[%d].%s contains \"*\"; list the %s the role needs", [i, field, field])
}

violation contains lib.violation(e, "MER-RBAC-002", msg) if {
	some e in lib.entries
	e.obj.kind in _binding_kinds
	e.obj.roleRef.kind == "ClusterRole"
	e.obj.roleRef.name == "cluster-admin"
	msg := "grants cluster-admin; bind a role limited to what the subjects need"
}

# The namespace's default service account is shared by every pod that names none, so whatever
# it is granted, they all get. Without a mounted token it grants nothing.
violation contains lib.violation(e, "MER-RBAC-003", msg) if {
	some e in lib.workloads
	spec := lib.pod_spec(e.obj)
	object.get(spec, "serviceAccountName", "default") == "default"
	object.get(spec, "automountServiceAccountToken", true) != false
	msg := "runs as the default service account with its token mounted; set serviceAccountName to a dedicated ServiceAccount (or automountServiceAccountToken: false)"
}

violation contains lib.violation(e, "MER-RBAC-004", msg) if {
	some e in lib.entries
	e.obj.kind in _binding_kinds
	some subject in object.get(e.obj, "subjects", [])
	subject.kind == "ServiceAccount"
	subject.name == "default"
	msg := sprintf("binds %s to the default service account of namespace %q; bind a dedicated ServiceAccount", [e.obj.roleRef.name, object.get(subject, "namespace", lib.namespace(e.obj))])
}
