//go:build !unix

package synthcam

import (
	"errors"
	"os"
	"os/exec"
)

func setProcAttr(*exec.Cmd) {}

func lockThread() (unlock func()) { return func() {} }

// signalProc: stopping a process is not supported here.
func signalProc(*os.Process, bool) error {
	return errors.New("pause is not supported on this OS")
}

func killProc(p *os.Process) { _ = p.Kill() }
