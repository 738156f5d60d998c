package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// proc is one daemon process of the simulated cluster: an origin or an
// edge, on a fixed 127.0.0.1 port so that it can be restarted at the same
// address. It is signalled by its pid only.
type proc struct {
	name    string // "origin 0", "edge 2"
	addr    string // host:port it listens on
	logPath string // its stdout and stderr

	cmd  *exec.Cmd
	done chan struct{} // closed once Wait returned
	err  error         // Wait's result; read after done
}

// startProc starts bin with args, logging to logPath (appended: a restart
// keeps the earlier run's lines), and waits until it serves /healthz.
func startProc(ctx context.Context, bin, name, addr, logPath string, args ...string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: log file: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The daemon dies with the simulation, whatever happens to it (its own
	// ffmpeg children die with it in turn).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: start %s: %w", name, bin, err)
	}
	p := &proc{name: name, addr: addr, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { // owned by p: ends when the process does, which stop and kill ensure
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	if _, err := p.waitHealthy(ctx, 20*time.Second); err != nil {
		p.kill()
		return nil, fmt.Errorf("%s: %w\n%s", name, err, p.logTail(20))
	}
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) base() string { return "http://" + p.addr }

// waitHealthy polls /healthz every 10 ms until it answers 200, and returns
// when it did.
func (p *proc) waitHealthy(ctx context.Context, within time.Duration) (time.Time, error) {
	deadline := time.Now().Add(within)
	c := &http.Client{Timeout: time.Second}
	for {
		resp, err := c.Get(p.base() + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
		}
		select {
		case <-p.done:
			return time.Time{}, fmt.Errorf("exited at start: %v", p.err)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("no /healthz within %v", within)
		}
	}
}

// alive tells whether the process has not exited.
func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the exit.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM, then SIGKILL after timeout; the error says when the
// exit was not a clean one within the timeout.
func (p *proc) stop(timeout time.Duration) error {
	if !p.alive() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		var ee *exec.ExitError
		if errors.As(p.err, &ee) {
			return fmt.Errorf("%s (pid %d) exited with %v after SIGTERM", p.name, p.pid(), p.err)
		}
		return nil
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("%s (pid %d) did not exit within %v of SIGTERM: killed", p.name, p.pid(), timeout)
	}
}

// logTail returns the last n lines of the process's log.
func (p *proc) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
