// Command ferric is ferric's control-plane binary. One binary, several roles:
//
//	ferric dev      everything in one process: embedded Temporal server and UI,
//	                a private PostgreSQL, migrations, API and worker (make run)
//	ferric api      the Ironic-compatible REST API
//	ferric worker   the manager: a Temporal worker running provisioning workflows
//	ferric boot     the network boot server (DHCP, proxy by default; TFTP + HTTP:
//	                iPXE, deploy ramdisk)
//	ferric migrate  apply database migrations and exit
//	ferric testdb   start (or stop) a throwaway PostgreSQL cluster for tests
//
// Flags default to FERRIC_* environment variables; only this package reads
// them.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ferric:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: ferric dev|api|worker|boot|all|migrate|testdb [flags]")
	}
	cfg, err := parse(args[0], args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	switch cfg.role {
	case "dev":
		return runDev(ctx, cfg, stdout, stderr)
	case "api", "worker", "boot", "all":
		return runServices(ctx, cfg, stderr)
	case "migrate":
		return runMigrate(ctx, cfg, stderr)
	case "testdb":
		return runTestDB(ctx, cfg, stdout, stderr)
	}
	return fmt.Errorf("unknown role %q", cfg.role)
}
