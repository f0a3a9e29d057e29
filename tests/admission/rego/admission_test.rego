# The admission adapter (policies/admission): an AdmissionReview in, the gate's verdict on the object
# out, as an AdmissionReview answer.
package system_test

import data.main
import data.meridian.catalog
import data.meridian.test.fixtures as fx
import data.system

review(obj) := {
	"apiVersion": "admission.k8s.io/v1",
	"kind": "AdmissionReview",
	"request": {"uid": "7f0c", "operation": "CREATE", "namespace": "shop", "object": obj},
}

# The webhook's data as OPA holds it: prod, with the platform's default-deny for `shop` in view.
config := {"environment": "prod", "context": [fx.namespace, fx.default_deny], "charts": {"exemptions": []}}

answer(obj) := answer_in(obj, config)

answer_in(obj, admission) := response if {
	response := system.main.response with input as review(obj)
		with data.admission as admission
		with data.meridian.today as "2026-06-01"
}

privileged := fx.patched([{"op": "add", "path": "/spec/template/spec/containers/0/securityContext/privileged", "value": true}])

test_the_answer_is_an_admission_review_for_the_request if {
	answered := system.main with input as review(fx.deployment) with data.admission as config
	answered.apiVersion == "admission.k8s.io/v1"
	answered.kind == "AdmissionReview"
	answered.response.uid == "7f0c"
}

test_a_hardened_object_is_admitted_with_nothing_to_say if {
	answer(fx.deployment) == {"uid": "7f0c", "allowed": true}
}

test_a_denied_object_is_refused_with_the_rule_and_the_gates_message if {
	response := answer(privileged)
	response.allowed == false
	response.status.code == 403
	some finding in main.deny with input as privileged with data.meridian.environment as "prod"
	finding.rule == "MER-PSS-001"
	response.status.message == sprintf("MER-PSS-001 %s", [finding.detail])
}

test_every_denial_is_one_line_sorted_by_rule if {
	obj := json.patch(privileged, [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "nginx:latest"}])
	lines := split(answer(obj).status.message, "\n")
	count(lines) == 2
	startswith(lines[0], "MER-IMG-001 Deployment shop/orders: ")
	startswith(lines[1], "MER-PSS-001 Deployment shop/orders: ")
}

test_warn_findings_admit_with_warnings_and_an_audit_annotation if {
	obj := json.patch(fx.deployment, [{"op": "remove", "path": "/spec/template/spec/containers/0/resources/limits/cpu"}])
	response := answer(obj)
	response.allowed == true
	not response.status
	response.warnings == ["MER-RES-003 Deployment shop/orders: container \"orders\" has no CPU limit; set resources.limits.cpu"]
	response.auditAnnotations == {"warnings": "MER-RES-003"}
}

test_ci_only_rules_never_refuse if {
	# Alone, a prod Deployment has neither its budget (MER-AVL-002) nor its autoscaler in view.
	obj := json.patch(fx.deployment, [{"op": "replace", "path": "/spec/replicas", "value": 1}])
	rules := {f.rule | some f in main.deny with input as obj with data.meridian.environment as "prod"}
	rules == {"MER-AVL-001", "MER-AVL-002"}
	answer(obj).allowed == true
}

test_every_ci_only_rule_is_a_catalog_deny_rule_with_a_reason if {
	count(catalog.ci_only) > 0
	every rule, why in catalog.ci_only {
		catalog.rules[rule].severity == "deny"
		count(why) > 20
	}
}

