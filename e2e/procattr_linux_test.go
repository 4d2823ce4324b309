package e2e

import (
	"os/exec"
	"syscall"
)

// dieWithParent asks Linux to kill cmd when the test binary dies (a
// go test -timeout panic, say), so that no server outlives its test.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
