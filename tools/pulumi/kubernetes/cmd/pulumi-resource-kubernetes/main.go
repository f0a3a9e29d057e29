// Command pulumi-resource-kubernetes is the Pulumi Kubernetes resource
// provider, built from the upstream provider package.
//
// Upstream's own main embeds schema-embed.json and terraform-mapping-embed.json,
// which its build generates and does not commit. tools/pulumi/build.sh writes
// those two files next to this one (git-ignored) from the provider module's
// committed schema.json and terraform-mapping.json, with the schema's version
// set to the version passed in -ldflags.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	// version.Version is set with
	// -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=X.Y.Z".
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
