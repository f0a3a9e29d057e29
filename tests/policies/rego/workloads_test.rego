# Resources, probes and images.
package meridian.rules.workloads_test

import data.meridian.rules.images
import data.meridian.test.fixtures as fx

test_missing_requests_are_denied_per_resource if {
	results := fx.results([fx.patched([{"op": "remove", "path": "/spec/template/spec/containers/0/resources/requests"}])], "dev")
	{r.rule | some r in results} == {"MER-RES-001"}
	count(results) == 2
}

test_missing_memory_limit_is_denied if {
	fx.rule_ids([fx.patched([{"op": "remove", "path": "/spec/template/spec/containers/0/resources/limits/memory"}])]) == {"MER-RES-002"}
}

test_missing_cpu_limit_is_a_warning if {
	some r in fx.results([fx.patched([{"op": "remove", "path": "/spec/template/spec/containers/0/resources/limits/cpu"}])], "dev")
	r.rule == "MER-RES-003"
	r.severity == "warn"
}

test_missing_probes_are_denied if {
	d := fx.patched([
		{"op": "remove", "path": "/spec/template/spec/containers/0/readinessProbe"},
		{"op": "remove", "path": "/spec/template/spec/containers/0/livenessProbe"},
	])
	fx.rule_ids([d]) == {"MER-PRB-001", "MER-PRB-002"}
}

test_jobs_need_no_probes if {
	spec := json.patch(fx.pod_spec, [
		{"op": "remove", "path": "/containers/0/readinessProbe"},
		{"op": "remove", "path": "/containers/0/livenessProbe"},
	])
	job := {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "shop"}, "spec": {"template": {"spec": spec}}}
	fx.rule_ids([job]) == set()
}

_with_image(image) := fx.patched([{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": image}])

test_latest_and_missing_tags_are_denied if {
	every image in ["registry.meridian.dev/orders:latest", "registry.meridian.dev/orders", "orders", "registry:5000/orders"] {
		fx.rule_ids([_with_image(image)]) == {"MER-IMG-001"}
	}
}

test_digest_alone_pins_the_image if {
	fx.rule_ids([_with_image(sprintf("registry.meridian.dev/orders@%s", [fx.digest]))]) == set()
}

test_tag_without_digest_is_a_warning if {
	fx.rule_ids([_with_image("registry:5000/orders:1.4.2")]) == {"MER-IMG-002"}
}

test_tag_parsing_ignores_registry_ports if {
	images.tag("registry:5000/team/orders") == ""
	images.tag("registry:5000/team/orders:1.2@sha256:abc") == "1.2"
	images.tag("orders:v2") == "v2"
}
