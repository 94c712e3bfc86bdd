package agent

import "syscall"

func reboot(restart bool) error {
	syscall.Sync()
	cmd := syscall.LINUX_REBOOT_CMD_POWER_OFF
	if restart {
		cmd = syscall.LINUX_REBOOT_CMD_RESTART
	}
	return syscall.Reboot(cmd)
}
