# Where a promoted image comes from: the one place that judges the digest a promotion pins.
#
# A promotion copies the build the previous environment runs, digest and all; only the first
# environment takes a new build by name (`--version V --digest D`). Checks that a digest exists in
# the registry, or is signed, belong in this file beside the rule below.
package meridian.promotion

deny contains refusal("MER-PROMO-014", msg) if {
	promotion
	upstream != ""
	state(upstream).version == input.version
	input.digest != state(upstream).digest
	msg := sprintf("%s %s runs in %s %s, but this change pins %s; a promotion copies the build %s runs (give no --digest, or that one)", [input.app, input.version, upstream, _as_run(state(upstream).digest), input.digest, upstream])
}

_as_run(digest) := sprintf("as %s", [digest]) if digest != ""

else := "by tag only, with no digest"
