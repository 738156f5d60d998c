package pipeline

import (
	"os/exec"
	"runtime"
	"syscall"
)

// OwnChild puts a child process (ffmpeg) in its own process group
// (signalled as one, and out of reach of a terminal's ^C) and makes the
// kernel kill it when its parent dies, even by kill -9. Start and Wait it
// under LockThread.
func OwnChild(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// LockThread pins the goroutine that starts and waits for a child to its OS
// thread: Pdeathsig fires when the forking thread exits, not the process
// (golang/go#27505), and a locked thread is never reused or retired under
// the child.
func LockThread() (unlock func()) {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}

// signalGroup sends sig to the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) error {
	return syscall.Kill(-pid, sig)
}
