# Production keeps serving through a node drain or a lost node: at least two replicas, and a
# PodDisruptionBudget so voluntary evictions take them down one at a time.
package meridian.rules.availability

import data.meridian.lib

_replicated_kinds := {"Deployment", "StatefulSet"}

_prod_workloads := [e |
	lib.is_prod
	some e in lib.workloads
	e.obj.kind in _replicated_kinds
]

# Lookups by namespace, built once, so that matching stays linear in the number of objects.
_hpa_min := {[lib.namespace(e.obj), target.kind, target.name]: object.get(e.obj.spec, "minReplicas", 1) |
	some e in lib.entries
	e.obj.kind == "HorizontalPodAutoscaler"
	target := e.obj.spec.scaleTargetRef
}

_pdbs := [e | some e in lib.entries; e.obj.kind == "PodDisruptionBudget"]

_pdb_selectors := {ns: [pdb.obj.spec.selector | some pdb in _pdbs; lib.namespace(pdb.obj) == ns; pdb.obj.spec.selector] |
	some ns in {lib.namespace(pdb.obj) | some pdb in _pdbs}
}

# What the workload runs at least: an autoscaler targeting it overrides spec.replicas.
min_replicas(obj) := n if {
	n := _hpa_min[[lib.namespace(obj), obj.kind, lib.name(obj)]]
} else := object.get(obj.spec, "replicas", 1)

# A workload an autoscaler scales is judged by the autoscaler's minReplicas (MER-AVL-004), on the
# autoscaler: one finding, on the object to fix.
violation contains lib.violation(e, "MER-AVL-001", msg) if {
	some e in _prod_workloads
	not _hpa_min[[lib.namespace(e.obj), e.obj.kind, lib.name(e.obj)]]
	n := object.get(e.obj.spec, "replicas", 1)
	n < 2
	msg := sprintf("runs %d replica(s) in prod; set spec.replicas to 2 or more", [n])
}

violation contains lib.violation(e, "MER-AVL-004", msg) if {
	lib.is_prod
	some e in lib.entries
	e.obj.kind == "HorizontalPodAutoscaler"
	n := object.get(e.obj.spec, "minReplicas", 1)
	n < 2
	target := object.get(e.obj.spec, "scaleTargetRef", {})
	msg := sprintf("may scale %s %s down to %d replica(s) in prod (minReplicas %d); set spec.minReplicas to 2 or more", [object.get(target, "kind", "?"), object.get(target, "name", "?"), n, n])
}

violation contains lib.violation(e, "MER-AVL-002", msg) if {
	some e in _prod_workloads
	pod_labels := object.get(lib.pod_metadata(e.obj), "labels", {})
	not _budgeted(lib.namespace(e.obj), pod_labels)
	msg := "has no PodDisruptionBudget in prod; add one selecting its pods with maxUnavailable: 1"
}

_budgeted(ns, pod_labels) if {
	some selector in _pdb_selectors[ns]
	selects(selector, pod_labels)
}

# Label selector semantics (matchLabels and matchExpressions), as the API server applies them.
selects(selector, labels) if {
	every key, value in object.get(selector, "matchLabels", {}) {
		labels[key] == value
	}
	every expr in object.get(selector, "matchExpressions", []) {
		_matches(expr, labels)
	}
}

_matches(expr, labels) if {
	expr.operator == "In"
	labels[expr.key] in expr.values
}

_matches(expr, labels) if {
	expr.operator == "NotIn"
	not labels[expr.key] in expr.values
}

_matches(expr, labels) if {
	expr.operator == "Exists"
	labels[expr.key]
}

_matches(expr, labels) if {
	expr.operator == "DoesNotExist"
	not labels[expr.key]
}

# A budget that allows no eviction at all blocks node drains and cluster upgrades forever, in any
# environment.
violation contains lib.violation(e, "MER-AVL-003", msg) if {
	some e in _pdbs
	_blocks_evictions(e.obj)
	msg := "allows no voluntary eviction and will block node drains; use maxUnavailable: 1"
}

_blocks_evictions(pdb) if pdb.spec.maxUnavailable in {0, "0%"}

_blocks_evictions(pdb) if pdb.spec.minAvailable == "100%"

# minAvailable as a number blocks evictions when it is as large as the workload it covers.
_blocks_evictions(pdb) if {
	is_number(pdb.spec.minAvailable)
	some w in lib.workloads
	w.obj.kind in _replicated_kinds
	lib.namespace(w.obj) == lib.namespace(pdb)
	selects(pdb.spec.selector, object.get(lib.pod_metadata(w.obj), "labels", {}))
	pdb.spec.minAvailable >= min_replicas(w.obj)
}
