# The platform render: namespace fences, Helm release pins, HA in prod.
package meridian.rules.platform_test

import data.meridian.test.fixtures as fx

test_fenced_app_namespace_passes if {
	fx.prod_rule_ids(fx.app_namespace) == set()
}

test_app_namespace_without_quota_is_denied if {
	fx.rule_ids([fx.namespace, fx.limit_range, fx.default_deny]) == {"MER-PLT-001"}
}

test_quota_of_another_namespace_does_not_count if {
	other := json.patch(fx.quota, [{"op": "replace", "path": "/metadata/namespace", "value": "elsewhere"}])
	fx.rule_ids([fx.namespace, other, fx.limit_range, fx.default_deny]) == {"MER-PLT-001"}
}

test_app_namespace_without_limit_range_is_denied if {
	fx.rule_ids([fx.namespace, fx.quota, fx.default_deny]) == {"MER-PLT-002"}
}

test_app_namespace_without_default_deny_is_denied_per_direction if {
	results := fx.results([fx.namespace, fx.quota, fx.limit_range], "dev")
	{r.rule | some r in results} == {"MER-PLT-003"}
	count(results) == 2
}

test_default_deny_may_be_split_in_two_policies if {
	ingress := json.patch(fx.default_deny, [{"op": "replace", "path": "/spec/policyTypes", "value": ["Ingress"]}])
	egress := json.patch(fx.default_deny, [{"op": "replace", "path": "/spec/policyTypes", "value": ["Egress"]}, {"op": "replace", "path": "/metadata/name", "value": "deny-egress"}])
	fx.rule_ids([fx.namespace, fx.quota, fx.limit_range, ingress, egress]) == set()
}

test_policy_that_allows_traffic_is_no_default_deny if {
	allowing := json.patch(fx.default_deny, [{"op": "add", "path": "/spec/ingress", "value": [{}]}])
	fx.rule_ids([fx.namespace, fx.quota, fx.limit_range, allowing]) == {"MER-PLT-003"}
	selective := json.patch(fx.default_deny, [{"op": "replace", "path": "/spec/podSelector", "value": {"matchLabels": {"a": "b"}}}])
	fx.rule_ids([fx.namespace, fx.quota, fx.limit_range, selective]) == {"MER-PLT-003"}
}

test_platform_namespaces_need_no_fence if {
	ns := json.patch(fx.namespace, [{"op": "replace", "path": "/metadata/labels/meridian.dev~1tier", "value": "platform"}])
	fx.rule_ids([ns]) == set()
}

_release(version) := json.patch(fx.helm_release, [{"op": "replace", "path": "/spec/version", "value": version}])

test_unpinned_helm_releases_are_denied if {
	every version in ["", "latest", "^7.7.0", "~7.7", "7.x", "*", ">=7.0.0", "7.7", 7] {
		fx.rule_ids([_release(version)]) == {"MER-PLT-004"}
	}
	fx.rule_ids([json.patch(fx.helm_release, [{"op": "remove", "path": "/spec/version"}])]) == {"MER-PLT-004"}
}

test_exact_versions_pass if {
	every version in ["7.7.11", "v1.2.3", "1.0.0-rc.1", "2.3.4+build.5"] {
		fx.rule_ids([_release(version)]) == set()
	}
}

test_single_replica_release_is_denied_in_prod if {
	single := json.patch(fx.helm_release, [{"op": "replace", "path": "/spec/values/controller/replicas", "value": 1}])
	fx.prod_rule_ids([single]) == {"MER-PLT-005"}
	fx.rule_ids([single]) == set()
	some r in fx.results([single], "prod")
	contains(r.detail, "values.controller.replicas: 1")
}

test_replica_count_spelling_and_ha_off_are_denied_in_prod if {
	count_one := json.patch(fx.helm_release, [{"op": "add", "path": "/spec/values/replicaCount", "value": 1}])
	fx.prod_rule_ids([count_one]) == {"MER-PLT-005"}
	ha_off := json.patch(fx.helm_release, [{"op": "add", "path": "/spec/values/server", "value": {"ha": {"enabled": false}}}])
	fx.prod_rule_ids([ha_off]) == {"MER-PLT-005"}
}

test_disabled_components_are_not_single_replicas if {
	off := json.patch(fx.helm_release, [{"op": "add", "path": "/spec/values/read", "value": {"replicas": 0}}])
	fx.prod_rule_ids([off]) == set()
}

