# An exemption is a promise with a date: it must say why and until when, and it ends when the
# date passes. Checkov's own skip annotations have no date, so they are not accepted.
package meridian.rules.exemptions

import data.meridian.catalog
import data.meridian.lib

_checkov_id := `^CKV2?_[A-Z0-9]+_[0-9]+$`

violation contains lib.violation(e, "MER-EXM-001", msg) if {
	some e in lib.entries
	some rule, x in lib.exemptions(e.obj)
	x.status == "invalid"
	msg := sprintf("exemption from %s is malformed or gives no reason (%q); write %s%s: \"expires=YYYY-MM-DD; reason=<why>\"", [rule, x.raw, lib.exemption_prefix, rule])
}

violation contains lib.violation(e, "MER-EXM-002", msg) if {
	some e in lib.entries
	some rule, x in lib.exemptions(e.obj)
	x.status == "expired"
	msg := sprintf("exemption from %s expired on %s; fix the object, or renew the exemption with a new date and reason", [rule, x.expires])
}

violation contains lib.violation(e, "MER-EXM-003", msg) if {
	some e in lib.entries
	some rule, _ in lib.exemptions(e.obj)
	not catalog.rules[rule]
	not regex.match(_checkov_id, rule)
	msg := sprintf("exemption names %q, which is no Meridian rule or checkov check; use an id from policies/README.md", [rule])
}

violation contains lib.violation(e, "MER-EXM-004", msg) if {
	some e in lib.entries
	some key, value in lib.annotations(e.obj)
	startswith(key, "checkov.io/skip")
	msg := sprintf("annotation %s (%v) skips a checkov check with no expiry; use %s<CHECK>: \"expires=YYYY-MM-DD; reason=<why>\"", [key, value, lib.exemption_prefix])
}
