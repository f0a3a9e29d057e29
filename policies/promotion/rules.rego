# The promotion rules. Input: the facts of moving one app into one environment, gathered by
# `meridian promote` (and `rollback`, `promote check`, `status`) from git history, the repository's
# promotion.yaml, locks, holds, the clock and the policy gate; see docs/promotions.md.
#
# Each denial names its rule; conftest runs this package (--namespace meridian.promotion) the
# same way the policy gate runs policies/rego.
package meridian.promotion

import data.meridian.promotion.catalog

promotion if input.kind == "promotion"

rollback if input.kind == "rollback"

# The environment right before the target in the order, or "" when the target comes first.
upstream := env if {
	some i, e in input.order
	e == input.to
	i > 0
	env := input.order[i - 1]
} else := ""

state(env) := object.get(input.environments, env, {"version": "", "digest": ""})

_position(env) := i if {
	some i, e in input.order
	e == env
}

# Environments before the previous one that run the version: promoting from there skips one.
_skipped_from contains env if {
	promotion
	upstream != ""
	state(upstream).version != input.version
	some env in input.order
	_position(env) < _position(upstream)
	state(env).version == input.version
}

_order := concat(" → ", input.order)

deny contains refusal("MER-PROMO-001", msg) if {
	promotion
	input.from != ""
	input.from != upstream
	upstream != ""
	msg := sprintf("promotes from %s to %s, but %s comes right before %s (%s); promote through each environment in turn", [input.from, input.to, upstream, input.to, _order])
}

deny contains refusal("MER-PROMO-001", msg) if {
	promotion
	input.from != ""
	upstream == ""
	msg := sprintf("%s is the first environment (%s); nothing is promoted into it from %s", [input.to, _order, input.from])
}

deny contains refusal("MER-PROMO-001", msg) if {
	some env in _skipped_from
	msg := sprintf("%s %s runs in %s but not in %s; promote it to %s first (%s)", [input.app, input.version, env, upstream, upstream, _order])
}

deny contains refusal("MER-PROMO-002", msg) if {
	promotion
	upstream != ""
	count(_skipped_from) == 0
	state(upstream).version != input.version
	msg := sprintf("%s %s is not running in %s (it runs %s); only what runs in %s moves to %s", [input.app, input.version, upstream, _or_none(state(upstream).version), upstream, input.to])
}

deny contains refusal("MER-PROMO-003", msg) if {
	promotion
	upstream != ""
	state(upstream).version == input.version
	input.soak.elapsed_seconds < input.soak.required_seconds
	msg := sprintf("%s %s has run in %s for %s, and %s requires %s before it moves on; ready at %s", [input.app, input.version, upstream, input.soak.elapsed, upstream, input.soak.required, input.soak.ready_at])
}

deny contains refusal("MER-PROMO-004", msg) if {
	promotion
	input.emergency == ""
	some window in input.freeze.active
	msg := sprintf("%s is frozen until %s (%s: %s); an emergency promotion needs --emergency REASON", [input.to, window.until, window.name, window.reason])
}

deny contains refusal("MER-PROMO-005", msg) if {
	input.lock.locked
	input.break_glass == ""
	msg := sprintf("%s is locked since %s by %s: %s; unlock it, or give --break-glass REASON", [input.to, _or_unknown(input.lock.since), _or_unknown(input.lock.by), input.lock.reason])
}

deny contains refusal("MER-PROMO-006", msg) if {
	promotion
	input.hold.held
	not input.release_hold
	msg := sprintf("%s is held at %s in %s after a rollback (%s); promote with --release-hold to move it and release the hold", [input.app, input.hold.version, input.to, input.hold.reason])
}

deny contains refusal("MER-PROMO-007", msg) if {
	input.require_digest
	input.digest == ""
	msg := sprintf("%s requires images pinned by digest, and %s %s has none", [input.to, input.app, input.version])
}

deny contains refusal("MER-PROMO-008", msg) if {
	input.gate.checked
	not input.gate.passed
	msg := sprintf("%s does not pass the policy gate after the change: %s", [input.to, input.gate.summary])
}

deny contains refusal("MER-PROMO-009", msg) if {
	rollback
	not input.version in {v | some v in input.seen}
	msg := sprintf("%s never ran %s %s; a rollback restores a version from the environment's own history", [input.to, input.app, input.version])
}

deny contains refusal("MER-PROMO-010", msg) if {
	envs := object.get(input, ["change", "environments"], [])
	count(envs) > 1
	msg := sprintf("the change moves versions in %s; a promotion targets one environment", [concat(", ", envs)])
}

deny contains refusal("MER-PROMO-011", msg) if {
	files := object.get(input, ["change", "other_files"], [])
	count(files) > 0
	msg := sprintf("the change also touches %s; a promotion changes only the version fields of version.yaml (open a separate pull request for the rest)", [concat(", ", files)])
}

deny contains refusal("MER-PROMO-012", msg) if {
	input.image.label != input.version
	msg := sprintf("%s: the image tag is %s but the app.kubernetes.io/version label says %s; set both", [input.app, input.version, _or_none(input.image.label)])
}

deny contains refusal("MER-PROMO-012", msg) if {
	input.current.repository != ""
	input.image.repository != input.current.repository
	msg := sprintf("%s: the image repository changes from %s to %s; a promotion moves a version, not an image", [input.app, input.current.repository, input.image.repository])
}

deny contains refusal("MER-PROMO-013", msg) if {
	missing := object.get(input, ["bundle", "missing"], [])
	count(missing) > 0
	msg := sprintf("%s is in bundle %s, which moves together; %s must move with it", [input.app, input.bundle.name, concat(", ", missing)])
}

refusal(rule, msg) := {"msg": sprintf("%s %s", [rule, msg]), "rule": rule, "title": catalog.rules[rule], "detail": msg}

_or_none(s) := s if s != ""

else := "none"

_or_unknown(s) := s if s != ""

else := "unknown"
