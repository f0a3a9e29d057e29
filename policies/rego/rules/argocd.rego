# Argo CD's `default` project lets an Application deploy anything anywhere; Meridian's AppProjects
# restrict sources, destinations and kinds.
package meridian.rules.argocd

import data.meridian.lib

_is_argo(obj) if startswith(obj.apiVersion, "argoproj.io/")

violation contains lib.violation(e, "MER-ARGO-001", msg) if {
	some e in lib.entries
	e.obj.kind == "Application"
	_is_argo(e.obj)
	object.get(e.obj, ["spec", "project"], "default") == "default"
	msg := "belongs to the default project; set spec.project to the team's AppProject"
}

violation contains lib.violation(e, "MER-ARGO-001", msg) if {
	some e in lib.entries
	e.obj.kind == "ApplicationSet"
	_is_argo(e.obj)
	object.get(e.obj, ["spec", "template", "spec", "project"], "default") == "default"
	msg := "generates Applications in the default project; set spec.template.spec.project to the team's AppProject"
}
