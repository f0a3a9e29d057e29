# Namespaces, the default namespace and Argo CD projects.
package meridian.rules.namespaces_test

import data.meridian.test.fixtures as fx

_ns(labels) := {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "labels": labels}}

test_namespace_without_pod_security_labels_is_denied if {
	fx.rule_ids([_ns({})]) == {"MER-NS-001"}
}

test_platform_namespace_may_enforce_baseline if {
	fx.rule_ids([_ns({"meridian.dev/tier": "platform", "pod-security.kubernetes.io/enforce": "baseline"})]) == set()
}

test_app_namespace_must_enforce_restricted if {
	fx.rule_ids([json.patch(fx.namespace, [{"op": "replace", "path": "/metadata/labels/pod-security.kubernetes.io~1enforce", "value": "baseline"}]), fx.quota, fx.limit_range, fx.default_deny]) == {"MER-NS-002"}
}

test_objects_in_the_default_namespace_are_denied if {
	fx.rule_ids([fx.patched([{"op": "replace", "path": "/metadata/namespace", "value": "default"}])]) == {"MER-NS-003"}
	cm := {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}}
	fx.rule_ids([cm]) == {"MER-NS-003"}
}

test_workloads_without_namespace_are_denied if {
	fx.rule_ids([fx.patched([{"op": "remove", "path": "/metadata/namespace"}])]) == {"MER-NS-003"}
}

test_cluster_scoped_objects_need_no_namespace if {
	fx.rule_ids([{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "reader"}, "rules": []}]) == set()
}

_app(project) := {
	"apiVersion": "argoproj.io/v1alpha1",
	"kind": "Application",
	"metadata": {"name": "orders", "namespace": "argocd"},
	"spec": object.union({"destination": {"namespace": "shop"}}, project),
}

test_application_in_default_project_is_denied if {
	fx.rule_ids([_app({"project": "default"})]) == {"MER-ARGO-001"}
	fx.rule_ids([_app({})]) == {"MER-ARGO-001"}
}

test_application_in_team_project_passes if {
	fx.rule_ids([_app({"project": "shop"})]) == set()
}

test_other_kinds_named_application_are_ignored if {
	fx.rule_ids([{"apiVersion": "app.k8s.io/v1beta1", "kind": "Application", "metadata": {"name": "a", "namespace": "shop"}, "spec": {}}]) == set()
}

_appset(project) := {
	"apiVersion": "argoproj.io/v1alpha1",
	"kind": "ApplicationSet",
	"metadata": {"name": "apps", "namespace": "argocd"},
	"spec": {"generators": [], "template": {"metadata": {"name": "{{path.basename}}"}, "spec": project}},
}

test_application_set_generating_default_project_is_denied if {
	fx.rule_ids([_appset({})]) == {"MER-ARGO-001"}
	fx.rule_ids([_appset({"project": "shop"})]) == set()
}

test_pod_security_labels_without_enforce_are_denied if {
	some r in fx.results([_ns({"pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/audit": "restricted"})], "dev")
	r.rule == "MER-NS-004"
	contains(r.detail, "pod-security.kubernetes.io/audit, pod-security.kubernetes.io/warn")
	fx.rule_ids([_ns({"pod-security.kubernetes.io/warn": "restricted"})]) == {"MER-NS-004"}
}

test_enforce_with_no_pod_security_level_is_denied if {
	fx.rule_ids([_ns({"pod-security.kubernetes.io/enforce": "strict"})]) == {"MER-NS-004"}
	app := json.patch(fx.namespace, [{"op": "replace", "path": "/metadata/labels/pod-security.kubernetes.io~1enforce", "value": "Restricted"}])
	fx.rule_ids([app, fx.quota, fx.limit_range, fx.default_deny]) == {"MER-NS-004"}
}
