// Package shim exposes the random Terraform provider's plugin-framework
// provider, which upstream keeps in an internal package.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"
	randomprovider "github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// NewProvider returns the random Terraform provider.
func NewProvider() provider.Provider {
	return randomprovider.New()
}
