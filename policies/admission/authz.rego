# What OPA's server answers when it runs as the admission webhook (`opa run --authorization=basic`
# asks this about every request): the API server's POST / and the health check, nothing else. Its
# API for reading data and replacing policies is not served to anyone who can reach the port.
package system.authz

default allow := false

allow if {
	input.method == "POST"
	input.path == [""]
}

allow if {
	input.method == "GET"
	input.path == ["health"]
}
