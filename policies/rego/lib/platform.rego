# What the platform (Pulumi) owns inside app namespaces, so no app's manifests may create or change
# it: the fences of the namespace. An AppProject must reserve every one of these kinds.
#
# The list is data, not code: `--data` with {"meridian": {"reserved_kinds": [{group, kind}, …]}}
# replaces it (a fork whose platform owns more kinds adds them there).
package meridian.lib

default_reserved_kinds := [
	{"group": "networking.k8s.io", "kind": "NetworkPolicy"},
	{"group": "", "kind": "ResourceQuota"},
	{"group": "", "kind": "LimitRange"},
]

reserved_kinds := data.meridian.reserved_kinds if {
	is_array(data.meridian.reserved_kinds)
} else := default_reserved_kinds
