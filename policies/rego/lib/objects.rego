# The objects under test and the parts of them that many rules look at.
#
# The gate runs conftest with --combine, so `input` is a list of {path, contents} with one entry per
# YAML document; a plain `conftest test` without --combine hands over one object at a time. Both
# shapes are accepted so the policies also work when someone runs conftest by hand.
package meridian.lib

# Every Kubernetes object, with the file it came from. An array, not a set: objects are large and
# hashing them for set membership would cost more than the rules themselves.
entries := [{"file": doc.path, "obj": obj} |
	is_array(input)
	some doc in input
	some obj in _objects(doc.contents)
] if {
	is_array(input)
} else := [{"file": "", "obj": obj} | some obj in _objects(input)]

# A `kind: List` (kubectl get -o yaml) wraps its objects; everything else is one object.
_objects(contents) := contents.items if {
	contents.kind == "List"
	is_array(contents.items)
} else := [contents] if {
	is_object(contents)
	is_string(contents.kind)
} else := []

kind(obj) := obj.kind

name(obj) := object.get(obj, ["metadata", "name"], "<unnamed>")

namespace(obj) := object.get(obj, ["metadata", "namespace"], "")

labels(obj) := object.get(obj, ["metadata", "labels"], {})

annotations(obj) := object.get(obj, ["metadata", "annotations"], {})

# "Deployment shop/orders", or "ClusterRole reader" for objects without a namespace.
display(obj) := sprintf("%s %s/%s", [kind(obj), namespace(obj), name(obj)]) if {
	namespace(obj) != ""
} else := sprintf("%s %s", [kind(obj), name(obj)])

# The environment the objects are rendered for, passed by the gate as conftest data; empty when
# plain files are checked, and then environment-specific rules stay silent.
environment := data.meridian.environment if {
	is_string(data.meridian.environment)
} else := ""

is_prod if environment == "prod"

# Kinds that carry a pod template, and where it sits.
pod_spec(obj) := obj.spec if {
	obj.kind == "Pod"
} else := obj.spec.jobTemplate.spec.template.spec if {
	obj.kind == "CronJob"
} else := obj.spec.template.spec if {
	obj.kind in template_kinds
}

pod_metadata(obj) := object.get(obj, "metadata", {}) if {
	obj.kind == "Pod"
} else := object.get(obj.spec.jobTemplate.spec.template, "metadata", {}) if {
	obj.kind == "CronJob"
} else := object.get(obj.spec.template, "metadata", {}) if {
	obj.kind in template_kinds
}

template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}

# Long-running workloads: the ones that need probes and, in production, replicas and budgets.
service_kinds := {"Deployment", "StatefulSet", "DaemonSet"}

workloads := [e | some e in entries; pod_spec(e.obj)]

# Every container of a pod spec, init and ephemeral ones included, with the field it came from.
all_containers(spec) := [{"container": c, "field": field} |
	some field in ["initContainers", "containers", "ephemeralContainers"]
	some c in object.get(spec, field, [])
]

# The containers that serve traffic (no init or ephemeral containers).
app_containers(spec) := object.get(spec, "containers", [])

# `container "app"` or `init container "migrate"`, for messages.
container_label(c) := sprintf("container %q", [c.container.name]) if {
	c.field == "containers"
} else := sprintf("init container %q", [c.container.name]) if {
	c.field == "initContainers"
} else := sprintf("ephemeral container %q", [c.container.name])

# A violation as the rules report it; main.rego adds severity, reference and exemptions.
violation(entry, rule, msg) := {
	"rule": rule,
	"msg": sprintf("%s: %s", [display(entry.obj), msg]),
	"file": entry.file,
	"kind": kind(entry.obj),
	"namespace": namespace(entry.obj),
	"name": name(entry.obj),
	"exempt": _exempt_flag(entry.obj, rule),
}

_exempt_flag(obj, rule) if {
	exempted(obj, rule)
} else := false
