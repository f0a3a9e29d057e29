package meridian.rules.pss_test

import data.meridian.test.fixtures as fx

test_hardened_deployment_passes_every_rule if {
	count(fx.rule_ids([fx.deployment])) == 0
	count(fx.prod_rule_ids([fx.deployment, fx.pdb])) == 0
}

test_privileged_container_is_denied if {
	fx.rule_ids([fx.patched([{"op": "add", "path": concat("/", [fx.container_sc, "privileged"]), "value": true}])]) == {"MER-PSS-001"}
}

test_privileged_false_passes if {
	fx.rule_ids([fx.patched([{"op": "add", "path": concat("/", [fx.container_sc, "privileged"]), "value": false}])]) == set()
}

test_privilege_escalation_by_default_is_denied if {
	fx.rule_ids([fx.patched([{"op": "remove", "path": concat("/", [fx.container_sc, "allowPrivilegeEscalation"])}])]) == {"MER-PSS-002"}
}

test_init_containers_are_checked_too if {
	init := json.patch(fx.container, [{"op": "replace", "path": "/securityContext/allowPrivilegeEscalation", "value": true}, {"op": "replace", "path": "/name", "value": "migrate"}])
	d := fx.patched([{"op": "add", "path": "/spec/template/spec/initContainers", "value": [init]}])
	some r in fx.results([d], "dev")
	r.rule == "MER-PSS-002"
	contains(r.detail, `init container "migrate"`)
}

test_run_as_non_root_missing_everywhere_is_denied if {
	d := fx.patched([
		{"op": "remove", "path": concat("/", [fx.container_sc, "runAsNonRoot"])},
		{"op": "remove", "path": concat("/", [fx.pod_sc, "runAsNonRoot"])},
	])
	fx.rule_ids([d]) == {"MER-PSS-003"}
}

test_run_as_non_root_on_the_pod_is_enough if {
	fx.rule_ids([fx.patched([{"op": "remove", "path": concat("/", [fx.container_sc, "runAsNonRoot"])}])]) == set()
}

test_container_overriding_run_as_non_root_is_denied if {
	fx.rule_ids([fx.patched([{"op": "replace", "path": concat("/", [fx.container_sc, "runAsNonRoot"]), "value": false}])]) == {"MER-PSS-003"}
}

test_uid_zero_is_denied if {
	fx.rule_ids([fx.patched([{"op": "replace", "path": concat("/", [fx.pod_sc, "runAsUser"]), "value": 0}])]) == {"MER-PSS-004"}
}

test_container_uid_overrides_pod_uid if {
	d := fx.patched([
		{"op": "replace", "path": concat("/", [fx.pod_sc, "runAsUser"]), "value": 0},
		{"op": "add", "path": concat("/", [fx.container_sc, "runAsUser"]), "value": 1000},
	])
	fx.rule_ids([d]) == set()
}

test_host_namespaces_are_denied if {
	every field in ["hostNetwork", "hostPID", "hostIPC"] {
		fx.rule_ids([fx.patched([{"op": "add", "path": sprintf("/spec/template/spec/%s", [field]), "value": true}])]) == {"MER-PSS-005"}
	}
}

test_host_network_false_passes if {
	fx.rule_ids([fx.patched([{"op": "add", "path": "/spec/template/spec/hostNetwork", "value": false}])]) == set()
}