_vault(values) := {
	"apiVersion": "meridian.dev/v1alpha1",
	"kind": "HelmRelease",
	"metadata": {"name": "vault", "namespace": "vault"},
	"spec": {"chart": "vault", "version": "0.29.1", "repository": "https://helm.releases.hashicorp.com", "values": values},
}

_tls_values := {
	"global": {"tlsDisable": false},
	"server": {"ha": {"enabled": true, "replicas": 3, "raft": {"enabled": true, "config": "listener \"tcp\" {\n  address = \"[::]:8200\"\n  tls_cert_file = \"/vault/tls/tls.crt\"\n  tls_key_file = \"/vault/tls/tls.key\"\n}\nstorage \"raft\" {\n  retry_join {\n    leader_api_addr = \"https://vault-0.vault-internal:8200\"\n  }\n}\n"}}},
}

_vault_problems(values, env) := {r.detail | some r in fx.results([_vault(values)], env); r.rule == "MER-PLT-006"}

test_vault_with_tls_passes_outside_dev if {
	_vault_problems(_tls_values, "prod") == set()
}

test_vault_over_plain_http_is_reported_outside_dev_only if {
	plain := json.patch(_tls_values, [
		{"op": "replace", "path": "/global/tlsDisable", "value": true},
		{"op": "replace", "path": "/server/ha/raft/config", "value": "listener \"tcp\" {\n  address = \"[::]:8200\"\n  tls_disable = 1\n}\nstorage \"raft\" {\n  retry_join {\n    leader_api_addr = \"http://vault-0.vault-internal:8200\"\n  }\n}\n"},
	])
	count(_vault_problems(plain, "staging")) == 3
	count(_vault_problems(plain, "prod")) == 3
	_vault_problems(plain, "dev") == set()
	_vault_problems({"server": {"dev": {"enabled": true}}}, "dev") == set()
}

test_vault_chart_default_is_plain_http if {
	some detail in _vault_problems(object.remove(_tls_values, ["global"]), "prod")
	contains(detail, "global.tlsDisable is not false")
}

test_vault_dev_mode_outside_dev_is_reported if {
	some detail in _vault_problems({"global": {"tlsDisable": false}, "server": {"dev": {"enabled": true}}}, "staging")
	contains(detail, "runs Vault in dev mode in staging")
}

test_vault_clients_over_plain_http_are_reported if {
	env_addr := fx.patched([{"op": "add", "path": "/spec/template/spec/containers/0/env", "value": [{"name": "VAULT_ADDR", "value": "http://vault.vault.svc:8200"}]}])
	"MER-PLT-006" in fx.prod_rule_ids([env_addr, fx.pdb])
	annotated := fx.patched([{"op": "add", "path": "/spec/template/metadata/annotations", "value": {"vault.hashicorp.com/service": "http://vault.vault.svc:8200"}}])
	"MER-PLT-006" in fx.prod_rule_ids([annotated, fx.pdb])
	not "MER-PLT-006" in fx.rule_ids([annotated])
}

_agent(annotations) := fx.patched([{"op": "add", "path": "/spec/template/metadata/annotations", "value": object.union({"vault.hashicorp.com/agent-inject": "true"}, annotations)}])

_agent_problems(annotations, env) := {r.detail | some r in fx.results([_agent(annotations), fx.pdb], env); r.rule == "MER-PLT-006"}

test_vault_agents_that_do_not_verify_vault_are_reported_outside_dev if {
	some detail in _agent_problems({}, "prod")
	contains(detail, "does not verify Vault's certificate in prod")
	count(_agent_problems({}, "staging")) == 1
	_agent_problems({}, "dev") == set()
}

test_vault_agents_that_skip_verification_are_reported if {
	skipping := {"vault.hashicorp.com/ca-cert": "/vault/tls/ca.crt", "vault.hashicorp.com/tls-skip-verify": "true"}
	some detail in _agent_problems(skipping, "prod")
	contains(detail, "skips verifying Vault's certificate")
}

test_vault_agents_with_the_platform_ca_pass if {
	_agent_problems({"vault.hashicorp.com/tls-secret": "vault-ca", "vault.hashicorp.com/ca-cert": "/vault/tls/ca.crt"}, "prod") == set()
}
