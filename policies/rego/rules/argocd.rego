# Argo CD's `default` project lets an Application deploy anything anywhere; Meridian's AppProjects
# restrict sources, destinations and kinds, and each environment's Applications stay inside it.
package meridian.rules.argocd

import data.meridian.lib

_is_argo(obj) if startswith(obj.apiVersion, "argoproj.io/")

_argo(kind) := [e |
	some e in lib.entries
	e.obj.kind == kind
	_is_argo(e.obj)
]

violation contains lib.violation(e, "MER-ARGO-001", msg) if {
	some e in _argo("Application")
	object.get(e.obj, ["spec", "project"], "default") == "default"
	msg := "belongs to the default project; set spec.project to the team's AppProject"
}

violation contains lib.violation(e, "MER-ARGO-001", msg) if {
	some e in _argo("ApplicationSet")
	object.get(e.obj, ["spec", "template", "spec", "project"], "default") == "default"
	msg := "generates Applications in the default project; set spec.template.spec.project to the team's AppProject"
}

# --- MER-ARGO-002: an Application stays inside its environment --------------------------------

# An Application's environment: its own label, else the one the gate checks.
_environment_of(obj) := env if {
	env := lib.labels(obj)["meridian.dev/environment"]
} else := lib.environment

# The app namespaces of an environment among the namespaces in view (and in the gate's context).
# A namespace without an environment label counts for any environment; one without a tier label
# counts as an app namespace.
_app_namespaces_of(env) := {lib.name(ns) |
	some ns in lib.namespace_objects
	object.get(lib.labels(ns), "meridian.dev/environment", env) == env
	object.get(lib.labels(ns), "meridian.dev/tier", "app") == "app"
}

_templated(s) if contains(s, "{{")

_applications := [[e, spec] | some e in _argo("Application"); spec := object.get(e.obj, "spec", {})]

_application_sets := [[e, spec] | some e in _argo("ApplicationSet"); spec := object.get(e.obj, ["spec", "template", "spec"], {})]

violation contains lib.violation(e, "MER-ARGO-002", msg) if {
	some [e, spec] in array.concat(_applications, _application_sets)
	env := _environment_of(e.obj)
	env != ""
	namespaces := _app_namespaces_of(env)
	count(namespaces) > 0 # nothing shown about the environment: nothing to judge against
	target := object.get(spec, ["destination", "namespace"], "")
	is_string(target)
	not _templated(target)
	not target in namespaces
	msg := sprintf("deploys into namespace %q, which is no app namespace of %s (%s); set spec.destination.namespace to one of them", [target, env, concat(", ", sort(namespaces))])
}

violation contains lib.violation(e, "MER-ARGO-002", msg) if {
	some [e, spec] in array.concat(_applications, _application_sets)
	env := _environment_of(e.obj)
	env != ""
	path := object.get(spec, ["source", "path"], "")
	is_string(path)
	parts := split(trim_left(path, "./"), "/")
	parts[0] == "environments"
	count(parts) > 1
	not _templated(parts[1])
	parts[1] != env
	msg := sprintf("syncs %s, which belongs to environment %s, into %s; point spec.source.path at environments/%s/", [path, parts[1], env, env])
}

# --- MER-ARGO-003: an AppProject that allows everything -------------------------------------------

_projects := _argo("AppProject")

_project_specs := [[e, object.get(e.obj, "spec", {})] | some e in _projects]

violation contains lib.violation(e, "MER-ARGO-003", msg) if {
	some [e, spec] in _project_specs
	"*" in object.get(spec, "sourceRepos", [])
	msg := "allows everything: sourceRepos contains \"*\" (any repository); list the repositories its apps come from"
}

violation contains lib.violation(e, "MER-ARGO-003", msg) if {
	some [e, spec] in _project_specs
	some i, d in object.get(spec, "destinations", [])
	some field in ["namespace", "server", "name"]
	object.get(d, field, "") == "*"
	msg := sprintf("allows everything: destinations[%d].%s is \"*\"; list the cluster and the namespaces its apps deploy to", [i, field])
}

violation contains lib.violation(e, "MER-ARGO-003", msg) if {
	some [e, spec] in _project_specs
	some i, r in object.get(spec, "clusterResourceWhitelist", [])
	some field in ["group", "kind"]
	object.get(r, field, "") == "*"
	msg := sprintf("allows everything: clusterResourceWhitelist[%d].%s is \"*\" (any cluster-scoped kind); leave clusterResourceWhitelist empty or name the kinds", [i, field])
}

# --- MER-ARGO-004: an AppProject reserves the kinds the platform owns ------------------------------

violation contains lib.violation(e, "MER-ARGO-004", msg) if {
	some [e, spec] in _project_specs
	missing := [_kind_name(k) | some k in lib.reserved_kinds; not _reserved(spec, k)]
	count(missing) > 0
	msg := sprintf("lets its apps create or change %s, which the platform owns; add them to spec.namespaceResourceBlacklist", [concat(", ", missing)])
}

_kind_name(k) := k.kind if k.group == ""

else := sprintf("%s.%s", [k.kind, k.group])

_covers(entry, k) if {
	object.get(entry, "group", "") in {k.group, "*"}
	object.get(entry, "kind", "") in {k.kind, "*"}
}

_reserved(spec, k) if {
	some entry in object.get(spec, "namespaceResourceBlacklist", [])
	_covers(entry, k)
}

# A whitelist reserves what it leaves out.
_reserved(spec, k) if {
	is_array(spec.namespaceResourceWhitelist)
	not _whitelisted(spec, k)
}

_whitelisted(spec, k) if {
	some entry in spec.namespaceResourceWhitelist
	_covers(entry, k)
}
