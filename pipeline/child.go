package pipeline

import (
	"context"
	"io"
	"os/exec"
	"syscall"
)

// StartOwned starts cmd on a goroutine of its own, locked to its OS thread
// until the child is waited for (Pdeathsig is tied to that thread; see
// LockThread), and returns a channel that receives Wait's result once.
// Call OwnChild on cmd first. The caller owns the goroutine: it ends when
// the child exits, and the caller must receive from the channel.
//
// Only this goroutine is locked: whoever reads the child's output runs
// unlocked, so that each read does not hand the goroutine over between OS
// threads (a few futex calls and context switches per frame otherwise).
func StartOwned(cmd *exec.Cmd) (<-chan error, error) {
	started := make(chan error, 1)
	waited := make(chan error, 1)
	go func() {
		unlock := LockThread()
		defer unlock()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		waited <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return waited, nil
}

// ffmpegCommand returns an ffmpeg command as the daemon runs every one: in a
// process group of its own that dies with the daemon (OwnChild), stopped
// with SIGTERM to the group when ctx ends and killed waitDelay later, its
// stderr to stderr. Start it with StartOwned.
func ffmpegCommand(ctx context.Context, path string, args []string, stderr io.Writer) *exec.Cmd {
	cmd := exec.CommandContext(ctx, path, args...)
	OwnChild(cmd)
	cmd.Cancel = func() error { return signalGroup(cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = waitDelay
	cmd.Stderr = stderr
	return cmd
}
