// Command orders runs the orders service until SIGTERM.
//
// Exit codes: 0 after a graceful shutdown, 1 when the service could not start, 2 for bad
// configuration (the message names the variable).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/meridian-platform/meridian/apps/orders/internal/app"
	"github.com/meridian-platform/meridian/apps/orders/internal/config"
	"github.com/meridian-platform/meridian/apps/orders/internal/dbpool"
	"github.com/meridian-platform/meridian/apps/orders/internal/obs"
)

// version and revision are set at build time: -ldflags "-X main.version=<tag> -X main.revision=<sha>".
var (
	version  = "dev"
	revision = "unknown"
)

func main() { os.Exit(run()) }

func run() int {
	// Everything else is configured by environment variables; --version is for people and image tests.
	showVersion := flag.Bool("version", false, "print the version and revision, and exit")
	flag.Parse()
	if *showVersion {
		fmt.Printf("%s %s (revision %s)\n", app.Name, version, revision)
		return 0
	}
	cfg, err := config.FromEnvironment()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: configuration error: %v\n", app.Name, err)
		return 2
	}
	if _, err := dbpool.ReadCredentials(cfg.Database.CredentialsFile); err != nil {
		fmt.Fprintf(os.Stderr, "%s: configuration error: DB_CREDENTIALS_FILE: %v\n", app.Name, err)
		return 2
	}
	log := obs.NewLogger(os.Stdout, cfg.LogLevel, app.Name, cfg.PodName, cfg.PodNamespace)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	a, err := app.Start(ctx, cfg, log, revision)
	if err != nil {
		log.Error("could not start", "error", err.Error())
		return 1
	}
	<-ctx.Done()
	a.Shutdown()
	return 0
}
