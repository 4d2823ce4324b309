package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &mailSession{mb: mb, delay: dataDelay}, nil
	}))
	s.Domain = "localhost"
	s.ErrorLog = log.New(io.Discard, "", 0)
	s.ReadTimeout = 10 * time.Second
	s.WriteTimeout = 10 * time.Second
	s.MaxMessageBytes = 1 << 20
	go func() {
		if err := s.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.Logf("smtp server: %v", err)
		}
	}()
	t.Cleanup(func() { s.Close() })
	addr := ln.Addr().(*net.TCPAddr)
	mb.host, mb.port = addr.IP.String(), addr.Port
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

type mailSession struct {
	mb    *mailbox
	delay time.Duration
	to    []string
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	time.Sleep(s.delay)
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, delivery{to: s.to, data: data})
	s.mb.mu.Unlock()
	return nil
}

func (s *mailSession) Reset()        { s.to = nil }
func (s *mailSession) Logout() error { return nil }

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
