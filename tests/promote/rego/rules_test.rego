# Unit tests of the promotion rules: one passing document, and each rule broken on its own.
package meridian.promotion_test

import data.meridian.promotion
import data.meridian.promotion.catalog

# orders 1.1.0 from staging (where it has run two days) to prod: every rule holds.
base := {
	"kind": "promotion",
	"app": "orders",
	"from": "staging",
	"to": "prod",
	"order": ["dev", "staging", "prod"],
	"version": "1.1.0",
	"digest": "sha256:b",
	"image": {"repository": "ghcr.io/meridian-platform/orders", "label": "1.1.0"},
	"current": {"version": "1.0.0", "digest": "sha256:a", "repository": "ghcr.io/meridian-platform/orders"},
	"environments": {
		"dev": {"version": "1.2.0", "digest": "sha256:c", "since": "2026-06-03T10:00:00Z"},
		"staging": {"version": "1.1.0", "digest": "sha256:b", "since": "2026-06-01T10:00:00Z"},
		"prod": {"version": "1.0.0", "digest": "sha256:a", "since": "2026-05-01T10:00:00Z"},
	},
	"soak": {"environment": "staging", "required_seconds": 86400, "required": "1d", "elapsed_seconds": 172800, "elapsed": "2d", "ready_at": "2026-06-02T10:00:00Z"},
	"require_digest": true,
	"seen": ["1.0.0", "0.9.0"],
	"freeze": {"active": []},
	"emergency": "",
	"lock": {"locked": false, "reason": "", "by": "", "since": ""},
	"break_glass": "",
	"hold": {"held": false, "version": "", "reason": ""},
	"release_hold": false,
	"gate": {"checked": false, "passed": false, "summary": ""},
}

rules_of(doc) := {d.rule | some d in promotion.deny with input as doc}

test_a_legal_promotion_is_not_denied if {
	count(promotion.deny) == 0 with input as base
}

test_denials_carry_rule_title_and_message if {
	doc := object.union(base, {"from": "dev"})
	some d in promotion.deny with input as doc
	d.rule == "MER-PROMO-001"
	d.title == catalog.rules["MER-PROMO-001"]
	startswith(d.msg, "MER-PROMO-001 promotes from dev to prod")
	d.detail != ""
}

test_skipping_an_environment_by_naming_it_is_denied if {
	rules_of(object.union(base, {"from": "dev"})) == {"MER-PROMO-001"}
}

test_a_version_only_an_earlier_environment_runs_is_a_skip if {
	doc := object.union(base, {
		"version": "1.2.0", "digest": "sha256:c",
		"image": {"repository": "ghcr.io/meridian-platform/orders", "label": "1.2.0"},
	})
	rules_of(doc) == {"MER-PROMO-001"}
}

test_nothing_is_promoted_into_the_first_environment_from_elsewhere if {
	doc := object.union(base, {"to": "dev", "from": "staging"})
	"MER-PROMO-001" in rules_of(doc)
}

test_the_first_environment_takes_new_builds_without_upstream_rules if {
	doc := object.union(base, {"to": "dev", "from": "", "version": "1.3.0", "image": {"repository": "ghcr.io/meridian-platform/orders", "label": "1.3.0"}, "current": {"version": "1.2.0", "digest": "sha256:c", "repository": "ghcr.io/meridian-platform/orders"}})
	count(promotion.deny) == 0 with input as doc
}

test_a_version_nowhere_upstream_is_denied if {
	doc := object.union(base, {"version": "9.9.9", "image": {"repository": "ghcr.io/meridian-platform/orders", "label": "9.9.9"}})
	rules_of(doc) == {"MER-PROMO-002"}
}

test_an_app_the_previous_environment_lacks_is_denied if {
	doc := json.remove(base, ["environments/dev", "environments/staging"])
	rules_of(doc) == {"MER-PROMO-002"}
}

test_another_build_of_the_same_tag_is_denied if {
	rules_of(object.union(base, {"digest": "sha256:other"})) == {"MER-PROMO-014"}
}

test_a_digest_the_previous_environment_runs_by_tag_only_is_denied if {
	by_tag := json.patch(base, [{"op": "replace", "path": "/environments/staging/digest", "value": ""}])
	rules_of(by_tag) == {"MER-PROMO-014"}
	some d in promotion.deny with input as by_tag
	contains(d.msg, "orders 1.1.0 runs in staging by tag only, with no digest, but this change pins sha256:b")
}

test_a_promotion_that_drops_the_digest_is_denied if {
	rules_of(object.union(base, {"digest": "", "require_digest": false})) == {"MER-PROMO-014"}
}

