//go:build !linux

package agent

import "errors"

func reboot(bool) error { return errors.ErrUnsupported }
