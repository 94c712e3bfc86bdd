//go:build !linux

package keystonetest

import "os/exec"

// setParentDeathSignal does nothing outside Linux.
func setParentDeathSignal(*exec.Cmd) {}
