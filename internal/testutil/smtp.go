package testutil

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Mailbox is a real SMTP server on loopback that accepts every message
// and keeps it, for tests that follow what authgate emails.
type Mailbox struct {
	Host string
	Port int

	mu   sync.Mutex
	msgs []Delivered
}

// Delivered is one accepted message, decoded.
type Delivered struct {
	To      []string
	Subject string
	Body    string
}

// ServeSMTP starts a real SMTP server on loopback that hands every
// accepted message (its recipients and its raw bytes) to deliver, whose
// error refuses it; the server stops when the test ends.
func ServeSMTP(t testing.TB, deliver func(to []string, raw []byte) error) (host string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{deliver: deliver}, nil
	}))
	s.Domain = "localhost"
	s.ErrorLog = log.New(io.Discard, "", 0)
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.MaxMessageBytes = 1 << 20
	go func() {
		if err := s.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.Logf("smtp server: %v", err)
		}
	}()
	t.Cleanup(func() { s.Close() })
	addr := ln.Addr().(*net.TCPAddr)
	return addr.IP.String(), addr.Port
}

// StartMailbox starts a Mailbox that stops when the test ends.
func StartMailbox(t testing.TB) *Mailbox {
	t.Helper()
	mb := &Mailbox{}
	mb.Host, mb.Port = ServeSMTP(t, mb.keep)
	return mb
}

// keep decodes and keeps one message.
func (mb *Mailbox) keep(to []string, raw []byte) error {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		return err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		subject = m.Header.Get("Subject")
	}
	mb.mu.Lock()
	mb.msgs = append(mb.msgs, Delivered{To: to, Subject: subject, Body: string(bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")))})
	mb.mu.Unlock()
	return nil
}

// To returns the messages delivered to addr whose subject contains
// subject, oldest first.
func (mb *Mailbox) To(addr, subject string) []Delivered {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	var out []Delivered
	for _, m := range mb.msgs {
		for _, rcpt := range m.To {
			if strings.EqualFold(rcpt, addr) && strings.Contains(m.Subject, subject) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// Wait waits until addr has n messages whose subject contains subject
// and returns them.
func (mb *Mailbox) Wait(ctx context.Context, addr, subject string, n int) ([]Delivered, error) {
	for {
		if got := mb.To(addr, subject); len(got) >= n {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

type smtpSession struct {
	deliver func(to []string, raw []byte) error
	to      []string
}

func (s *smtpSession) Mail(string, *smtp.MailOptions) error { return nil }

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return s.deliver(s.to, raw)
}

func (s *smtpSession) Reset()        { s.to = nil }
func (s *smtpSession) Logout() error { return nil }
