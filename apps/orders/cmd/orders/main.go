// Command orders runs the orders service until SIGTERM.
//
// Exit codes: 0 after a graceful shutdown, 1 when the service could not start, 2 for bad
// configuration (the message names the variable).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/meridian-platform/meridian/apps/orders/internal/app"
	"github.com/meridian-platform/meridian/apps/orders/internal/config"
	"github.com/meridian-platform/meridian/apps/orders/internal/dbpool"
	"github.com/meridian-platform/meridian/apps/orders/internal/obs"
)

// revision is the source revision, set at build time: -ldflags "-X main.revision=<sha>".
var revision = "unknown"

func main() { os.Exit(run()) }

func run() int {
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
