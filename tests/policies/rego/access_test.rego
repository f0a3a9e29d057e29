# RBAC, secrets and service exposure.
package meridian.rules.access_test

import data.meridian.test.fixtures as fx

_role(rules) := {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}, "rules": rules}

_binding(role, subject) := {
	"apiVersion": "rbac.authorization.k8s.io/v1",
	"kind": "RoleBinding",
	"metadata": {"name": "b", "namespace": "shop"},
	"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
	"subjects": [subject],
}

_sa(name) := {"kind": "ServiceAccount", "name": name, "namespace": "shop"}

test_wildcards_in_roles_are_denied_per_field if {
	results := fx.results([_role([{"apiGroups": ["*"], "resources": ["pods"], "verbs": ["*"]}])], "dev")
	{r.rule | some r in results} == {"MER-RBAC-001"}
	count(results) == 2
}

test_wildcard_non_resource_urls_are_denied if {
	fx.rule_ids([_role([{"nonResourceURLs": ["*"], "verbs": ["get"]}])]) == {"MER-RBAC-001"}
}

test_named_verbs_and_resources_pass if {
	fx.rule_ids([_role([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}])]) == set()
}

test_binding_to_cluster_admin_is_denied if {
	fx.rule_ids([_binding("cluster-admin", _sa("orders"))]) == {"MER-RBAC-002"}
}

test_binding_to_a_narrow_role_passes if {
	fx.rule_ids([_binding("view", _sa("orders"))]) == set()
}

test_default_service_account_with_token_is_denied if {
	d := fx.patched([
		{"op": "remove", "path": "/spec/template/spec/serviceAccountName"},
		{"op": "remove", "path": "/spec/template/spec/automountServiceAccountToken"},
	])
	fx.rule_ids([d]) == {"MER-RBAC-003"}
}

test_default_service_account_named_explicitly_is_denied if {
	d := fx.patched([
		{"op": "replace", "path": "/spec/template/spec/serviceAccountName", "value": "default"},
		{"op": "replace", "path": "/spec/template/spec/automountServiceAccountToken", "value": true},
	])
	fx.rule_ids([d]) == {"MER-RBAC-003"}
}

test_default_service_account_without_token_passes if {
	fx.rule_ids([fx.patched([{"op": "remove", "path": "/spec/template/spec/serviceAccountName"}])]) == set()
}

test_binding_to_default_service_account_is_denied if {
	fx.rule_ids([_binding("view", _sa("default"))]) == {"MER-RBAC-004"}
}

_secret(fields) := object.union({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "shop"}}, fields)

test_secrets_with_data_are_denied if {
	fx.rule_ids([_secret({"data": {"password": "aHVudGVyMg=="}})]) == {"MER-SEC-001"}
	fx.rule_ids([_secret({"stringData": {"password": "hunter2"}})]) == {"MER-SEC-001"}
}

test_empty_secrets_pass if {
	fx.rule_ids([_secret({"type": "kubernetes.io/service-account-token"})]) == set()
	fx.rule_ids([_secret({"data": {}})]) == set()
}

_with_env(env) := fx.patched([{"op": "add", "path": "/spec/template/spec/containers/0/env", "value": env}])

test_literal_credentials_in_env_are_denied if {
	every name in ["DB_PASSWORD", "api_key", "GITHUB_TOKEN", "ClientSecret", "AWS_SECRET_ACCESS_KEY"] {
		fx.rule_ids([_with_env([{"name": name, "value": "hunter2"}])]) == {"MER-SEC-002"}
	}
}

test_credential_references_and_plain_settings_pass if {
	env := [
		{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
		{"name": "DB_PASSWORD_FILE", "value": "/var/run/secrets/db/password"},
		{"name": "TOKEN_TTL", "value": "300"},
		{"name": "EMPTY_SECRET", "value": ""},
		{"name": "LOG_LEVEL", "value": "info"},
	]
	fx.rule_ids([_with_env(env)]) == set()
}

_service(type) := {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "shop"}, "spec": {"type": type}}

test_node_port_is_denied_and_load_balancer_warned if {
	fx.rule_ids([_service("NodePort")]) == {"MER-NET-001"}
	some r in fx.results([_service("LoadBalancer")], "dev")
	r.rule == "MER-NET-002"
	r.severity == "warn"
	fx.rule_ids([_service("ClusterIP")]) == set()
}

_ingress(spec) := {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i", "namespace": "shop"}, "spec": spec}

test_ingress_without_tls_is_denied if {
	fx.rule_ids([_ingress({"rules": [{"host": "a.meridian.dev"}]})]) == {"MER-NET-003"}
}

test_ingress_host_outside_tls_is_denied if {
	spec := {"tls": [{"hosts": ["a.meridian.dev"], "secretName": "a"}], "rules": [{"host": "a.meridian.dev"}, {"host": "b.meridian.dev"}]}
	some r in fx.results([_ingress(spec)], "dev")
	r.rule == "MER-NET-003"
	contains(r.detail, "b.meridian.dev")
}

test_ingress_with_tls_for_every_host_passes if {
	spec := {"tls": [{"hosts": ["a.meridian.dev", "b.meridian.dev"], "secretName": "a"}], "rules": [{"host": "a.meridian.dev"}, {"host": "b.meridian.dev"}]}
	fx.rule_ids([_ingress(spec)]) == set()
}
