//go:build !linux

package dhcp

import (
	"context"
	"errors"
	"net"
)

// listen is Linux only: the server binds its socket to the provisioning
// interface with SO_BINDTODEVICE.
func listen(context.Context, string, int) (net.PacketConn, error) {
	return nil, errors.ErrUnsupported
}
