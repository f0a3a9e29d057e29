# Exemptions: applied while valid, reported always, violations of their own when broken.
package meridian.rules.exemptions_test

import data.meridian.test.fixtures as fx

_writable := concat("/", [fx.container_sc, "readOnlyRootFilesystem"])

_exempt(value) := fx.patched([
	{"op": "replace", "path": _writable, "value": false},
	{"op": "add", "path": "/metadata/annotations", "value": {"exemption.meridian.dev/MER-PSS-015": value}},
])

test_active_exemption_suppresses_the_rule_and_is_reported if {
	d := _exempt("expires=2026-12-31; reason=vendor image writes its cache to /var until 2.0")
	fx.rule_ids([d]) == set()
	some x in fx.exemption_records([d])
	x.rule == "MER-PSS-015"
	x.status == "active"
	x.expires == "2026-12-31"
	x.reason == "vendor image writes its cache to /var until 2.0"
	x.kind == "Deployment"
}

test_exemption_is_valid_through_its_expiry_day if {
	fx.rule_ids([_exempt("expires=2026-06-01; reason=until the fix ships")]) == set()
}

test_reason_may_contain_semicolons_and_spacing_is_free if {
	d := _exempt("  expires = 2026-12-31 ;reason= a; b  ")
	some x in fx.exemption_records([d])
	x.reason == "a; b"
	x.status == "active"
}

test_expired_exemption_is_denied_and_no_longer_applies if {
	fx.rule_ids([_exempt("expires=2026-05-31; reason=was temporary")]) == {"MER-EXM-002", "MER-PSS-015"}
}

test_reasonless_or_malformed_exemption_is_denied_and_does_not_apply if {
	every value in ["expires=2026-12-31; reason=", "expires=2026-12-31", "reason=x; expires=2026-12-31", "someday", "expires=31.12.2026; reason=x"] {
		fx.rule_ids([_exempt(value)]) == {"MER-EXM-001", "MER-PSS-015"}
	}
}

test_non_string_exemption_is_malformed if {
	d := fx.patched([{"op": "add", "path": "/metadata/annotations", "value": {"exemption.meridian.dev/MER-PSS-015": 2026}}])
	fx.rule_ids([d]) == {"MER-EXM-001"}
}

test_exemption_naming_an_unknown_rule_is_warned if {
	d := fx.patched([{"op": "add", "path": "/metadata/annotations", "value": {"exemption.meridian.dev/MER-PSS-999": "expires=2026-12-31; reason=typo"}}])
	some r in fx.results([d], "dev")
	r.rule == "MER-EXM-003"
	r.severity == "warn"
}

test_exemption_from_a_checkov_check_is_known if {
	d := fx.patched([{"op": "add", "path": "/metadata/annotations", "value": {"exemption.meridian.dev/CKV_K8S_43": "expires=2026-12-31; reason=digest set at deploy"}}])
	fx.rule_ids([d]) == set()
	some x in fx.exemption_records([d])
	x.rule == "CKV_K8S_43"
}

test_exemption_rules_cannot_be_exempted if {
	d := fx.patched([{"op": "add", "path": "/metadata/annotations", "value": {
		"exemption.meridian.dev/MER-EXM-002": "expires=2026-12-31; reason=hide the other one",
		"exemption.meridian.dev/MER-IMG-002": "expires=2020-01-01; reason=old",
	}}])
	fx.rule_ids([d]) == {"MER-EXM-002"}
}

test_checkov_skip_annotation_is_denied if {
	d := fx.patched([{"op": "add", "path": "/metadata/annotations", "value": {"checkov.io/skip1": "CKV_K8S_43=no"}}])
	fx.rule_ids([d]) == {"MER-EXM-004"}
}

test_exemption_on_a_cluster_scoped_object_is_reported if {
	role := {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "all", "annotations": {"exemption.meridian.dev/MER-RBAC-001": "expires=2026-12-31; reason=migration tool"}}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"]}]}
	fx.rule_ids([role]) == set()
	some x in fx.exemption_records([role])
	contains(x.detail, "ClusterRole all: exemption active")
}
