package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/drivers/deploy/pxe"
	"github.com/ferric-project/ferric/store"
)

// bootConfigs tells the boot server what a MAC boots: the deploy ramdisk
// while its node has an open agent session, its local disk otherwise; with
// bootUnknown (-dhcp-boot-unknown, discovery), the ramdisk too for a MAC of
// no enrolled port.
type bootConfigs struct {
	st          *store.Store
	cmdline     string
	bootUnknown bool
}

func (b bootConfigs) BootConfig(ctx context.Context, mac string) (pxe.BootConfig, bool, error) {
	ramdisk := pxe.BootConfig{Kernel: pxe.DefaultKernel, Initramfs: pxe.DefaultInitramfs, Cmdline: b.cmdline}
	_, ok, err := b.st.BootConfigByMAC(ctx, mac)
	if err != nil || ok {
		return ramdisk, ok && err == nil, err
	}
	if b.bootUnknown {
		_, enrolled, err := b.st.DHCPHostByMAC(ctx, mac)
		if err != nil || !enrolled {
			return ramdisk, err == nil, err
		}
	}
	return pxe.BootConfig{}, false, nil
}

// ramdiskCmdline is the deploy ramdisk's kernel command line; ca is the
// ferric.ca= value ("" for none).
func ramdiskCmdline(agentAPIURL, ca string) string {
	s := "console=ttyS0 quiet ferric.api_url=" + agentAPIURL
	if ca != "" {
		s += " " + wire.CACmdlineKey + "=" + ca
	}
	return s
}

// newBootServer builds the boot server, or returns nil (with a log line)
// when it is not configured or the deploy ramdisk has not been built.
func newBootServer(cfg config, log *slog.Logger, st *store.Store) (*pxe.Server, error) {
	if cfg.tftpAddr == "" && cfg.bootHTTPAddr == "" {
		return nil, nil
	}
	for _, f := range []string{pxe.DefaultKernel, pxe.DefaultInitramfs} {
		if _, err := os.Stat(filepath.Join(cfg.ramdiskDir, f)); errors.Is(err, os.ErrNotExist) {
			log.Warn("boot server not started: no deploy ramdisk (run 'make ramdisk' to build it)",
				"missing", filepath.Join(cfg.ramdiskDir, f))
			return nil, nil
		}
	}
	ca, err := agentCA(cfg.auth, cfg.agentAPIURL)
	if err != nil {
		return nil, err
	}
	cmdline := ramdiskCmdline(cfg.agentAPIURL, ca)
	if len(cmdline) > maxKernelCmdline {
		return nil, fmt.Errorf("the ramdisk's kernel command line would be %d bytes, over the kernel's %d: "+
			"use a smaller -agent-ca-file (one ECDSA P-256 CA certificate takes about 700)", len(cmdline), maxKernelCmdline)
	}
	tlsCfg, err := bootTLS(cfg.auth, log.With("component", "boot"))
	if err != nil {
		return nil, err
	}
	srv, err := pxe.New(pxe.Config{
		TFTPAddr:      cfg.tftpAddr,
		HTTPAddr:      cfg.bootHTTPAddr,
		IPXEDir:       cfg.ipxeDir,
		RamdiskDir:    cfg.ramdiskDir,
		PublicHTTPURL: cfg.bootPublicURL,
		TLS:           tlsCfg,
		Log:           log.With("component", "boot"),
	}, bootConfigs{st: st, cmdline: cmdline, bootUnknown: cfg.dhcp.bootUnknown})
	if err != nil {
		return nil, fmt.Errorf("boot server: %w", err)
	}
	return srv, nil
}
