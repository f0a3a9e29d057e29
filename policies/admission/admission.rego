# The admission webhook. OPA's server answers `POST /` with data.system.main for the request body
# as input, so the API server's AdmissionReview comes in here and the AdmissionReview answer goes
# back out.
#
# The object under review is judged by the gate's own rules (data.main, policies/rego), the way
# `meridian policy check FILE --env ENV` judges one file: with the environment's name and its
# platform namespaces and NetworkPolicies in view. OPA holds them as data, written when it starts:
#
#   data.admission.environment   dev, staging or prod: the one environment of this cluster
#   data.admission.context       the environment's Namespaces and NetworkPolicies (meridian.policy.context)
#   data.admission.charts        policies/exemptions/charts.yaml, loaded as it is
#   data.admission.releases      the pinned charts: release, chart, version and namespace
#
# Nothing here judges an object itself: deny findings refuse it, warn findings come back as warnings
# on an admitted object, and the rules of catalog.ci_only are left to CI (see that file for why).
package system

import data.meridian.catalog
import data.meridian.lib

main := {
	"apiVersion": "admission.k8s.io/v1",
	"kind": "AdmissionReview",
	"response": response,
}

_request := input.request

environment := data.admission.environment

_context := object.get(data.admission, "context", null)

# --- What is judged ------------------------------------------------------------------------------

# A deletion carries no new object, and an object already being deleted only loses its finalizers:
# refusing that would keep it forever.
_judged if {
	is_object(_request.object)
	not _request.object.metadata.deletionTimestamp
}

# The object as the render would have written it: the chart exemptions of policies/exemptions/
# charts.yaml become the same annotations `meridian render` puts on the rendered object.
reviewed := object.union(_request.object, {"metadata": {"annotations": chart_annotations}}) if {
	count(chart_annotations) > 0
} else := _request.object

_findings := found if {
	found := data.main.deny with input as reviewed
		with data.meridian.environment as environment
		with data.meridian.context as _context
}

_warnings := found if {
	found := data.main.warn with input as reviewed
		with data.meridian.environment as environment
		with data.meridian.context as _context
}

denials := [f |
	_judged
	some f in _findings
	not catalog.ci_only[f.rule]
]

warnings := [f |
	_judged
	some f in _warnings
	f.type == "finding"
	not catalog.ci_only[f.rule]
]

exemptions := [e |
	_judged
	some e in _warnings
	e.type == "exemption"
]

# --- Chart exemptions, matched by the Helm release that installed the object ----------------------

# Helm annotates what it installs with its release. Its hooks (`helm.sh/hook`) it creates without
# that annotation: for them the chart's instance label names the release, or else the chart label
# (`CHART-VERSION`) names a chart the platform installs (data.admission.releases).
release := name if {
	name := lib.annotations(_request.object)["meta.helm.sh/release-name"]
} else := name if {
	_hook
	name := lib.labels(_request.object)["app.kubernetes.io/instance"]
} else := name if {
	_hook
	some r in object.get(data.admission, "releases", [])
	lib.labels(_request.object)["helm.sh/chart"] == concat("-", [r.chart, r.version])
	lib.namespace(_request.object) in {r.namespace, ""}
	name := r.release
}

_hook if lib.annotations(_request.object)["helm.sh/hook"]

_chart_entries := object.get(data.admission, ["charts", "exemptions"], [])

_all_environments := ["dev", "staging", "prod"]

# [index, rule, entry] for each rule of each entry that names this object; later entries win, as
# in the render, which writes them in file order.
_matching := [[i, rule, entry] |
	some i, entry in _chart_entries
	entry.release == release
	glob.match(entry.kind, null, _request.object.kind)
	glob.match(entry.name, null, lib.name(_request.object))
	environment in object.get(entry, "environments", _all_environments)
	some rule in entry.rules
]

chart_annotations := {key: value |
	some [i, rule, entry] in _matching
	not _overridden(i, rule)
	key := concat("", [lib.exemption_prefix, rule])
	value := sprintf("expires=%s; reason=%s", [entry.expires, _one_line(entry.reason)])
}

_overridden(i, rule) if {
	some [j, other, _] in _matching
	other == rule
	j > i
}

# The render folds a reason onto one line, as YAML's folded scalars read.
_one_line(text) := trim_space(regex.replace(text, `\s+`, " "))

# --- The answer -----------------------------------------------------------------------------------

# One line per finding: the rule id, then the message the gate prints for the same object.
_line(f) := sprintf("%s %s", [f.rule, f.detail])

denial_message := concat("\n", sort({_line(f) | some f in denials}))

response := object.union_n([
	{"uid": _request.uid, "allowed": count(denials) == 0},
	_status,
	_warning_field,
	_audit,
])

_status := {"status": {"code": 403, "reason": "Forbidden", "message": denial_message}} if {
	count(denials) > 0
} else := {}

_warning_field := {"warnings": sort({_line(f) | some f in warnings})} if {
	count(warnings) > 0
} else := {}

# The audit log records, on the request's event, which warnings were let through and which
# exemptions applied (annotations on the object, or charts.yaml entries).
_audit_values := object.union(
	{"warnings": concat(",", sort({f.rule | some f in warnings}))},
	{"exemptions": concat(",", sort({sprintf("%s:%s", [e.rule, e.status]) | some e in exemptions}))},
)

_audit := {"auditAnnotations": {k: v | some k, v in _audit_values; v != ""}} if {
	some _, v in _audit_values
	v != ""
} else := {}
