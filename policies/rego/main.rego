# Entry point for conftest (its default namespace, `main`): turns the violations of every rule
# package under data.meridian.rules into deny and warn results.
#
# Each result carries, besides `msg`, the fields the meridian gate reads from conftest's JSON
# output (`metadata`): rule id, severity, reference, file and object.
package main

import data.meridian.catalog
import data.meridian.lib

_violations contains v if {
	some v in data.meridian.rules[_].violation
}

# msg leads with the rule id for people reading plain conftest output; `detail` is the message
# alone, for reports that show the rule in a column of its own.
_result(v) := object.union(object.remove(v, ["exempt"]), {
	"type": "finding",
	"msg": sprintf("%s %s", [v.rule, _detail(v)]),
	"detail": _detail(v),
	"severity": catalog.severity(v.rule),
	"title": catalog.rules[v.rule].title,
	"reference": catalog.rules[v.rule].reference,
	"url": catalog.rules[v.rule].url,
})

# A rule in transition says so in every finding: until when it only warns, and why.
_detail(v) := sprintf("%s (a warning until %s, then denied: %s)", [v.msg, t.until, t.reason]) if {
	t := catalog.transitions[v.rule]
	catalog.severity(v.rule) == "warn"
	catalog.rules[v.rule].severity == "deny"
} else := v.msg

deny contains _result(v) if {
	some v in _violations
	catalog.severity(v.rule) == "deny"
	not v.exempt
}

warn contains _result(v) if {
	some v in _violations
	catalog.severity(v.rule) == "warn"
	not v.exempt
}

# Every exemption is reported, applied or not, so reviewers see what is being waived and until
# when. They come out as warnings: plain conftest runs show them without failing on them.
warn contains {
	"type": "exemption",
	"msg": sprintf("%s %s", [rule, detail]),
	"detail": detail,
	"rule": rule,
	"status": x.status,
	"expires": x.expires,
	"reason": x.reason,
	"file": e.file,
	"kind": lib.kind(e.obj),
	"namespace": lib.namespace(e.obj),
	"name": lib.name(e.obj),
} if {
	some e in lib.entries
	some rule, x in lib.exemptions(e.obj)
	detail := sprintf("%s: exemption %s, expires %s: %s", [
		lib.display(e.obj), x.status, _or_dash(x.expires), _or_dash(x.reason),
	])
}

_or_dash(s) := s if s != ""

else := "-"
