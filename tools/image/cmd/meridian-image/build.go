package main

// `build`: an image from an empty base, one layer per folder of the spec, the config the spec
// gives, every timestamp the spec's epoch (SOURCE_DATE_EPOCH). Same spec and files, same digest.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// spec is what src/meridian/images writes: the layers' folders and the image config.
type spec struct {
	Epoch  int64 `json:"epoch"`
	Layers []struct {
		Dir     string `json:"dir"`
		Comment string `json:"comment"`
	} `json:"layers"`
	Config struct {
		User         string            `json:"user"`
		Entrypoint   []string          `json:"entrypoint"`
		Cmd          []string          `json:"cmd"`
		Env          []string          `json:"env"`
		WorkingDir   string            `json:"workingDir"`
		ExposedPorts []string          `json:"exposedPorts"`
		Labels       map[string]string `json:"labels"`
	} `json:"config"`
}

type built struct {
	Digest string   `json:"digest"`
	Size   int64    `json:"size"` // compressed layers, what a pull downloads
	Layers []string `json:"layers"`
	Ref    string   `json:"ref,omitempty"`
}

func runBuild(args []string) error {
	flags := flag.NewFlagSet("build", flag.ContinueOnError)
	specPath := flags.String("spec", "", "the build spec (JSON)")
	push := flags.String("push", "", "push to this reference (registry/repository:tag)")
	layoutDir := flags.String("layout", "", "also write an OCI image layout into this folder")
	immutable := flags.Bool("immutable", false, "refuse to move a tag that already names another image")
	if err := parseFlags(flags, args, "spec"); err != nil {
		return err
	}
	raw, err := os.ReadFile(*specPath)
	if err != nil {
		return err
	}
	var s spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("%s: %w", *specPath, err)
	}
	img, err := assemble(s)
	if err != nil {
		return err
	}
	out, err := describe(img)
	if err != nil {
		return err
	}
	if *layoutDir != "" {
		p, err := layout.Write(*layoutDir, empty.Index)
		if err != nil {
			return err
		}
		if err := p.AppendImage(img); err != nil {
			return err
		}
	}
	if *push != "" {
		ref, err := name.NewTag(*push)
		if err != nil {
			return fmt.Errorf("-push %q: %w", *push, err)
		}
		if *immutable {
			if err := tagIsFree(ref, out.Digest); err != nil {
				return err
			}
		}
		if err := remote.Write(ref, img, remoteOptions()...); err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
		// What the registry reports for the tag just pushed, not what was computed here.
		desc, err := remote.Head(ref, remoteOptions()...)
		if err != nil {
			return fmt.Errorf("read back %s: %w", ref, err)
		}
		if desc.Digest.String() != out.Digest {
			return fmt.Errorf("the registry reports %s for %s, the build made %s", desc.Digest, ref, out.Digest)
		}
		out.Ref = ref.String()
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// tagIsFree: a released tag names one build forever; pushing the same build again is harmless.
func tagIsFree(ref name.Tag, digest string) error {
	desc, err := remote.Head(ref, remoteOptions()...)
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			return nil
		}
		return fmt.Errorf("look up %s: %w", ref, err)
	}
	if desc.Digest.String() != digest {
		return fmt.Errorf("%s already names %s, not this build (%s): %w", ref, desc.Digest, digest, errTaken)
	}
	return nil
}

func assemble(s spec) (v1.Image, error) {
	if len(s.Layers) == 0 {
		return nil, fmt.Errorf("the spec has no layers")
	}
	epoch := time.Unix(s.Epoch, 0).UTC()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, l := range s.Layers {
		layer, err := folderLayer(l.Dir, epoch)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", l.Dir, err)
		}
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:   layer,
			History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "meridian-image", Comment: l.Comment},
		})
		if err != nil {
			return nil, err
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Created = v1.Time{Time: epoch}
	c := s.Config
	cfg.Config = v1.Config{
		User:       c.User,
		Entrypoint: c.Entrypoint,
		Cmd:        c.Cmd,
		Env:        c.Env,
		WorkingDir: c.WorkingDir,
		Labels:     c.Labels,
	}
	if len(c.ExposedPorts) > 0 {
		cfg.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range c.ExposedPorts {
			cfg.Config.ExposedPorts[p] = struct{}{}
		}
	}
	return mutate.ConfigFile(img, cfg)
}

func describe(img v1.Image) (built, error) {
	digest, err := img.Digest()
	if err != nil {
		return built{}, err
	}
	// The manifest's descriptors carry each layer's compressed size and digest, as pushed.
	manifest, err := img.Manifest()
	if err != nil {
		return built{}, err
	}
	out := built{Digest: digest.String()}
	for _, layer := range manifest.Layers {
		out.Size += layer.Size
		out.Layers = append(out.Layers, layer.Digest.String())
	}
	return out, nil
}
