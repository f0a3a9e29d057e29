# Objects and helpers shared by the Rego unit tests: hardened objects that pass every rule, which
# each test breaks in exactly one place, and a way to ask which rules fire on a set of objects.
package meridian.test.fixtures

import data.main

digest := "sha256:8ca97f9c6fa42baa02b99b75f200df1770b84e2d8733660662e14c0f1f50c639"

image := sprintf("registry.meridian.dev/apps/orders:1.4.2@%s", [digest])

container := {
	"name": "orders",
	"image": image,
	"ports": [{"name": "grpc", "containerPort": 8080}],
	"readinessProbe": {"grpc": {"port": 8080}},
	"livenessProbe": {"grpc": {"port": 8080}},
	"resources": {
		"requests": {"cpu": "100m", "memory": "128Mi"},
		"limits": {"cpu": "1", "memory": "256Mi"},
	},
	"securityContext": {
		"allowPrivilegeEscalation": false,
		"readOnlyRootFilesystem": true,
		"runAsNonRoot": true,
		"capabilities": {"drop": ["ALL"]},
		"seccompProfile": {"type": "RuntimeDefault"},
	},
}

pod_spec := {
	"serviceAccountName": "orders",
	"automountServiceAccountToken": false,
	"securityContext": {
		"runAsNonRoot": true,
		"runAsUser": 65532,
		"seccompProfile": {"type": "RuntimeDefault"},
	},
	"containers": [container],
	"volumes": [{"name": "tmp", "emptyDir": {}}],
}

labels := {"app.kubernetes.io/name": "orders"}

deployment := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "orders", "namespace": "shop"},
	"spec": {
		"replicas": 2,
		"selector": {"matchLabels": labels},
		"template": {"metadata": {"labels": labels}, "spec": pod_spec},
	},
}

pdb := {
	"apiVersion": "policy/v1",
	"kind": "PodDisruptionBudget",
	"metadata": {"name": "orders", "namespace": "shop"},
	"spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels}},
}

namespace := {
	"apiVersion": "v1",
	"kind": "Namespace",
	"metadata": {"name": "shop", "labels": {
		"meridian.dev/tier": "app",
		"pod-security.kubernetes.io/enforce": "restricted",
	}},
}

quota := {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "shop", "namespace": "shop"}, "spec": {"hard": {"pods": "10"}}}

limit_range := {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "shop", "namespace": "shop"}, "spec": {"limits": []}}

default_deny := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "NetworkPolicy",
	"metadata": {"name": "default-deny", "namespace": "shop"},
	"spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
}

app_namespace := [namespace, quota, limit_range, default_deny]

helm_release := {
	"apiVersion": "meridian.dev/v1alpha1",
	"kind": "HelmRelease",
	"metadata": {"name": "argo-cd", "namespace": "argocd"},
	"spec": {
		"chart": "argo-cd",
		"version": "7.7.11",
		"repository": "https://argoproj.github.io/argo-helm",
		"values": {"controller": {"replicas": 2}, "redis-ha": {"enabled": true}},
	},
}

# The objects as conftest --combine hands them over.
as_input(objects) := [{"path": sprintf("test-%d.yaml", [i]), "contents": o} | some i, o in objects]

# Results (deny and warn findings, not exemption records) for objects in an environment.
results(objects, env) := {r | some r in all; r.type == "finding"} if {
	all := main.deny | main.warn with input as as_input(objects)
		with data.meridian.environment as env
		with data.meridian.today as "2026-06-01"
}

rule_ids(objects) := {r.rule | some r in results(objects, "dev")}

prod_rule_ids(objects) := {r.rule | some r in results(objects, "prod")}

# The exemption records main reports for the objects.
exemption_records(objects) := {r | some r in warnings; r.type == "exemption"} if {
	warnings := main.warn with input as as_input(objects) with data.meridian.today as "2026-06-01"
}

# A deployment with one JSON patch applied, e.g. patched([{"op": "add", "path": ..., "value": ...}]).
patched(ops) := json.patch(deployment, ops)

container_sc := "/spec/template/spec/containers/0/securityContext"

pod_sc := "/spec/template/spec/securityContext"
