package main

// `registry`: go-containerregistry's OCI registry server, for local runs and tests. It listens on
// loopback only and keeps manifests in memory (blobs too, unless -blobs names a folder); it runs
// until it is killed.

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func runRegistry(args []string) error {
	flags := flag.NewFlagSet("registry", flag.ContinueOnError)
	listen := flags.String("listen", "127.0.0.1:0", "loopback address to listen on (port 0: any free port)")
	addrFile := flags.String("addr-file", "", "write the address listened on to this file once it accepts")
	blobs := flags.String("blobs", "", "keep blobs in this folder instead of memory")
	if err := flags.Parse(args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", *listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-listen %q: only loopback addresses (127.0.0.0/8, ::1) are served", *listen)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	opts := []registry.Option{registry.Logger(log.New(os.Stderr, "registry: ", log.LstdFlags))}
	if *blobs != "" {
		if err := os.MkdirAll(*blobs, 0o755); err != nil {
			return err
		}
		opts = append(opts, registry.WithBlobHandler(registry.NewDiskBlobHandler(*blobs)))
	}
	addr := ln.Addr().String()
	if *addrFile != "" {
		// Written after Listen: whoever waits for the file can connect at once.
		tmp := *addrFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, *addrFile); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "registry: serving on %s\n", addr)
	server := &http.Server{Handler: registry.New(opts...), ReadHeaderTimeout: 10 * time.Second}
	return server.Serve(ln)
}
