package main

import (
	"bufio"
	"bytes"
	"io"
	"sync"
	"time"
)

// logWriter batches log lines for the server: one write(2) per line costs
// about a tenth of a token request's CPU under load. Lines are flushed at
// least every flushEvery, when the buffer fills, and on Close; a warning or
// an error is written out at once, so a crash can lose at most the last
// flushEvery of informational lines.
type logWriter struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newLogWriter(w io.Writer, flushEvery time.Duration) *logWriter {
	lw := &logWriter{buf: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(lw.done)
		t := time.NewTicker(flushEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				lw.flush()
			case <-lw.stop:
				lw.flush()
				return
			}
		}
	}()
	return lw
}

// Write buffers one log record. slog writes each record with one call, so
// records are never interleaved.
func (lw *logWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	n, err := lw.buf.Write(p)
	if err == nil && (bytes.Contains(p, []byte(`"level":"WARN"`)) || bytes.Contains(p, []byte(`"level":"ERROR"`))) {
		err = lw.buf.Flush()
	}
	return n, err
}

func (lw *logWriter) flush() {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	_ = lw.buf.Flush()
}

// Close flushes what is buffered and stops the flusher.
func (lw *logWriter) Close() error {
	close(lw.stop)
	<-lw.done
	return nil
}
