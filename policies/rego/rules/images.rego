# An image reference must say which build it runs: a moving tag (`latest`, or none, which means
# latest) changes what runs without a change in git.
package meridian.rules.images

import data.meridian.lib

_containers := [[e, c] |
	some e in lib.workloads
	some c in lib.all_containers(lib.pod_spec(e.obj))
]

# The tag of a reference: after the last ":" of the part after the last "/", so that a registry
# port (registry:5000/app) is not taken for a tag. Empty when there is none.
tag(image) := t if {
	name := split(split(image, "@")[0], "/")
	last := name[count(name) - 1]
	contains(last, ":")
	parts := split(last, ":")
	t := parts[count(parts) - 1]
} else := ""

has_digest(image) if contains(image, "@sha256:")

violation contains lib.violation(e, "MER-IMG-001", msg) if {
	some [e, c] in _containers
	tag(c.container.image) == "latest"
	msg := sprintf("%s runs %s, a moving tag; pin a version tag and digest (name:1.2.3@sha256:...)", [lib.container_label(c), c.container.image])
}

# A digest alone pins the image even more tightly than a tag, so only a reference with neither
# counts as missing its tag.
violation contains lib.violation(e, "MER-IMG-001", msg) if {
	some [e, c] in _containers
	tag(c.container.image) == ""
	not has_digest(c.container.image)
	msg := sprintf("%s runs %s without a tag, which means latest; pin a version tag and digest (name:1.2.3@sha256:...)", [lib.container_label(c), c.container.image])
}

violation contains lib.violation(e, "MER-IMG-002", msg) if {
	some [e, c] in _containers
	not has_digest(c.container.image)
	tag(c.container.image) != "latest"
	tag(c.container.image) != ""
	msg := sprintf("%s runs %s, whose tag can be moved; add its digest (name:tag@sha256:...)", [lib.container_label(c), c.container.image])
}
