# The entry point: input shapes, result fields, the catalog, the clock.
package main_test

import data.main
import data.meridian.catalog
import data.meridian.lib
import data.meridian.test.fixtures as fx

test_results_carry_what_the_gate_reports if {
	some r in fx.results([fx.patched([{"op": "add", "path": "/spec/template/spec/containers/0/securityContext/privileged", "value": true}])], "dev")
	r.rule == "MER-PSS-001"
	r.severity == "deny"
	r.file == "test-0.yaml"
	r.kind == "Deployment"
	r.namespace == "shop"
	r.name == "orders"
	startswith(r.msg, "MER-PSS-001 Deployment shop/orders: ")
	startswith(r.detail, "Deployment shop/orders: container \"orders\" runs privileged")
	r.reference == catalog.rules["MER-PSS-001"].reference
	startswith(r.url, "https://")
}

test_a_single_object_input_works_without_combine if {
	privileged := fx.patched([{"op": "add", "path": "/spec/template/spec/containers/0/securityContext/privileged", "value": true}])
	some r in main.deny with input as privileged
	r.rule == "MER-PSS-001"
	r.file == ""
}

test_list_objects_are_unwrapped if {
	count(lib.entries) == 2 with input as [{"path": "l.yaml", "contents": {"kind": "List", "items": [fx.deployment, fx.pdb]}}]
}

test_documents_that_are_not_objects_are_skipped if {
	count(lib.entries) == 0 with input as [{"path": "a.yaml", "contents": null}, {"path": "b.yaml", "contents": ["x"]}, {"path": "c.yaml", "contents": {"no": "kind"}}]
}

test_unnamed_objects_are_displayed_with_a_placeholder if {
	lib.display({"kind": "ConfigMap"}) == "ConfigMap <unnamed>"
	lib.display({"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}) == "ConfigMap n/c"
}

test_environment_is_empty_without_data if {
	lib.environment == ""
	not lib.is_prod
}

test_today_comes_from_the_clock_without_data if {
	regex.match(`^\d{4}-\d{2}-\d{2}$`, lib.today)
}

test_every_catalog_entry_is_complete if {
	every id, rule in catalog.rules {
		regex.match(`^MER-[A-Z]+-[0-9]{3}$`, id)
		rule.severity in {"deny", "warn"}
		rule.title != ""
		rule.reference != ""
		rule.url != ""
	}
}

_open_egress := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "NetworkPolicy",
	"metadata": {"name": "allow-api-server", "namespace": "vault"},
	"spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]}]},
}

# A transition of our own for the tests, so they hold whichever transitions the catalog lists today.
_transition := {"MER-NET-004": {"until": "2027-01-31", "reason": "the fixture's policy is on its way out"}}

test_a_rule_in_transition_warns_and_says_until_when if {
	catalog.rules["MER-NET-004"].severity == "deny"
	results := main.warn with input as fx.as_input([_open_egress]) with data.meridian.today as "2026-12-02" with catalog.transitions as _transition
	some r in results
	r.rule == "MER-NET-004"
	r.severity == "warn"
	contains(r.detail, "(a warning until 2027-01-31, then denied: ")
	count(main.deny) == 0 with input as fx.as_input([_open_egress]) with data.meridian.today as "2026-12-02" with catalog.transitions as _transition
}

test_a_transition_ends_by_itself if {
	count(main.deny) == 0 with input as fx.as_input([_open_egress]) with data.meridian.today as "2027-01-31" with catalog.transitions as _transition
	some r in main.deny with input as fx.as_input([_open_egress]) with data.meridian.today as "2099-01-01" with catalog.transitions as _transition
	r.rule == "MER-NET-004"
	not contains(r.detail, "a warning until")
}

test_every_transition_names_a_deny_rule_a_date_and_a_reason if {
	every id, t in catalog.transitions {
		catalog.rules[id].severity == "deny"
		regex.match(`^\d{4}-\d{2}-\d{2}$`, t.until)
		t.reason != ""
	}
}
