# Requests let the scheduler place pods and the namespace quota count them; a memory limit keeps
# one pod from starving its node. CPU limits throttle, so their absence is only a warning.
package meridian.rules.resources

import data.meridian.lib

_containers := [[e, c] |
	some e in lib.workloads
	some c in lib.all_containers(lib.pod_spec(e.obj))
	c.field != "ephemeralContainers"
]

_resources(c) := object.get(c.container, "resources", {})

violation contains lib.violation(e, "MER-RES-001", msg) if {
	some [e, c] in _containers
	some resource in ["cpu", "memory"]
	not _resources(c).requests[resource]
	msg := sprintf("%s requests no %s; set resources.requests.%s", [lib.container_label(c), resource, resource])
}

violation contains lib.violation(e, "MER-RES-002", msg) if {
	some [e, c] in _containers
	not _resources(c).limits.memory
	msg := sprintf("%s has no memory limit; set resources.limits.memory", [lib.container_label(c)])
}

violation contains lib.violation(e, "MER-RES-003", msg) if {
	some [e, c] in _containers
	not _resources(c).limits.cpu
	msg := sprintf("%s has no CPU limit; set resources.limits.cpu", [lib.container_label(c)])
}
