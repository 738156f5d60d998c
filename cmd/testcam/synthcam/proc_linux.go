package synthcam

import (
	"os/exec"
	"runtime"
	"syscall"
)

// setProcAttr puts ffmpeg in its own process group (out of reach of a
// terminal's ^C, which is the camera's to handle) and has the kernel kill it
// if the thread that started it dies, e.g. when the test binary is killed.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// lockThread pins the calling goroutine to its OS thread, see runFeed.
func lockThread() (unlock func()) {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}
