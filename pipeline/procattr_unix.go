//go:build unix && !linux

package pipeline

import (
	"os/exec"
	"syscall"
)

// OwnChild puts a child process in its own process group. Outside Linux
// there is no Pdeathsig: a child outlives a parent killed by kill -9.
func OwnChild(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// LockThread is a no-op outside Linux.
func LockThread() (unlock func()) { return func() {} }

// signalGroup sends sig to the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) error {
	return syscall.Kill(-pid, sig)
}
