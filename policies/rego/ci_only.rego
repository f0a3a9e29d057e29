# The rules that only CI and promotions judge, never the admission webhook (policies/admission).
#
# At admission the API server shows the webhook one object. A rule that needs other objects of
# the environment in view (a workload's budget or autoscaler, a namespace's quota) would deny an
# object there that its whole environment satisfies, since they arrive one at a time and in any
# order. (Rules about network policies are not here: the webhook, like the gate checking one file
# for an environment, sees the policies the platform declares for it.) A rule about what git holds cannot tell, in the cluster, where an object came from. The
# rendered environment, where every object is in view, is where these are judged. Each entry says
# why; policies/README.md lists the same, and tests/admission compares, for every rendered object,
# the verdict on the object alone with the verdict in its whole environment.
package meridian.catalog

ci_only := {
	"MER-AVL-001": "an autoscaler beside the workload decides its replicas (MER-AVL-004 judges the autoscaler at admission)",
	"MER-AVL-002": "the PodDisruptionBudget is another object",
	"MER-PLT-001": "the namespace's ResourceQuota is another object, created after the namespace",
	"MER-PLT-002": "the namespace's LimitRange is another object, created after the namespace",
	"MER-SEC-001": "it judges what git holds; in the cluster every Secret holds data (Helm's release records, service-account tokens, what Vault delivers)",
}