test_the_environment_comes_from_the_webhooks_data if {
	hpa := {
		"apiVersion": "autoscaling/v2",
		"kind": "HorizontalPodAutoscaler",
		"metadata": {"name": "orders", "namespace": "shop"},
		"spec": {"minReplicas": 1, "maxReplicas": 4, "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "orders"}},
	}
	startswith(answer(hpa).status.message, "MER-AVL-004 ")
	answer_in(hpa, object.union(config, {"environment": "dev"})).allowed == true
}

test_a_workload_is_judged_with_the_environments_network_policies_in_view if {
	answer(fx.deployment).allowed == true
	without := answer_in(fx.deployment, object.union(config, {"context": [fx.namespace]}))
	startswith(without.status.message, "MER-NET-005 Deployment shop/orders: runs in namespace \"shop\"")
}

test_an_exemption_annotation_on_the_object_applies_and_is_audited if {
	obj := json.patch(privileged, [{"op": "add", "path": "/metadata/annotations", "value": {"exemption.meridian.dev/MER-PSS-001": "expires=2026-12-31; reason=vendor image needs it"}}])
	response := answer(obj)
	response.allowed == true
	response.auditAnnotations == {"exemptions": "MER-PSS-001:active"}
}

test_an_expired_exemption_is_refused_as_in_ci if {
	obj := json.patch(privileged, [{"op": "add", "path": "/metadata/annotations", "value": {"exemption.meridian.dev/MER-PSS-001": "expires=2026-01-31; reason=vendor image needs it"}}])
	lines := split(answer(obj).status.message, "\n")
	startswith(lines[0], "MER-EXM-002 Deployment shop/orders: exemption from MER-PSS-001 expired on 2026-01-31")
	startswith(lines[1], "MER-PSS-001 ")
}

test_deletions_and_objects_being_deleted_are_admitted if {
	deleting := json.patch(privileged, [{"op": "add", "path": "/metadata/deletionTimestamp", "value": "2026-06-01T00:00:00Z"}])
	answer(deleting) == {"uid": "7f0c", "allowed": true}
	deletion := {"uid": "7f0c", "operation": "DELETE", "namespace": "shop", "object": null, "oldObject": privileged}
	response := system.main.response with input as {"request": deletion} with data.admission as config
	response == {"uid": "7f0c", "allowed": true}
}

# --- chart exemptions ------------------------------------------------------------------------------

chart_entry := {
	"release": "vendor",
	"kind": "Deploy*",
	"name": "orders",
	"rules": ["MER-PSS-001"],
	"expires": "2026-12-31",
	"reason": "the vendor chart runs it privileged;\n  no value turns it off",
	"environments": ["prod"],
}

charts(entries) := object.union(config, {"charts": {"exemptions": entries}})

installed_by(obj, release) := json.patch(obj, [{"op": "add", "path": "/metadata/annotations", "value": {"meta.helm.sh/release-name": release}}])

test_a_chart_exemption_applies_to_what_its_release_installed if {
	response := answer_in(installed_by(privileged, "vendor"), charts([chart_entry]))
	response.allowed == true
	response.auditAnnotations.exemptions == "MER-PSS-001:active"
}

test_the_chart_exemption_becomes_the_annotation_the_render_writes if {
	annotations := system.chart_annotations with input as review(installed_by(privileged, "vendor"))
		with data.admission as charts([chart_entry])
	annotations == {"exemption.meridian.dev/MER-PSS-001": "expires=2026-12-31; reason=the vendor chart runs it privileged; no value turns it off"}
}

test_a_chart_exemption_does_not_apply_to_another_release_or_environment if {
	answer_in(installed_by(privileged, "other"), charts([chart_entry])).allowed == false
	answer_in(privileged, charts([chart_entry])).allowed == false
	dev := object.union(charts([chart_entry]), {"environment": "dev"})
	answer_in(installed_by(privileged, "vendor"), dev).allowed == false
}

test_a_chart_exemption_without_environments_applies_in_every_one if {
	entry := object.remove(chart_entry, ["environments"])
	answer_in(installed_by(privileged, "vendor"), object.union(charts([entry]), {"environment": "dev"})).allowed == true
}

test_a_chart_exemption_matches_kind_and_name_as_shell_patterns if {
	not_this_kind := object.union(chart_entry, {"kind": "StatefulSet"})
	answer_in(installed_by(privileged, "vendor"), charts([not_this_kind])).allowed == false
	any_name := object.union(chart_entry, {"name": "ord*"})
	answer_in(installed_by(privileged, "vendor"), charts([any_name])).allowed == true
}

test_an_expired_chart_exemption_is_refused_as_in_ci if {
	expired := object.union(chart_entry, {"expires": "2026-05-31"})
	message := answer_in(installed_by(privileged, "vendor"), charts([expired])).status.message
	contains(message, "MER-EXM-002 Deployment shop/orders: exemption from MER-PSS-001 expired on 2026-05-31")
}

test_a_later_chart_exemption_for_the_same_rule_wins if {
	renewed := object.union(chart_entry, {"expires": "2027-03-31"})
	annotations := system.chart_annotations with input as review(installed_by(privileged, "vendor"))
		with data.admission as charts([chart_entry, renewed])
	startswith(annotations["exemption.meridian.dev/MER-PSS-001"], "expires=2027-03-31; ")
}

test_a_helm_hook_is_matched_by_its_instance_label if {
	hook := json.patch(privileged, [
		{"op": "add", "path": "/metadata/annotations", "value": {"helm.sh/hook": "pre-delete"}},
		{"op": "add", "path": "/metadata/labels", "value": {"app.kubernetes.io/instance": "vendor"}},
	])
	answer_in(hook, charts([chart_entry])).allowed == true
	not_a_hook := json.patch(privileged, [{"op": "add", "path": "/metadata/labels", "value": {"app.kubernetes.io/instance": "vendor"}}])
	answer_in(not_a_hook, charts([chart_entry])).allowed == false
}

test_a_helm_hook_without_an_instance_label_is_matched_by_its_pinned_chart if {
	hook := json.patch(privileged, [
		{"op": "add", "path": "/metadata/annotations", "value": {"helm.sh/hook": "pre-delete"}},
		{"op": "add", "path": "/metadata/labels", "value": {"helm.sh/chart": "vendor-chart-v1.2.3"}},
	])
	releases := [{"release": "vendor", "chart": "vendor-chart", "version": "v1.2.3", "namespace": "shop"}]
	with_releases := object.union(charts([chart_entry]), {"releases": releases})
	answer_in(hook, with_releases).allowed == true
	other_version := object.union(with_releases, {"releases": [object.union(releases[0], {"version": "v1.2.4"})]})
	answer_in(hook, other_version).allowed == false
	other_namespace := object.union(with_releases, {"releases": [object.union(releases[0], {"namespace": "elsewhere"})]})
	answer_in(hook, other_namespace).allowed == false
}
