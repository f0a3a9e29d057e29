# Exemptions: an annotation on the object itself, one per rule it is exempt from,
#
#   exemption.meridian.dev/MER-PSS-003: "expires=2026-12-31; reason=vendor image runs as root until v3"
#
# so the exemption travels with the object, shows up in review next to it, and ends by itself.
# An exemption that is malformed, gives no reason or has expired does not apply (the rule fires
# again) and is reported as a violation of its own (rules/exemptions.rego).
package meridian.lib

exemption_prefix := "exemption.meridian.dev/"

_exemption_format := `^\s*expires\s*=\s*(\d{4}-\d{2}-\d{2})\s*;\s*reason\s*=\s*(.*?)\s*$`

# Today's date as YYYY-MM-DD; data.meridian.today overrides it so tests do not depend on the clock.
today := data.meridian.today if {
	is_string(data.meridian.today)
} else := _date_string(time.now_ns())

_date_string(ns) := sprintf("%04d-%02d-%02d", time.date(ns))

# Every exemption annotation of an object, parsed: {rule: {expires, reason, status, raw}}.
# status is "active", "expired" or "invalid".
exemptions(obj) := {rule: _parse_exemption(value) |
	some key, value in annotations(obj)
	startswith(key, exemption_prefix)
	rule := substring(key, count(exemption_prefix), -1)
}

_parse_exemption(value) := result if {
	is_string(value)
	parts := regex.find_all_string_submatch_n(_exemption_format, value, 1)
	count(parts) == 1
	[_, expires, reason] := parts[0]
	result := {"expires": expires, "reason": reason, "raw": value, "status": _status(expires, reason)}
} else := {"expires": "", "reason": "", "raw": sprintf("%v", [value]), "status": "invalid"}

_status(expires, reason) := "invalid" if {
	reason == ""
} else := "expired" if {
	# Dates are compared as text: YYYY-MM-DD sorts like the dates it names. The expiry day itself
	# still counts.
	today > expires
} else := "active"

# The exemption rules themselves cannot be waived: that would let an expired exemption hide itself.
exempted(obj, rule) if {
	not startswith(rule, "MER-EXM-")
	exemptions(obj)[rule].status == "active"
}
