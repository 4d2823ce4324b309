//go:build !linux

package e2e

import "os/exec"

// dieWithParent does nothing here: only Linux offers a parent-death signal.
func dieWithParent(*exec.Cmd) {}
