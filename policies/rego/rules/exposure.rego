# Services stay inside the cluster unless there is a reason: traffic comes in through the ingress
# controller, and over TLS.
package meridian.rules.exposure

import data.meridian.lib

violation contains lib.violation(e, "MER-NET-001", msg) if {
	some e in lib.entries
	e.obj.kind == "Service"
	e.obj.spec.type == "NodePort"
	msg := "opens a port on every node (type NodePort); use ClusterIP behind an Ingress"
}

violation contains lib.violation(e, "MER-NET-002", msg) if {
	some e in lib.entries
	e.obj.kind == "Service"
	e.obj.spec.type == "LoadBalancer"
	msg := "gets a load balancer of its own (type LoadBalancer); use ClusterIP behind an Ingress unless it is the ingress controller"
}

violation contains lib.violation(e, "MER-NET-003", msg) if {
	some e in lib.entries
	e.obj.kind == "Ingress"
	count(object.get(e.obj.spec, "tls", [])) == 0
	msg := "serves plain HTTP; add spec.tls with a secretName for its hosts"
}

violation contains lib.violation(e, "MER-NET-003", msg) if {
	some e in lib.entries
	e.obj.kind == "Ingress"
	count(object.get(e.obj.spec, "tls", [])) > 0
	covered := {host | some t in e.obj.spec.tls; some host in object.get(t, "hosts", [])}
	some rule in object.get(e.obj.spec, "rules", [])
	rule.host
	not rule.host in covered
	msg := sprintf("serves host %s without TLS; add it to spec.tls[].hosts", [rule.host])
}
