// Command pulumi-tfgen-random generates schema.json and bridge-metadata.json
// for the random provider (build-time only; see tools/pulumi/build.sh).
package main

import (
	"os"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	"github.com/meridian-platform/meridian/tools/pulumi/random/info"
)

func main() {
	metadata := []byte("{}")
	if path := os.Getenv("RANDOM_BRIDGE_METADATA"); path != "" {
		if b, err := os.ReadFile(path); err == nil {
			metadata = b
		}
	}
	tfgen.Main("random", info.Provider(metadata))
}
