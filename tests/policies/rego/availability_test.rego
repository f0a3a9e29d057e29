# Production availability: replicas and disruption budgets.
package meridian.rules.availability_test

import data.meridian.rules.availability
import data.meridian.test.fixtures as fx

_single := fx.patched([{"op": "replace", "path": "/spec/replicas", "value": 1}])

test_single_replica_is_denied_in_prod_only if {
	fx.prod_rule_ids([_single, fx.pdb]) == {"MER-AVL-001"}
	fx.rule_ids([_single, fx.pdb]) == set()
}

test_replicas_default_to_one if {
	fx.prod_rule_ids([fx.patched([{"op": "remove", "path": "/spec/replicas"}]), fx.pdb]) == {"MER-AVL-001"}
}

_hpa(min) := {
	"apiVersion": "autoscaling/v2",
	"kind": "HorizontalPodAutoscaler",
	"metadata": {"name": "orders", "namespace": "shop"},
	"spec": object.union({"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "orders"}, "maxReplicas": 5}, min),
}

test_autoscaler_min_replicas_decides if {
	fx.prod_rule_ids([_single, fx.pdb, _hpa({"minReplicas": 2})]) == set()
	fx.prod_rule_ids([fx.deployment, fx.pdb, _hpa({})]) == {"MER-AVL-004"}
}

test_production_autoscaler_with_one_replica_is_denied_on_its_own if {
	fx.prod_rule_ids([_hpa({"minReplicas": 1})]) == {"MER-AVL-004"}
	fx.prod_rule_ids([_hpa({})]) == {"MER-AVL-004"}
	fx.prod_rule_ids([_hpa({"minReplicas": 3})]) == set()
	fx.rule_ids([_hpa({"minReplicas": 1})]) == set()
}

test_production_autoscaler_finding_names_its_target if {
	some r in fx.results([_hpa({"minReplicas": 1})], "prod")
	r.rule == "MER-AVL-004"
	r.severity == "deny"
	contains(r.detail, "may scale Deployment orders down to 1 replica(s)")
}

test_missing_budget_is_denied_in_prod if {
	fx.prod_rule_ids([fx.deployment]) == {"MER-AVL-002"}
	fx.rule_ids([fx.deployment]) == set()
}

test_budget_in_another_namespace_does_not_count if {
	other := json.patch(fx.pdb, [{"op": "replace", "path": "/metadata/namespace", "value": "elsewhere"}])
	fx.prod_rule_ids([fx.deployment, other]) == {"MER-AVL-002"}
}

test_budget_selecting_other_pods_does_not_count if {
	other := json.patch(fx.pdb, [{"op": "replace", "path": "/spec/selector", "value": {"matchLabels": {"app.kubernetes.io/name": "inventory"}}}])
	fx.prod_rule_ids([fx.deployment, other]) == {"MER-AVL-002"}
}

test_budget_with_match_expressions_counts if {
	selector := {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["orders", "inventory"]}]}
	fx.prod_rule_ids([fx.deployment, json.patch(fx.pdb, [{"op": "replace", "path": "/spec/selector", "value": selector}])]) == set()
}

test_label_selector_operators if {
	labels := {"app": "orders", "tier": "api"}
	availability.selects({"matchExpressions": [{"key": "app", "operator": "In", "values": ["orders"]}]}, labels)
	availability.selects({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}, labels)
	availability.selects({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, labels)
	availability.selects({"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]}, labels)
	availability.selects({}, labels)
	not availability.selects({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["orders"]}]}, labels)
	not availability.selects({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, labels)
	not availability.selects({"matchLabels": {"app": "web"}}, labels)
}

test_budget_allowing_no_eviction_is_denied if {
	every spec in [{"maxUnavailable": 0}, {"maxUnavailable": "0%"}, {"minAvailable": "100%"}, {"minAvailable": 2}] {
		budget := json.patch(fx.pdb, [{"op": "replace", "path": "/spec", "value": object.union(spec, {"selector": fx.pdb.spec.selector})}])
		fx.rule_ids([fx.deployment, budget]) == {"MER-AVL-003"}
	}
}

test_budget_leaving_room_passes if {
	budget := json.patch(fx.pdb, [{"op": "replace", "path": "/spec", "value": {"minAvailable": 1, "selector": fx.pdb.spec.selector}}])
	fx.prod_rule_ids([fx.deployment, budget]) == set()
}

test_budget_allowing_no_eviction_is_denied_in_every_environment if {
	budget := json.patch(fx.pdb, [{"op": "replace", "path": "/spec", "value": {"maxUnavailable": 0, "selector": fx.pdb.spec.selector}}])
	some r in fx.results([budget], "dev")
	r.rule == "MER-AVL-003"
	r.severity == "deny"
}
