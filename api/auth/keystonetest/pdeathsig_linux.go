package keystonetest

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel kill cmd when the test process
// dies without stopping it (a panic skips TestMain's Stop).
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
