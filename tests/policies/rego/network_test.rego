# Network isolation: egress to any host on 443/6443, and workloads outside a default-deny.
package meridian.rules.network_test

import data.meridian.test.fixtures as fx

_egress(rules) := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "NetworkPolicy",
	"metadata": {"name": "out", "namespace": "shop"},
	"spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": rules},
}

_tcp(port) := {"protocol": "TCP", "port": port}

test_egress_to_any_address_on_https_is_reported if {
	every cidr in ["0.0.0.0/0", "::/0"] {
		fx.rule_ids([_egress([{"to": [{"ipBlock": {"cidr": cidr}}], "ports": [_tcp(443)]}])]) == {"MER-NET-004"}
	}
	fx.rule_ids([_egress([{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [_tcp(6443)]}])]) == {"MER-NET-004"}
}

test_egress_without_destination_or_ports_opens_everything if {
	fx.rule_ids([_egress([{"ports": [_tcp(443)]}])]) == {"MER-NET-004"}
	fx.rule_ids([_egress([{"to": [], "ports": [_tcp("443")]}])]) == {"MER-NET-004"}
	fx.rule_ids([_egress([{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}])]) == {"MER-NET-004"}
	fx.rule_ids([_egress([{}])]) == {"MER-NET-004"}
	fx.rule_ids([_egress([{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP"}]}])]) == {"MER-NET-004"}
}

test_port_ranges_covering_the_api_port_count if {
	fx.rule_ids([_egress([{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 6000, "endPort": 7000}]}])]) == {"MER-NET-004"}
	fx.rule_ids([_egress([{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 7000, "endPort": 8000}]}])]) == set()
}

test_named_addresses_and_other_ports_pass if {
	fx.rule_ids([_egress([{"to": [{"ipBlock": {"cidr": "10.0.0.1/32"}}], "ports": [_tcp(6443)]}])]) == set()
	fx.rule_ids([_egress([{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [_tcp(5432)]}])]) == set()
	fx.rule_ids([_egress([{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "UDP", "port": 443}]}])]) == set()
	fx.rule_ids([_egress([{"to": [{"namespaceSelector": {}}]}])]) == set()
}

test_egress_finding_says_what_it_opens if {
	some r in fx.results([_egress([{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [_tcp(443), _tcp(6443)]}])], "staging")
	r.rule == "MER-NET-004"
	contains(r.detail, "egress[0] allows any address (ipBlock 0.0.0.0/0) on port 443, 6443")
}

# The CKV2_K8S_6 case: a workload checked with its namespace's default-deny in view passes; in a
# namespace the view shows without one, it is denied.
test_lone_deployment_with_the_environments_default_deny_in_view_passes if {
	ids := fx.rule_ids([fx.deployment]) with data.meridian.context as fx.app_namespace
	ids == set()
}

test_deployment_in_a_namespace_without_default_deny_is_denied if {
	ids := fx.rule_ids([json.patch(fx.deployment, [{"op": "replace", "path": "/metadata/namespace", "value": "payments"}])]) with data.meridian.context as fx.app_namespace
	ids == {"MER-NET-005"}
}

test_half_a_default_deny_is_not_enough if {
	ingress_only := json.patch(fx.default_deny, [{"op": "replace", "path": "/spec/policyTypes", "value": ["Ingress"]}])
	some r in fx.results([fx.deployment, fx.namespace, ingress_only], "dev")
	r.rule == "MER-NET-005"
	contains(r.detail, "no default-deny NetworkPolicy covers Egress in dev")
}

test_every_kind_of_workload_is_judged if {
	job := {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "payments"}, "spec": {"template": {"spec": fx.pod_spec}}}
	stateful := json.patch(fx.deployment, [{"op": "replace", "path": "/kind", "value": "StatefulSet"}, {"op": "replace", "path": "/metadata/namespace", "value": "payments"}])
	every w in [job, stateful] {
		ids := {r.rule | some r in fx.results([w], "dev"); r.rule == "MER-NET-005"} with data.meridian.context as []
		ids == {"MER-NET-005"}
	}
}

test_workload_checked_alone_without_context_is_not_judged if {
	not "MER-NET-005" in fx.rule_ids([fx.deployment])
}

test_namespace_in_view_is_judged_without_context if {
	"MER-NET-005" in fx.rule_ids([fx.deployment, fx.namespace])
	not "MER-NET-005" in fx.rule_ids(array.concat([fx.deployment], fx.app_namespace))
}
