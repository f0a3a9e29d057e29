# Every promotion rule: id and one-line title. docs/promotions.md lists the same table for
# people; a test keeps the two in step.
package meridian.promotion.catalog

rules := {
	"MER-PROMO-001": "environment skipped",
	"MER-PROMO-002": "version not running in the previous environment",
	"MER-PROMO-003": "soak time not reached",
	"MER-PROMO-004": "freeze window",
	"MER-PROMO-005": "environment locked",
	"MER-PROMO-006": "app held after a rollback",
	"MER-PROMO-007": "image digest required",
	"MER-PROMO-008": "policy gate failed",
	"MER-PROMO-009": "rollback to a version the environment never ran",
	"MER-PROMO-010": "more than one target environment",
	"MER-PROMO-011": "change beyond version fields",
	"MER-PROMO-012": "image and version label disagree",
	"MER-PROMO-013": "bundle split",
	"MER-PROMO-014": "digest not the one the previous environment runs",
}
