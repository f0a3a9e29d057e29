# Long-running workloads must tell Kubernetes when they can take traffic and when to restart them.
# Jobs and bare Pods are left out: they run to completion.
package meridian.rules.probes

import data.meridian.lib

_containers := [[e, c] |
	some e in lib.workloads
	e.obj.kind in lib.service_kinds
	some c in lib.app_containers(lib.pod_spec(e.obj))
]

violation contains lib.violation(e, "MER-PRB-001", msg) if {
	some [e, c] in _containers
	not c.readinessProbe
	msg := sprintf("container %q has no readiness probe; add readinessProbe (grpc, httpGet or tcpSocket)", [c.name])
}

violation contains lib.violation(e, "MER-PRB-002", msg) if {
	some [e, c] in _containers
	not c.livenessProbe
	msg := sprintf("container %q has no liveness probe; add livenessProbe (grpc, httpGet or tcpSocket)", [c.name])
}