test_soak_time_not_reached_is_denied if {
	doc := object.union(base, {"soak": object.union(base.soak, {"elapsed_seconds": 3600, "elapsed": "1h"})})
	rules_of(doc) == {"MER-PROMO-003"}
	some d in promotion.deny with input as doc
	contains(d.msg, "ready at 2026-06-02T10:00:00Z")
}

test_an_open_freeze_window_is_denied_without_an_emergency if {
	frozen := object.union(base, {"freeze": {"active": [{"name": "weekend", "reason": "nobody around", "until": "2026-06-08T08:00Z"}]}})
	rules_of(frozen) == {"MER-PROMO-004"}
	count(promotion.deny) == 0 with input as object.union(frozen, {"emergency": "payment outage fix"})
}

test_a_rollback_is_not_held_back_by_a_freeze if {
	doc := object.union(base, {
		"kind": "rollback", "from": "", "version": "1.0.0", "digest": "sha256:a",
		"image": {"repository": "ghcr.io/meridian-platform/orders", "label": "1.0.0"},
		"freeze": {"active": [{"name": "weekend", "reason": "r", "until": "u"}]},
	})
	count(promotion.deny) == 0 with input as doc
}

test_a_lock_is_denied_without_break_glass if {
	locked := object.union(base, {"lock": {"locked": true, "reason": "incident 4711", "by": "Ops <ops@example.com>", "since": "2026-06-03T09:00:00Z"}})
	rules_of(locked) == {"MER-PROMO-005"}
	count(promotion.deny) == 0 with input as object.union(locked, {"break_glass": "the fix for incident 4711"})
}

test_a_lock_without_who_and_when_still_reads_well if {
	locked := object.union(base, {"lock": {"locked": true, "reason": "r", "by": "", "since": ""}})
	some d in promotion.deny with input as locked
	contains(d.msg, "locked since unknown by unknown")
}

test_a_held_app_is_denied_until_released if {
	held := object.union(base, {"hold": {"held": true, "version": "1.0.0", "reason": "rolled back from 1.1.0"}})
	rules_of(held) == {"MER-PROMO-006"}
	count(promotion.deny) == 0 with input as object.union(held, {"release_hold": true})
}

test_a_missing_digest_is_denied_where_required if {
	by_tag := json.patch(base, [{"op": "replace", "path": "/digest", "value": ""}, {"op": "replace", "path": "/environments/staging/digest", "value": ""}])
	rules_of(by_tag) == {"MER-PROMO-007"}
	count(promotion.deny) == 0 with input as object.union(by_tag, {"require_digest": false})
}

test_a_failing_gate_is_denied if {
	failed := object.union(base, {"gate": {"checked": true, "passed": false, "summary": "prod: FAILED: 1 denied"}})
	rules_of(failed) == {"MER-PROMO-008"}
	count(promotion.deny) == 0 with input as object.union(base, {"gate": {"checked": true, "passed": true, "summary": "ok"}})
}

test_a_rollback_to_a_version_never_run_is_denied if {
	doc := object.union(base, {"kind": "rollback", "from": "", "version": "0.1.0", "image": {"repository": "ghcr.io/meridian-platform/orders", "label": "0.1.0"}})
	rules_of(doc) == {"MER-PROMO-009"}
}

test_a_change_in_two_environments_is_denied if {
	rules_of(object.union(base, {"change": {"environments": ["prod", "staging"], "other_files": []}})) == {"MER-PROMO-010"}
}

test_a_change_beyond_version_fields_is_denied if {
	doc := object.union(base, {"change": {"environments": ["prod"], "other_files": ["environments/prod/apps/orders/settings.yaml"]}})
	rules_of(doc) == {"MER-PROMO-011"}
}

test_a_label_that_disagrees_with_the_tag_is_denied if {
	doc := object.union(base, {"image": {"repository": "ghcr.io/meridian-platform/orders", "label": "1.0.0"}})
	rules_of(doc) == {"MER-PROMO-012"}
	some d in promotion.deny with input as object.union(base, {"image": {"repository": "ghcr.io/meridian-platform/orders", "label": ""}})
	contains(d.msg, "label says none")
}

test_a_new_image_repository_is_denied if {
	doc := object.union(base, {"image": {"repository": "docker.io/someone/orders", "label": "1.1.0"}})
	rules_of(doc) == {"MER-PROMO-012"}
}

test_a_bundle_moved_in_part_is_denied if {
	doc := object.union(base, {"bundle": {"name": "commerce", "missing": ["inventory"]}})
	rules_of(doc) == {"MER-PROMO-013"}
	count(promotion.deny) == 0 with input as object.union(base, {"bundle": {"name": "commerce", "missing": []}})
}

test_every_catalog_rule_has_an_id_and_a_title if {
	every id, title in catalog.rules {
		regex.match(`^MER-PROMO-[0-9]{3}$`, id)
		title != ""
	}
}
