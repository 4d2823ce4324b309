package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Transport hands one composed message to the next hop. from and to are
// bare envelope addresses; raw is a complete RFC 5322 message with CRLF
// line endings. A nil error means the next hop took responsibility for
// the message.
type Transport interface {
	Send(ctx context.Context, from string, to string, raw []byte) error
}

// FileTransport writes every message as its own .eml file in a folder, for
// setups without an SMTP relay and for development.
type FileTransport struct {
	dir string
}

var _ Transport = (*FileTransport)(nil)

// NewFileTransport returns a FileTransport writing into dir, which is
// created (mode 0700) on the first Send if it does not exist.
func NewFileTransport(dir string) *FileTransport {
	return &FileTransport{dir: dir}
}

// Send writes raw to a new file named *.eml, readable only by its owner
// (mode 0600). The file is written under a temporary name that does not end
// in .eml and renamed once complete, so a reader listing *.eml never sees a
// partial message. The envelope addresses are not recorded apart from the
// message's own headers.
func (f *FileTransport) Send(ctx context.Context, from, to string, raw []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("file transport: %w", err)
	}
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return fmt.Errorf("file transport: %w", err)
	}
	tmp, err := os.CreateTemp(f.dir, ".partial-*")
	if err != nil {
		return fmt.Errorf("file transport: %w", err)
	}
	tmpName := tmp.Name()
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	// CreateTemp already uses 0600; say so explicitly in case that changes.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("file transport: %w", err)
	}
	if _, err := tmp.Write(raw); err != nil {
		return fmt.Errorf("file transport: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("file transport: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("file transport: %w", err)
	}
	name, err := emlName(time.Now())
	if err != nil {
		return fmt.Errorf("file transport: %w", err)
	}
	if err := os.Rename(tmpName, filepath.Join(f.dir, name)); err != nil {
		return fmt.Errorf("file transport: %w", err)
	}
	done = true
	// Make the rename itself durable; a failure here does not undo delivery.
	if d, err := os.Open(f.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// emlName returns a unique file name that sorts in delivery order.
func emlName(now time.Time) (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return now.UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(b) + ".eml", nil
}