test_host_path_is_denied if {
	v := {"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}
	fx.rule_ids([fx.patched([{"op": "add", "path": "/spec/template/spec/volumes/-", "value": v}])]) == {"MER-PSS-006"}
}

test_volume_types_outside_the_restricted_list_are_denied if {
	v := {"name": "shared", "nfs": {"server": "nfs", "path": "/"}}
	fx.rule_ids([fx.patched([{"op": "add", "path": "/spec/template/spec/volumes/-", "value": v}])]) == {"MER-PSS-007"}
}

test_allowed_volume_types_pass if {
	volumes := [
		{"name": "a", "configMap": {"name": "x"}},
		{"name": "b", "secret": {"secretName": "x"}},
		{"name": "c", "projected": {"sources": []}},
		{"name": "d", "persistentVolumeClaim": {"claimName": "x"}},
		{"name": "e", "downwardAPI": {"items": []}},
	]
	fx.rule_ids([fx.patched([{"op": "replace", "path": "/spec/template/spec/volumes", "value": volumes}])]) == set()
}

test_host_port_is_denied if {
	fx.rule_ids([fx.patched([{"op": "add", "path": "/spec/template/spec/containers/0/ports/0/hostPort", "value": 8080}])]) == {"MER-PSS-008"}
}

test_host_port_zero_passes if {
	fx.rule_ids([fx.patched([{"op": "add", "path": "/spec/template/spec/containers/0/ports/0/hostPort", "value": 0}])]) == set()
}

test_capabilities_not_dropped_are_denied if {
	fx.rule_ids([fx.patched([{"op": "replace", "path": concat("/", [fx.container_sc, "capabilities"]), "value": {"drop": ["NET_RAW"]}}])]) == {"MER-PSS-009"}
}

test_added_capability_is_denied if {
	fx.rule_ids([fx.patched([{"op": "add", "path": concat("/", [fx.container_sc, "capabilities", "add"]), "value": ["SYS_ADMIN"]}])]) == {"MER-PSS-010"}
}

test_net_bind_service_may_be_added if {
	fx.rule_ids([fx.patched([{"op": "add", "path": concat("/", [fx.container_sc, "capabilities", "add"]), "value": ["NET_BIND_SERVICE"]}])]) == set()
}

test_missing_seccomp_is_denied if {
	d := fx.patched([
		{"op": "remove", "path": concat("/", [fx.container_sc, "seccompProfile"])},
		{"op": "remove", "path": concat("/", [fx.pod_sc, "seccompProfile"])},
	])
	fx.rule_ids([d]) == {"MER-PSS-011"}
}

test_unconfined_seccomp_in_the_container_overrides_the_pod if {
	fx.rule_ids([fx.patched([{"op": "replace", "path": concat("/", [fx.container_sc, "seccompProfile"]), "value": {"type": "Unconfined"}}])]) == {"MER-PSS-011"}
}

test_localhost_seccomp_passes if {
	profile := {"type": "Localhost", "localhostProfile": "profiles/orders.json"}
	fx.rule_ids([fx.patched([{"op": "replace", "path": concat("/", [fx.container_sc, "seccompProfile"]), "value": profile}])]) == set()
}

test_apparmor_unconfined_is_denied if {
	fx.rule_ids([fx.patched([{"op": "add", "path": concat("/", [fx.pod_sc, "appArmorProfile"]), "value": {"type": "Unconfined"}}])]) == {"MER-PSS-012"}
}

test_apparmor_unconfined_annotation_is_denied if {
	ann := {"container.apparmor.security.beta.kubernetes.io/orders": "unconfined"}
	fx.rule_ids([fx.patched([{"op": "add", "path": "/spec/template/metadata/annotations", "value": ann}])]) == {"MER-PSS-012"}
}

test_apparmor_runtime_default_and_localhost_pass if {
	ann := {
		"container.apparmor.security.beta.kubernetes.io/orders": "runtime/default",
		"container.apparmor.security.beta.kubernetes.io/sidecar": "localhost/orders",
	}
	d := fx.patched([
		{"op": "add", "path": "/spec/template/metadata/annotations", "value": ann},
		{"op": "add", "path": concat("/", [fx.container_sc, "appArmorProfile"]), "value": {"type": "RuntimeDefault"}},
	])
	fx.rule_ids([d]) == set()
}

test_unmasked_proc_is_denied if {
	fx.rule_ids([fx.patched([{"op": "add", "path": concat("/", [fx.container_sc, "procMount"]), "value": "Unmasked"}])]) == {"MER-PSS-013"}
}

test_default_proc_mount_passes if {
	fx.rule_ids([fx.patched([{"op": "add", "path": concat("/", [fx.container_sc, "procMount"]), "value": "Default"}])]) == set()
}

test_unsafe_sysctl_is_denied if {
	sysctls := [{"name": "net.ipv4.tcp_syncookies", "value": "1"}, {"name": "kernel.msgmax", "value": "1"}]
	results := fx.results([fx.patched([{"op": "add", "path": concat("/", [fx.pod_sc, "sysctls"]), "value": sysctls}])], "dev")
	{r.rule | some r in results} == {"MER-PSS-014"}
	count(results) == 1
}

test_writable_root_filesystem_is_denied if {
	fx.rule_ids([fx.patched([{"op": "remove", "path": concat("/", [fx.container_sc, "readOnlyRootFilesystem"])}])]) == {"MER-PSS-015"}
}

test_ephemeral_containers_need_no_read_only_root if {
	debug := json.patch(fx.container, [
		{"op": "remove", "path": "/securityContext/readOnlyRootFilesystem"},
		{"op": "replace", "path": "/name", "value": "debug"},
	])
	fx.rule_ids([fx.patched([{"op": "add", "path": "/spec/template/spec/ephemeralContainers", "value": [debug]}])]) == set()
}

test_selinux_custom_type_user_and_role_are_denied if {
	every options in [{"type": "spc_t"}, {"user": "system_u"}, {"role": "system_r"}] {
		fx.rule_ids([fx.patched([{"op": "add", "path": concat("/", [fx.pod_sc, "seLinuxOptions"]), "value": options}])]) == {"MER-PSS-016"}
	}
}

test_selinux_container_types_and_levels_pass if {
	options := {"type": "container_t", "level": "s0:c123,c456"}
	fx.rule_ids([fx.patched([{"op": "add", "path": concat("/", [fx.container_sc, "seLinuxOptions"]), "value": options}])]) == set()
}

test_every_pod_carrying_kind_is_checked if {
	bare_pod := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"}, "spec": json.patch(fx.pod_spec, [{"op": "add", "path": "/hostPID", "value": true}])}
	job_template := {"spec": json.patch(fx.pod_spec, [{"op": "add", "path": "/hostPID", "value": true}])}
	cron := {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c", "namespace": "shop"}, "spec": {"jobTemplate": {"spec": {"template": job_template}}}}
	daemon := json.patch(fx.deployment, [{"op": "replace", "path": "/kind", "value": "DaemonSet"}, {"op": "add", "path": "/spec/template/spec/hostPID", "value": true}])
	every obj in [bare_pod, cron, daemon] {
		"MER-PSS-005" in fx.rule_ids([obj])
	}
}

test_ephemeral_containers_are_named_as_such if {
	debug := json.patch(fx.container, [
		{"op": "add", "path": "/securityContext/privileged", "value": true},
		{"op": "replace", "path": "/name", "value": "debug"},
	])
	some r in fx.results([fx.patched([{"op": "add", "path": "/spec/template/spec/ephemeralContainers", "value": [debug]}])], "dev")
	r.rule == "MER-PSS-001"
	contains(r.detail, `ephemeral container "debug"`)
}
