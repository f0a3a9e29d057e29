package main

// `digest`, `config`, `export`: what a registry holds, read with the same client that pushes.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// remoteOptions: credentials as docker and podman keep them (~/.docker/config.json,
// $REGISTRY_AUTH_FILE …); none are needed for the loopback registry of local runs and tests.
func remoteOptions() []remote.Option {
	return []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}
}

// unknown turns the registry's "no such manifest" answer into errUnknown.
func unknown(ref name.Reference, err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%s: %w", ref, errUnknown)
	}
	return fmt.Errorf("%s: %w", ref, err)
}

func oneReference(usage string, args []string) (name.Reference, []string, error) {
	if len(args) < 1 {
		return nil, nil, fmt.Errorf("usage: meridian-image %s", usage)
	}
	ref, err := name.ParseReference(args[0])
	if err != nil {
		return nil, nil, err
	}
	return ref, args[1:], nil
}

func runDigest(args []string) error {
	ref, _, err := oneReference("digest REF", args)
	if err != nil {
		return err
	}
	desc, err := remote.Head(ref, remoteOptions()...)
	if err != nil {
		return unknown(ref, err)
	}
	fmt.Println(desc.Digest)
	return nil
}

func runConfig(args []string) error {
	ref, _, err := oneReference("config REF", args)
	if err != nil {
		return err
	}
	img, err := remote.Image(ref, remoteOptions()...)
	if err != nil {
		return unknown(ref, err)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(raw, '\n'))
	return err
}

func runExport(args []string) error {
	ref, rest, err := oneReference("export REF -o FILE.tar", args)
	if err != nil {
		return err
	}
	flags := flag.NewFlagSet("export", flag.ContinueOnError)
	output := flags.String("o", "", "write the flattened file system to this tar file")
	if err := flags.Parse(rest); err != nil {
		return err
	}
	if *output == "" {
		return fmt.Errorf("-o is required")
	}
	img, err := remote.Image(ref, remoteOptions()...)
	if err != nil {
		return unknown(ref, err)
	}
	f, err := os.Create(*output)
	if err != nil {
		return err
	}
	defer f.Close()
	rc := mutate.Extract(img)
	defer rc.Close()
	if _, err := io.Copy(f, rc); err != nil {
		return err
	}
	return f.Close()
}
