# Secrets never live in git in the clear: they come from Vault (or another external store) at run
# time, or from an encrypted object such as a SealedSecret.
package meridian.rules.secrets

import data.meridian.lib

violation contains lib.violation(e, "MER-SEC-001", msg) if {
	some e in lib.entries
	e.obj.kind == "Secret"
	some field in ["data", "stringData"]
	count(object.get(e.obj, field, {})) > 0
	msg := sprintf("holds %d value(s) in %s, in git; deliver it from Vault (ExternalSecret) or as a SealedSecret", [count(e.obj[field]), field])
}

# Names that say "this is a credential", matched case-insensitively against the env var name,
# except names that point at a credential rather than hold one (DB_PASSWORD_FILE, TOKEN_TTL).
_credential_name := `(?i)(passw(or)?d|passwd|secret|token|api_?key|access_?key|private_?key|credential)`

_reference_name := `(?i)_(file|path|dir|name|ttl|timeout|url|endpoint|header|key_id|ref)$`

violation contains lib.violation(e, "MER-SEC-002", msg) if {
	some e in lib.workloads
	some c in lib.all_containers(lib.pod_spec(e.obj))
	some env in object.get(c.container, "env", [])
	regex.match(_credential_name, env.name)
	not regex.match(_reference_name, env.name)
	is_string(env.value)
	env.value != ""
	msg := sprintf("%s sets %s to a literal value; use valueFrom.secretKeyRef (from Vault) instead", [lib.container_label(c), env.name])
}
