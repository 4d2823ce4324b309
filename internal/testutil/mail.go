package testutil

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"sync"
)

// RefusingMail is a mail transport that refuses every message the way a
// server that quotes content back does: its error echoes the body, so a
// test can check that the body (and the security token in it) never
// reaches the stored error, a response or a log.
type RefusingMail struct {
	mu     sync.Mutex
	bodies []string
}

// Send decodes the message, keeps its body and refuses it.
func (r *RefusingMail) Send(_ context.Context, _, _ string, raw []byte) error {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.bodies = append(r.bodies, string(body))
	r.mu.Unlock()
	return fmt.Errorf("550 5.7.1 message refused by policy: %s", body)
}

var securityToken = regexp.MustCompile(`security token:\s+([A-Za-z0-9]{24})\s`)

// Tokens returns the security tokens in the bodies refused so far.
func (r *RefusingMail) Tokens() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, b := range r.bodies {
		if m := securityToken.FindStringSubmatch(b); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}
