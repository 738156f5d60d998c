package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// cmdReader is the pipe read floor: the least a Go program does to receive
// a camera's frames from ffmpeg, reading stdin through the runtime's poller
// (as a pipe from os/exec is read) into one reused buffer and discarding
// it, with no splitting and no publishing.
func cmdReader(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("reader takes no arguments")
	}
	if err := syscall.SetNonblock(0, true); err != nil {
		return fmt.Errorf("stdin: %w", err)
	}
	in := os.NewFile(0, "stdin")
	buf := make([]byte, 256<<10)
	for {
		if _, err := in.Read(buf); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
