# Every rule of the gate: id, severity, one-line title and the standard it comes from.
#
# The severity lives here and nowhere else, so changing a rule from warn to deny is a one-line
# review. policies/README.md lists the same table for people; a test keeps the two in step.
package meridian.catalog

import data.meridian.lib

_pss := "https://kubernetes.io/docs/concepts/security/pod-security-standards/"

_nsa := "https://media.defense.gov/2022/Aug/29/2003066362/-1/-1/0/CTR_KUBERNETES_HARDENING_GUIDANCE_1.2_20220829.PDF"

_rbac := "https://kubernetes.io/docs/concepts/security/rbac-good-practices/"

_cis := "https://www.cisecurity.org/benchmark/kubernetes"

_owasp := "https://owasp.org/www-project-kubernetes-top-ten/"

_meridian := "policies/README.md"

_argo_projects := "https://argo-cd.readthedocs.io/en/stable/user-guide/projects/"

rules := {
	# Pod Security Standards: baseline and restricted profiles.
	"MER-PSS-001": _rule("deny", "privileged container", "Pod Security Standards, baseline: Privileged Containers", _pss),
	"MER-PSS-002": _rule("deny", "privilege escalation allowed", "Pod Security Standards, restricted: Privilege Escalation", _pss),
	"MER-PSS-003": _rule("deny", "not required to run as non-root", "Pod Security Standards, restricted: Running as Non-root", _pss),
	"MER-PSS-004": _rule("deny", "runs as UID 0", "Pod Security Standards, restricted: Running as Non-root user", _pss),
	"MER-PSS-005": _rule("deny", "shares a host namespace", "Pod Security Standards, baseline: Host Namespaces", _pss),
	"MER-PSS-006": _rule("deny", "hostPath volume", "Pod Security Standards, baseline: HostPath Volumes", _pss),
	"MER-PSS-007": _rule("deny", "volume type outside the restricted list", "Pod Security Standards, restricted: Volume Types", _pss),
	"MER-PSS-008": _rule("deny", "host port", "Pod Security Standards, baseline: Host Ports", _pss),
	"MER-PSS-009": _rule("deny", "capabilities not dropped", "Pod Security Standards, restricted: Capabilities", _pss),
	"MER-PSS-010": _rule("deny", "capability added", "Pod Security Standards, baseline and restricted: Capabilities", _pss),
	"MER-PSS-011": _rule("deny", "no seccomp profile", "Pod Security Standards, restricted: Seccomp", _pss),
	"MER-PSS-012": _rule("deny", "AppArmor unconfined", "Pod Security Standards, baseline: AppArmor", _pss),
	"MER-PSS-013": _rule("deny", "unmasked /proc", "Pod Security Standards, baseline: /proc Mount Type", _pss),
	"MER-PSS-014": _rule("deny", "unsafe sysctl", "Pod Security Standards, baseline: Sysctls", _pss),
	"MER-PSS-015": _rule("deny", "writable root filesystem", "NSA/CISA Kubernetes Hardening Guide: immutable container file systems", _nsa),
	"MER-PSS-016": _rule("deny", "custom SELinux options", "Pod Security Standards, baseline: SELinux", _pss),
	# Resources and probes.
	"MER-RES-001": _rule("deny", "no CPU or memory request", "Kubernetes docs: Resource Management for Pods and Containers", "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/"),
	"MER-RES-002": _rule("deny", "no memory limit", "Kubernetes docs: Resource Management for Pods and Containers", "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/"),
	"MER-RES-003": _rule("warn", "no CPU limit", "Kubernetes docs: Resource Management for Pods and Containers", "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/"),
	"MER-PRB-001": _rule("deny", "no readiness probe", "Kubernetes docs: Configure Liveness, Readiness and Startup Probes", "https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/"),
	"MER-PRB-002": _rule("deny", "no liveness probe", "Kubernetes docs: Configure Liveness, Readiness and Startup Probes", "https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/"),
	# Images.
	"MER-IMG-001": _rule("deny", "image tag latest or missing", "Kubernetes docs: Images, best practices (avoid :latest)", "https://kubernetes.io/docs/concepts/containers/images/"),
	"MER-IMG-002": _rule("warn", "image not pinned by digest", "Kubernetes docs: Images, image names and digests", "https://kubernetes.io/docs/concepts/containers/images/#image-names"),
	# RBAC.
	"MER-RBAC-001": _rule("deny", "wildcard in RBAC rule", "Kubernetes RBAC Good Practices: least privilege (avoid wildcards)", _rbac),
	"MER-RBAC-002": _rule("deny", "binding to cluster-admin", "CIS Kubernetes Benchmark 5.1.1: cluster-admin only where required", _cis),
	"MER-RBAC-003": _rule("deny", "workload uses the default service account", "CIS Kubernetes Benchmark 5.1.5: default service accounts not actively used", _cis),
	"MER-RBAC-004": _rule("deny", "role bound to a default service account", "CIS Kubernetes Benchmark 5.1.5: default service accounts not actively used", _cis),
	# Secrets.
	"MER-SEC-001": _rule("deny", "Secret with data in git", "OWASP Kubernetes Top Ten K08: Secrets Management Failures", _owasp),
	"MER-SEC-002": _rule("deny", "literal credential in an env value", "CIS Kubernetes Benchmark 5.4.1: secrets as files or references, not literals", _cis),
	# Exposure.
	"MER-NET-001": _rule("deny", "NodePort Service", "NSA/CISA Kubernetes Hardening Guide: network separation", _nsa),
	"MER-NET-002": _rule("warn", "LoadBalancer Service", "NSA/CISA Kubernetes Hardening Guide: network separation", _nsa),
	"MER-NET-003": _rule("deny", "Ingress without TLS", "NSA/CISA Kubernetes Hardening Guide: encrypt traffic in transit", _nsa),
	"MER-NET-004": _rule("deny", "egress to any address on 443 or 6443", "NSA/CISA Kubernetes Hardening Guide: network separation (restrict egress)", _nsa),
	"MER-NET-005": _rule("deny", "workload outside any default-deny NetworkPolicy", "CIS Kubernetes Benchmark 5.3.2: every namespace has network policies", _cis),
	# Namespaces.
	"MER-NS-001": _rule("deny", "namespace without Pod Security labels", "Kubernetes docs: Pod Security Admission", "https://kubernetes.io/docs/concepts/security/pod-security-admission/"),
	"MER-NS-002": _rule("deny", "app namespace not enforcing restricted", "Kubernetes docs: Pod Security Admission", "https://kubernetes.io/docs/concepts/security/pod-security-admission/"),
	"MER-NS-003": _rule("deny", "object in the default namespace", "CIS Kubernetes Benchmark 5.7.4: the default namespace should not be used", _cis),
	"MER-NS-004": _rule("deny", "Pod Security labels without enforce", "Kubernetes docs: Pod Security Admission (audit and warn do not block)", "https://kubernetes.io/docs/concepts/security/pod-security-admission/"),
	# Argo CD.
	"MER-ARGO-001": _rule("deny", "Argo CD Application in the default project", "Argo CD docs: Projects (the default project allows everything)", _argo_projects),
	"MER-ARGO-002": _rule("deny", "Argo CD Application outside its environment", "Argo CD docs: Projects (destinations); Meridian: one environment per cluster", _argo_projects),
	"MER-ARGO-003": _rule("deny", "AppProject allows everything", "Argo CD docs: Projects (restrict sources, destinations and cluster resources)", _argo_projects),
	"MER-ARGO-004": _rule("deny", "AppProject does not reserve the platform's kinds", "Argo CD docs: Projects (namespaceResourceBlacklist); Meridian ownership line", _argo_projects),
	# Availability, production only.
	"MER-AVL-001": _rule("deny", "fewer than 2 replicas in prod", "Kubernetes docs: Disruptions (run more than one replica)", "https://kubernetes.io/docs/concepts/workloads/pods/disruptions/"),
	"MER-AVL-002": _rule("deny", "no PodDisruptionBudget in prod", "Kubernetes docs: Specifying a Disruption Budget for your Application", "https://kubernetes.io/docs/tasks/run-application/configure-pdb/"),
	"MER-AVL-003": _rule("deny", "PodDisruptionBudget forbids every eviction", "Kubernetes docs: Specifying a Disruption Budget for your Application", "https://kubernetes.io/docs/tasks/run-application/configure-pdb/"),
	"MER-AVL-004": _rule("deny", "autoscaler may scale to 1 replica in prod", "Kubernetes docs: Disruptions (run more than one replica)", "https://kubernetes.io/docs/concepts/workloads/pods/disruptions/"),
	# Platform, over the Pulumi render.
	"MER-PLT-001": _rule("deny", "app namespace without ResourceQuota", "Kubernetes docs: Resource Quotas", "https://kubernetes.io/docs/concepts/policy/resource-quotas/"),
	"MER-PLT-002": _rule("deny", "app namespace without LimitRange", "Kubernetes docs: Limit Ranges", "https://kubernetes.io/docs/concepts/policy/limit-range/"),
	"MER-PLT-003": _rule("deny", "app namespace without default-deny NetworkPolicy", "CIS Kubernetes Benchmark 5.3.2: every namespace has network policies", _cis),
	"MER-PLT-004": _rule("deny", "Helm release not pinned", "OpenSSF Scorecard: Pinned-Dependencies", "https://github.com/ossf/scorecard/blob/main/docs/checks.md#pinned-dependencies"),
	"MER-PLT-005": _rule("deny", "single-replica platform component in prod", "Meridian platform standard: production components are highly available", _meridian),
	"MER-PLT-006": _rule("deny", "Vault over plain HTTP outside dev", "Vault docs: production hardening (end-to-end TLS)", "https://developer.hashicorp.com/vault/docs/concepts/production-hardening"),
	# Exemptions.
	"MER-EXM-001": _rule("deny", "malformed or reasonless exemption", "Meridian exemption policy", _meridian),
	"MER-EXM-002": _rule("deny", "expired exemption", "Meridian exemption policy", _meridian),
	"MER-EXM-003": _rule("warn", "exemption names an unknown rule", "Meridian exemption policy", _meridian),
	"MER-EXM-004": _rule("deny", "checkov skip annotation instead of an exemption", "Meridian exemption policy", _meridian),
}

# Rules the repository's own platform render still breaks, while the change that fixes it is on its
# way: reported as warnings until the date (which still counts), then at their catalog severity by
# themselves. Each says what must change. Remove the entry when the render complies.
# Entries read `"MER-XXX-000": _until("YYYY-MM-DD", "what must change")`. With none, object.union
# keeps the value an object keyed by rule for the type checker; a literal {} has no keys, so OPA
# refuses every `transitions[rule]` lookup and the whole policy set fails to compile.
transitions := object.union({}, {})

_until(date, reason) := {"until": date, "reason": reason}

# The severity a rule is reported at today: its catalog severity, or warn while a transition lasts.
severity(rule) := "warn" if {
	transitions[rule].until >= lib.today
} else := rules[rule].severity

_rule(severity, title, reference, url) := {"severity": severity, "title": title, "reference": reference, "url": url}
