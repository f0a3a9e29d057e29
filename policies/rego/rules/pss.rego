# Pod Security Standards, restricted profile (which includes baseline), for every pod template.
# Each rule reads the pod-level securityContext where the standard allows a pod-wide setting and
# lets the container's own securityContext override it, as the kubelet does.
package meridian.rules.pss

import data.meridian.lib

_pod_sc(spec) := object.get(spec, "securityContext", {})

_sc(c) := object.get(c.container, "securityContext", {})

# A container setting if present, else the pod's, else `default`.
_effective(spec, c, field, default_value) := _sc(c)[field] if {
	_sc(c)[field] != null
} else := _pod_sc(spec)[field] if {
	_pod_sc(spec)[field] != null
} else := default_value

# An array rather than a set: the entries hold whole objects, which are costly to hash.
_containers := [[e, spec, c] |
	some e in lib.workloads
	spec := lib.pod_spec(e.obj)
	some c in lib.all_containers(spec)
]

violation contains lib.violation(e, "MER-PSS-001", msg) if {
	some [e, _, c] in _containers
	_sc(c).privileged == true
	msg := sprintf("%s runs privileged; set securityContext.privileged: false", [lib.container_label(c)])
}

violation contains lib.violation(e, "MER-PSS-002", msg) if {
	some [e, _, c] in _containers
	object.get(_sc(c), "allowPrivilegeEscalation", true) != false
	msg := sprintf("%s may gain privileges; set securityContext.allowPrivilegeEscalation: false", [lib.container_label(c)])
}

violation contains lib.violation(e, "MER-PSS-003", msg) if {
	some [e, spec, c] in _containers
	_effective(spec, c, "runAsNonRoot", false) != true
	msg := sprintf("%s may run as root; set securityContext.runAsNonRoot: true (pod or container)", [lib.container_label(c)])
}

violation contains lib.violation(e, "MER-PSS-004", msg) if {
	some [e, spec, c] in _containers
	_effective(spec, c, "runAsUser", null) == 0
	msg := sprintf("%s runs as UID 0; set securityContext.runAsUser to a non-zero UID", [lib.container_label(c)])
}

violation contains lib.violation(e, "MER-PSS-005", msg) if {
	some e in lib.workloads
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	lib.pod_spec(e.obj)[field] == true
	msg := sprintf("pod shares the node's namespace through %s; remove spec.%s", [field, field])
}

violation contains lib.violation(e, "MER-PSS-006", msg) if {
	some e in lib.workloads
	some v in object.get(lib.pod_spec(e.obj), "volumes", [])
	v.hostPath
	msg := sprintf("volume %q mounts a node path (hostPath %v); use emptyDir, a ConfigMap or a PersistentVolumeClaim", [v.name, object.get(v.hostPath, "path", "?")])
}

# The volume sources the restricted profile allows; hostPath has its own rule above.
_allowed_volumes := {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim", "projected", "secret"}

violation contains lib.violation(e, "MER-PSS-007", msg) if {
	some e in lib.workloads
	some v in object.get(lib.pod_spec(e.obj), "volumes", [])
	some source in object.keys(object.remove(v, ["name", "hostPath"]))
	not source in _allowed_volumes
	msg := sprintf("volume %q uses %s, which the restricted profile forbids; use one of %s", [v.name, source, concat(", ", sort(_allowed_volumes))])
}

violation contains lib.violation(e, "MER-PSS-008", msg) if {
	some [e, _, c] in _containers
	some port in object.get(c.container, "ports", [])
	object.get(port, "hostPort", 0) != 0
	msg := sprintf("%s binds host port %v; remove hostPort and expose the port through a Service", [lib.container_label(c), port.hostPort])
}

violation contains lib.violation(e, "MER-PSS-009", msg) if {
	some [e, _, c] in _containers
	not "ALL" in object.get(_sc(c), ["capabilities", "drop"], [])
	msg := sprintf("%s keeps the default capabilities; set securityContext.capabilities.drop: [ALL]", [lib.container_label(c)])
}

violation contains lib.violation(e, "MER-PSS-010", msg) if {
	some [e, _, c] in _containers
	some cap in object.get(_sc(c), ["capabilities", "add"], [])
	cap != "NET_BIND_SERVICE"
	msg := sprintf("%s adds capability %v; only NET_BIND_SERVICE may be added", [lib.container_label(c), cap])
}

violation contains lib.violation(e, "MER-PSS-011", msg) if {
	some [e, spec, c] in _containers
	profile := _effective(spec, c, "seccompProfile", {})
	not object.get(profile, "type", "") in {"RuntimeDefault", "Localhost"}
	msg := sprintf("%s has seccomp profile %q; set securityContext.seccompProfile.type: RuntimeDefault (pod or container)", [lib.container_label(c), object.get(profile, "type", "none")])
}

violation contains lib.violation(e, "MER-PSS-012", msg) if {
	some [e, spec, c] in _containers
	_effective(spec, c, "appArmorProfile", {}).type == "Unconfined"
	msg := sprintf("%s runs without AppArmor; remove appArmorProfile.type: Unconfined (use RuntimeDefault)", [lib.container_label(c)])
}

violation contains lib.violation(e, "MER-PSS-012", msg) if {
	some e in lib.workloads
	some key, value in object.get(lib.pod_metadata(e.obj), "annotations", {})
	startswith(key, "container.apparmor.security.beta.kubernetes.io/")
	value != "runtime/default"
	not startswith(value, "localhost/")
	msg := sprintf("annotation %s is %q; use runtime/default or a localhost/ profile", [key, value])
}

violation contains lib.violation(e, "MER-PSS-013", msg) if {
	some [e, _, c] in _containers
	object.get(_sc(c), "procMount", "Default") != "Default"
	msg := sprintf("%s unmasks /proc (procMount %v); remove procMount or set it to Default", [lib.container_label(c), _sc(c).procMount])
}

# The sysctls the baseline profile calls safe: namespaced and unable to affect other pods.
_safe_sysctls := {
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.ping_group_range",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_syncookies",
}

violation contains lib.violation(e, "MER-PSS-014", msg) if {
	some e in lib.workloads
	some sysctl in object.get(_pod_sc(lib.pod_spec(e.obj)), "sysctls", [])
	not sysctl.name in _safe_sysctls
	msg := sprintf("pod sets unsafe sysctl %v; remove it from securityContext.sysctls", [sysctl.name])
}

violation contains lib.violation(e, "MER-PSS-015", msg) if {
	some [e, _, c] in _containers
	c.field != "ephemeralContainers"
	object.get(_sc(c), "readOnlyRootFilesystem", false) != true
	msg := sprintf("%s can write to its root filesystem; set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where it must write", [lib.container_label(c)])
}

_selinux_types := {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

violation contains lib.violation(e, "MER-PSS-016", msg) if {
	some [e, spec, c] in _containers
	options := _effective(spec, c, "seLinuxOptions", {})
	_selinux_escalates(options)
	msg := sprintf("%s sets seLinuxOptions %v; remove user and role, and use a container_* type", [lib.container_label(c), options])
}

_selinux_escalates(options) if not object.get(options, "type", "") in _selinux_types

_selinux_escalates(options) if object.get(options, "user", "") != ""

_selinux_escalates(options) if object.get(options, "role", "") != ""
