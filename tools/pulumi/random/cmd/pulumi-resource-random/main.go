// Command pulumi-resource-random is the Pulumi random resource provider,
// bridged from the random Terraform provider.
//
// schema.json and bridge-metadata.json are generated at build time by
// pulumi-tfgen-random (tools/pulumi/build.sh) and are git-ignored.
package main

import (
	"context"
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	"github.com/meridian-platform/meridian/tools/pulumi/random/info"
)

//go:embed schema.json
var schema []byte

//go:embed bridge-metadata.json
var metadata []byte

func main() {
	tfbridge.Main(context.Background(), "random", info.Provider(metadata),
		tfbridge.ProviderMetadata{PackageSchema: schema})
}
