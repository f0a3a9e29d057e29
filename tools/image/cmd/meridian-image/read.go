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

func oneReference(usage string, args []string) (name.Reference, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("usage: meridian-image %s", usage)
	}
	return name.ParseReference(args[0])
}

// fetched reads what REF, the first of args, names with get (remote.Head, remote.Image), turning
// the registry's "no such manifest" into errUnknown.
func fetched[T any](usage string, args []string, get func(name.Reference, ...remote.Option) (T, error)) (T, error) {
	var none T
	ref, err := oneReference(usage, args)
	if err != nil {
		return none, err
	}
	found, err := get(ref, remoteOptions()...)
	if err != nil {
		return none, unknown(ref, err)
	}
	return found, nil
}

func runDigest(args []string) error {
	desc, err := fetched("digest REF", args, remote.Head)
	if err != nil {
		return err
	}
	fmt.Println(desc.Digest)
	return nil
}

func runConfig(args []string) error {
	img, err := fetched("config REF", args, remote.Image)
	if err != nil {
		return err
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(raw, '\n'))
	return err
}

func runExport(args []string) error {
	flags := flag.NewFlagSet("export", flag.ContinueOnError)
	output := flags.String("o", "", "write the flattened file system to this tar file")
	// The flags follow REF; they are checked before the registry is asked.
	if len(args) > 0 {
		if err := parseFlags(flags, args[1:], "o"); err != nil {
			return err
		}
	}
	img, err := fetched("export REF -o FILE.tar", args, remote.Image)
	if err != nil {
		return err
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
