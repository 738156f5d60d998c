//go:build unix

package synthcam

import (
	"os"
	"syscall"
)

// signalProc freezes (SIGSTOP) or thaws (SIGCONT) the publisher. os.Process
// signals through a pidfd, so a reaped and reused pid is never hit.
func signalProc(p *os.Process, pause bool) error {
	if pause {
		return p.Signal(syscall.SIGSTOP)
	}
	return p.Signal(syscall.SIGCONT)
}

// killProc kills the publisher, stopped or not.
func killProc(p *os.Process) {
	_ = p.Signal(syscall.SIGKILL)
}
