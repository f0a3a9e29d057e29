# What the gate knows of the environment beyond the files under test.
#
# When a few manifests are checked for an environment (`policy check FILE --env prod`), the gate
# passes the environment's own platform objects (namespaces and their NetworkPolicies, as the
# Pulumi program renders them) as data.meridian.context, so rules about isolation judge a workload
# with the policies that will surround it. When a whole rendered environment is checked, the
# context is empty: everything is already in view. Without any context (plain conftest, or files
# checked for no environment) those rules only judge namespaces whose Namespace object is in view.
package meridian.lib

context_objects := data.meridian.context if {
	is_array(data.meridian.context)
} else := []

# The gate said what the environment holds: every namespace it names is the whole truth.
has_context if is_array(data.meridian.context)

# Objects under test and context objects together, for rules that look across the environment.
environment_objects := array.concat([e.obj | some e in entries], context_objects)

namespace_objects := [obj | some obj in environment_objects; obj.kind == "Namespace"]

# [namespace, direction] pairs covered by a policy that selects every pod, governs the direction
# and allows nothing in it.
denied_by_default contains [namespace(obj), direction] if {
	some obj in environment_objects
	obj.kind == "NetworkPolicy"
	spec := obj.spec
	some direction in ["Ingress", "Egress"]
	count(object.get(spec, ["podSelector", "matchLabels"], {})) == 0
	count(object.get(spec, ["podSelector", "matchExpressions"], [])) == 0
	direction in object.get(spec, "policyTypes", [])
	count(object.get(spec, lower(direction), [])) == 0
}
