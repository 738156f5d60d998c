//go:build unix && !linux

package synthcam

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts ffmpeg in its own process group. There is no Pdeathsig
// outside Linux: a publisher outlives a killed parent there.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func lockThread() (unlock func()) { return func() {} }
