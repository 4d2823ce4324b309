package e2e

import (
	"bytes"
	"context"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testutil"
)

// mailbox is a real SMTP server on loopback, built with go-smtp, that
// keeps every message it accepts.
type mailbox struct {
	host string
	port int

	mu   sync.Mutex
	msgs []delivery
}

// delivery is one accepted message.
type delivery struct {
	to   []string
	data []byte
}

// startMailbox starts the SMTP server; each DATA is held for dataDelay,
// which widens the window in which two senders could race for a message.
func startMailbox(t *testing.T, dataDelay time.Duration) *mailbox {
	t.Helper()
	mb := &mailbox{}
	mb.host, mb.port = testutil.ServeSMTP(t, func(to []string, data []byte) error {
		time.Sleep(dataDelay)
		mb.mu.Lock()
		mb.msgs = append(mb.msgs, delivery{to: to, data: data})
		mb.mu.Unlock()
		return nil
	})
	return mb
}

// to returns the messages delivered to addr, in order.
func (mb *mailbox) to(addr string) [][]byte {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	var out [][]byte
	for _, m := range mb.msgs {
		for _, rcpt := range m.to {
			if strings.EqualFold(rcpt, addr) {
				out = append(out, m.data)
			}
		}
	}
	return out
}

// total returns how many messages were accepted.
func (mb *mailbox) total() int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return len(mb.msgs)
}

// waitFor waits until addr has received n messages and returns them.
func (mb *mailbox) waitFor(ctx context.Context, addr string, n int) ([][]byte, error) {
	for {
		if got := mb.to(addr); len(got) >= n {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

var tokenInMail = regexp.MustCompile(`Your new security token:\s+([A-Za-z0-9]{24})\s`)

// securityToken returns the token a security-token email carries.
func securityToken(t *testing.T, raw []byte) string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse mail: %v", err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatalf("decode mail body: %v", err)
	}
	match := tokenInMail.FindSubmatch(body)
	if match == nil {
		t.Fatalf("no security token in mail:\n%s", body)
	}
	return string(match[1])
}
