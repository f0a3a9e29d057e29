// Package info maps the random Terraform provider onto Pulumi tokens in the
// way the published pulumi-random packages expect (package "random", module
// "index", e.g. random:index/randomPassword:RandomPassword).
package info

import (
	"context"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	bridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shim "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	randomshim "github.com/terraform-providers/terraform-provider-random/shim"

	"github.com/meridian-platform/meridian/tools/pulumi/random/version"
)

// Provider returns the bridge description of the random provider.
// metadata is the content of bridge-metadata.json written by
// pulumi-tfgen-random ("{}" when generating it for the first time).
func Provider(metadata []byte) bridge.ProviderInfo {
	p := bridge.ProviderInfo{
		Name:         "random",
		Version:      version.Version,
		P:            tfbridge.ShimProvider(randomshim.NewProvider()),
		Description:  "A Pulumi package to safely use randomness in Pulumi programs.",
		Keywords:     []string{"pulumi", "random"},
		License:      "Apache-2.0",
		Homepage:     "https://pulumi.io",
		Repository:   "https://github.com/pulumi/pulumi-random",
		GitHubOrg:    "hashicorp",
		MetadataInfo: bridge.NewProviderMetadata(metadata),
		Resources: map[string]*bridge.ResourceInfo{
			// random_bytes has no "id" attribute; use its base64 value.
			"random_bytes": {ComputeID: bytesID},
		},
	}
	// Tokens keep the "random" prefix of the Terraform names, as the
	// published SDKs do: random_password -> random:index/randomPassword:RandomPassword.
	p.P.ResourcesMap().Range(func(tfName string, _ shim.Resource) bool {
		name := upperCamel(tfName)
		r := p.Resources[tfName]
		if r == nil {
			r = &bridge.ResourceInfo{}
			p.Resources[tfName] = r
		}
		r.Tok = tokens.Type("random:index/" + strings.ToLower(name[:1]) + name[1:] + ":" + name)
		return true
	})
	p.MustApplyAutoAliases()
	return p
}

// upperCamel turns random_password into RandomPassword.
func upperCamel(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, "_") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

func bytesID(_ context.Context, state resource.PropertyMap) (resource.ID, error) {
	b, ok := state["base64"]
	if !ok {
		return "", fmt.Errorf("random_bytes: no base64 property in state")
	}
	if b.IsSecret() {
		b = b.SecretValue().Element
	}
	if !b.IsString() {
		return "", fmt.Errorf("random_bytes: base64 is not a string")
	}
	return resource.ID(b.StringValue()), nil
}
