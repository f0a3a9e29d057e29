# Argo CD: Applications stay inside their environment; AppProjects neither allow everything nor
# let apps touch what the platform owns.
package meridian.rules.argocd_test

import data.meridian.test.fixtures as fx

_app(destination, path) := {
	"apiVersion": "argoproj.io/v1alpha1",
	"kind": "Application",
	"metadata": {"name": "orders", "namespace": "argocd", "labels": {"meridian.dev/environment": "prod"}},
	"spec": {
		"project": "meridian-prod",
		"source": {"repoURL": "https://git.meridian.dev/platform/meridian.git", "path": path},
		"destination": {"server": "https://kubernetes.default.svc", "namespace": destination},
	},
}

_ns(name, env, tier) := {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {
	"meridian.dev/environment": env,
	"meridian.dev/tier": tier,
	"pod-security.kubernetes.io/enforce": "restricted",
}}}

_prod := [_ns("orders", "prod", "app"), _ns("inventory", "prod", "app"), _ns("vault", "prod", "platform")]

_ids(objects) := {id | some id in fx.prod_rule_ids(objects); startswith(id, "MER-ARGO-")}

test_application_inside_its_environment_passes if {
	_ids(array.concat(_prod, [_app("orders", "environments/prod/apps/orders")])) == set()
}

test_application_into_a_namespace_of_no_app_of_the_environment_is_denied if {
	_ids(array.concat(_prod, [_app("payments", "environments/prod/apps/orders")])) == {"MER-ARGO-002"}
}

test_application_into_a_platform_namespace_is_denied if {
	_ids(array.concat(_prod, [_app("vault", "environments/prod/apps/orders")])) == {"MER-ARGO-002"}
}

test_application_into_another_environments_namespace_is_denied if {
	staging_only := [_ns("orders", "prod", "app"), _ns("preview", "staging", "app")]
	_ids(array.concat(staging_only, [_app("preview", "environments/prod/apps/orders")])) == {"MER-ARGO-002"}
}

test_application_syncing_another_environments_folder_is_denied if {
	results := fx.results(array.concat(_prod, [_app("orders", "environments/dev/apps/orders")]), "prod")
	some r in results
	r.rule == "MER-ARGO-002"
	contains(r.detail, "belongs to environment dev")
}

test_application_is_judged_by_the_gates_context if {
	ids := {r.rule | some r in fx.results([_app("payments", "environments/prod/apps/orders")], "prod")} with data.meridian.context as _prod
	ids == {"MER-ARGO-002"}
}

test_application_without_namespaces_in_view_is_not_judged if {
	_ids([_app("payments", "environments/prod/apps/orders")]) == set()
}

test_templated_destinations_are_left_to_the_generator if {
	appset := {
		"apiVersion": "argoproj.io/v1alpha1",
		"kind": "ApplicationSet",
		"metadata": {"name": "apps-prod", "namespace": "argocd", "labels": {"meridian.dev/environment": "prod"}},
		"spec": {"template": {"spec": {
			"project": "meridian-prod",
			"source": {"path": "{{.path.path}}"},
			"destination": {"namespace": "{{.path.basename}}"},
		}}},
	}
	_ids(array.concat(_prod, [appset])) == set()
	literal := json.patch(appset, [{"op": "replace", "path": "/spec/template/spec/destination/namespace", "value": "kube-system"}])
	_ids(array.concat(_prod, [literal])) == {"MER-ARGO-002"}
}

_project(spec) := {
	"apiVersion": "argoproj.io/v1alpha1",
	"kind": "AppProject",
	"metadata": {"name": "meridian-prod", "namespace": "argocd"},
	"spec": object.union(
		{
			"sourceRepos": ["https://git.meridian.dev/platform/meridian.git"],
			"destinations": [{"server": "https://kubernetes.default.svc", "namespace": "orders"}],
			"clusterResourceWhitelist": [],
			"namespaceResourceBlacklist": [
				{"group": "networking.k8s.io", "kind": "NetworkPolicy"},
				{"group": "", "kind": "ResourceQuota"},
				{"group": "", "kind": "LimitRange"},
			],
		},
		spec,
	),
}

test_restricted_project_passes if {
	_ids([_project({})]) == set()
}

test_project_allowing_every_repository_is_denied if {
	_ids([_project({"sourceRepos": ["*"]})]) == {"MER-ARGO-003"}
}

test_project_allowing_every_destination_is_denied if {
	_ids([_project({"destinations": [{"server": "*", "namespace": "orders"}]})]) == {"MER-ARGO-003"}
	_ids([_project({"destinations": [{"server": "https://kubernetes.default.svc", "namespace": "*"}]})]) == {"MER-ARGO-003"}
}

test_project_allowing_every_cluster_scoped_kind_is_denied if {
	_ids([_project({"clusterResourceWhitelist": [{"group": "*", "kind": "*"}]})]) == {"MER-ARGO-003"}
	_ids([_project({"clusterResourceWhitelist": [{"group": "rbac.authorization.k8s.io", "kind": "*"}]})]) == {"MER-ARGO-003"}
}

test_project_not_reserving_network_policies_is_reported if {
	project := _project({"namespaceResourceBlacklist": [{"group": "", "kind": "ResourceQuota"}, {"group": "", "kind": "LimitRange"}]})
	some r in fx.results([project], "prod")
	r.rule == "MER-ARGO-004"
	contains(r.detail, "lets its apps create or change NetworkPolicy.networking.k8s.io, which the platform owns")
}

test_project_without_any_blacklist_misses_every_reserved_kind if {
	some r in fx.results([_project({"namespaceResourceBlacklist": []})], "prod")
	r.rule == "MER-ARGO-004"
	contains(r.detail, "NetworkPolicy.networking.k8s.io, ResourceQuota, LimitRange")
}

test_wildcard_blacklist_entries_reserve_kinds if {
	_ids([_project({"namespaceResourceBlacklist": [{"group": "*", "kind": "NetworkPolicy"}, {"group": "", "kind": "*"}]})]) == set()
}

test_a_whitelist_reserves_what_it_leaves_out if {
	_ids([_project({"namespaceResourceBlacklist": [], "namespaceResourceWhitelist": [{"group": "apps", "kind": "Deployment"}]})]) == set()
	_ids([_project({"namespaceResourceBlacklist": [], "namespaceResourceWhitelist": [{"group": "*", "kind": "*"}]})]) == {"MER-ARGO-004"}
}

test_reserved_kinds_come_from_data_when_given if {
	extra := [{"group": "", "kind": "ResourceQuota"}, {"group": "", "kind": "ServiceAccount"}]
	ids := {r.rule | some r in fx.results([_project({})], "prod")} with data.meridian.reserved_kinds as extra
	ids == {"MER-ARGO-004"}
}
