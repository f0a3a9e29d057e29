# Network isolation: every pod runs behind its namespace's default-deny, and no policy opens the
# way to any host on the ports of HTTPS and the Kubernetes API (an exfiltration path, and a way to
# reach another cluster's API server).
package meridian.rules.network

import data.meridian.lib

# --- MER-NET-004: egress to any address on 443 or 6443 ----------------------------------------------

_any_address := {"0.0.0.0/0", "::/0"}

_api_ports := [443, 6443]

violation contains lib.violation(e, "MER-NET-004", msg) if {
	some e in lib.entries
	e.obj.kind == "NetworkPolicy"
	some i, rule in object.get(e.obj, ["spec", "egress"], [])
	destination := _any_destination(rule)
	ports := [p | some p in _api_ports; _opens_port(rule, p)]
	count(ports) > 0
	msg := sprintf("egress[%d] allows %s on port %s; name the addresses it needs (ipBlock of the API server or the service), not every host", [i, destination, concat(", ", [sprintf("%d", [p]) | some p in ports])])
}

# No `to` (or an empty one) means every destination.
_any_destination(rule) := "every destination (no `to`)" if {
	count(object.get(rule, "to", [])) == 0
} else := sprintf("any address (ipBlock %s)", [cidr]) if {
	some peer in rule.to
	cidr := object.get(peer, ["ipBlock", "cidr"], "")
	cidr in _any_address
}

# No `ports` means every port; otherwise a TCP port (or range) that includes it.
_opens_port(rule, _) if count(object.get(rule, "ports", [])) == 0

_opens_port(rule, port) if {
	some p in rule.ports
	object.get(p, "protocol", "TCP") == "TCP"
	_in_range(p, port)
}

_in_range(p, _) if not p.port

_in_range(p, port) if to_number(p.port) == port

_in_range(p, port) if {
	is_number(p.port)
	is_number(p.endPort)
	p.port <= port
	port <= p.endPort
}

# --- MER-NET-005: a workload outside any default-deny ------------------------------------------------

# A namespace is judged when the gate told what the environment holds, or its Namespace object is
# in view: a workload checked on its own is never denied for a policy that lives in a file the
# gate was not shown.
_judged(_) if lib.has_context

_judged(ns) if {
	some obj in lib.namespace_objects
	lib.name(obj) == ns
}

violation contains lib.violation(e, "MER-NET-005", msg) if {
	some e in lib.workloads
	ns := lib.namespace(e.obj)
	ns != ""
	_judged(ns)
	open := [d | some d in ["Ingress", "Egress"]; not [ns, d] in lib.denied_by_default]
	count(open) > 0
	msg := sprintf("runs in namespace %q, where no default-deny NetworkPolicy covers %s%s; run it in a namespace the platform declares (it gets one), or add podSelector: {}, policyTypes: [Ingress, Egress]", [ns, concat(" and ", open), _where])
}

_where := sprintf(" in %s", [lib.environment]) if lib.environment != ""

else := ""
