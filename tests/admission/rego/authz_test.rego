# OPA's own API, as the webhook serves it: the API server's POST / and the health check only.
package system.authz_test

import data.system.authz

test_the_webhook_call_and_the_health_check_are_served if {
	authz.allow with input as {"method": "POST", "path": [""]}
	authz.allow with input as {"method": "GET", "path": ["health"]}
}

test_reading_data_and_replacing_policies_are_not if {
	not authz.allow with input as {"method": "GET", "path": ["v1", "data"]}
	not authz.allow with input as {"method": "PUT", "path": ["v1", "policies", "x"]}
	not authz.allow with input as {"method": "POST", "path": ["v1", "data", "system", "main"]}
	not authz.allow with input as {"method": "GET", "path": [""]}
}
