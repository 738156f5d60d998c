//go:build !linux

package pipeline

import (
	"io"
	"os"
)

func newPipeReader(f *os.File) io.Reader { return f }
