// Command meridian-image builds, pushes and reads OCI images without a container engine, and serves
// a registry for local runs and tests. It is the Go half of `meridian release` (src/meridian/images):
// Python prepares each layer's files; this tool turns them into reproducible layers and an image.
//
//	meridian-image build -spec SPEC.json -push REF     build and push; prints {"digest", "size", ...}
//	meridian-image digest REF                          the digest the registry reports (exit 4: unknown)
//	meridian-image config REF                          the image's config file (JSON)
//	meridian-image export REF -o FILE.tar              the flattened root filesystem as a tar
//	meridian-image registry -listen ADDR -addr-file F  an OCI registry (in memory) until killed
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

// exitUnknown says "the registry answered, and has no such image"; exitTaken "the tag names another
// image"; apart from every other failure (1) and bad usage (2).
const (
	exitTaken   = 3
	exitUnknown = 4
)

type command struct {
	run   func(args []string) error
	usage string
}

var commands = map[string]command{
	"build":    {runBuild, "build -spec SPEC.json [-push REF [-immutable]] [-layout DIR]"},
	"digest":   {runDigest, "digest REF"},
	"config":   {runConfig, "config REF"},
	"export":   {runExport, "export REF -o FILE.tar"},
	"registry": {runRegistry, "registry [-listen 127.0.0.1:0] [-addr-file FILE] [-blobs DIR]"},
}

var (
	errUnknown = errors.New("not in the registry")
	errTaken   = errors.New("a released tag is never moved")
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	if os.Args[1] == "--version" || os.Args[1] == "version" {
		fmt.Println("meridian-image (go-containerregistry)")
		return
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		usage()
		os.Exit(2)
	}
	if err := cmd.run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "meridian-image %s: %v\n", os.Args[1], err)
		switch {
		case errors.Is(err, errUnknown):
			os.Exit(exitUnknown)
		case errors.Is(err, errTaken):
			os.Exit(exitTaken)
		}
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: meridian-image COMMAND …")
	for _, name := range []string{"build", "digest", "config", "export", "registry"} {
		fmt.Fprintf(os.Stderr, "  %s\n", commands[name].usage)
	}
}

// parseFlags parses args and refuses a required string flag left empty, naming it.
func parseFlags(flags *flag.FlagSet, args []string, required ...string) error {
	if err := flags.Parse(args); err != nil {
		return err
	}
	for _, name := range required {
		if flags.Lookup(name).Value.String() == "" {
			return fmt.Errorf("-%s is required", name)
		}
	}
	return nil
}
