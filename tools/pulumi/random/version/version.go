// Package version holds the version of the random provider build, set with
// -ldflags "-X github.com/meridian-platform/meridian/tools/pulumi/random/version.Version=X.Y.Z".
package version

// Version is the provider version reported to the Pulumi engine.
var Version = "0.0.0-dev"
