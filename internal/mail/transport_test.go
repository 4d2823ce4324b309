package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func composeTest(t *testing.T, body string) []byte {
	t.Helper()
	raw, err := Compose("authgate <no-reply@example.com>", Message{To: "alice@example.org", Subject: "Test", Body: body}, time.Now())
	if err != nil {
		t.Fatalf("Compose: %v", err)
	}
	return raw
}

func TestFileTransport(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "outbox")
	ft := NewFileTransport(dir)
	raw1 := composeTest(t, "first")
	raw2 := composeTest(t, "second")
	for _, raw := range [][]byte{raw1, raw2} {
		if err := ft.Send(t.Context(), "no-reply@example.com", "alice@example.org", raw); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("stat outbox: %v", err)
	}
	if got, want := fi.Mode().Perm(), os.FileMode(0o700); got != want {
		t.Errorf("outbox mode = %v, want %v", got, want)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	if got, want := len(entries), 2; got != want {
		t.Fatalf("outbox holds %d files, want %d (no temporary files left): %v", got, want, entries)
	}
	var bodies []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".eml") {
			t.Errorf("file %q does not end in .eml", e.Name())
		}
		info, err := e.Info()
		if err != nil {
			t.Fatalf("stat %s: %v", e.Name(), err)
		}
		if got, want := info.Mode().Perm(), os.FileMode(0o600); got != want {
			t.Errorf("%s mode = %v, want %v", e.Name(), got, want)
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatalf("read %s: %v", e.Name(), err)
		}
		if !bytes.Equal(raw, raw1) && !bytes.Equal(raw, raw2) {
			t.Errorf("%s holds something other than what was sent:\n%s", e.Name(), raw)
		}
		bodies = append(bodies, parseComposed(t, raw).Body)
	}
	if strings.Join(bodies, "") != "first\r\nsecond\r\n" && strings.Join(bodies, "") != "second\r\nfirst\r\n" {
		t.Errorf("bodies = %q, want first and second", bodies)
	}
}

func TestFileTransportCancelled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := NewFileTransport(dir).Send(ctx, "a@example.com", "b@example.com", []byte("x\r\n")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with a cancelled context: err = %v, want context.Canceled", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("outbox holds %v, want nothing", entries)
	}
}

func TestSMTPTransportPlain(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	tr := NewSMTPTransport(SMTPOptions{Host: srv.Host, Port: srv.Port, TLS: TLSNone})
	raw := composeTest(t, "hello over smtp")
	if err := tr.Send(t.Context(), "no-reply@example.com", "alice@example.org", raw); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("server received %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.From != "no-reply@example.com" || len(m.To) != 1 || m.To[0] != "alice@example.org" {
		t.Errorf("envelope = %s -> %v, want no-reply@example.com -> [alice@example.org]", m.From, m.To)
	}
	if !bytes.Equal(m.Data, raw) {
		t.Errorf("server received\n%q\nwant\n%q", m.Data, raw)
	}
	if m.TLS {
		t.Errorf("TLS = true with TLSNone, want false")
	}
}

func TestSMTPTransportTLS(t *testing.T) {
	t.Parallel()
	serverTLS, pool := selfSigned(t)
	const user, password = "mailer", "s3cret-Passw0rd"
	tests := []struct {
		name     string
		implicit bool
		mode     string
	}{
		{"starttls", false, TLSStartTLS},
		{"implicit", true, TLSImplicit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, serverOptions{TLS: serverTLS, Implicit: tc.implicit, Username: user, Password: password})
			opts := SMTPOptions{
				Host: srv.Host, Port: srv.Port, TLS: tc.mode,
				Username: user, Password: password,
				TLSConfig: &tls.Config{RootCAs: pool},
			}
			raw := composeTest(t, "hello over tls")
			if err := NewSMTPTransport(opts).Send(t.Context(), "no-reply@example.com", "alice@example.org", raw); err != nil {
				t.Fatalf("Send: %v", err)
			}
			msgs := srv.Messages()
			if len(msgs) != 1 {
				t.Fatalf("server received %d messages, want 1", len(msgs))
			}
			if !msgs[0].TLS {
				t.Errorf("message arrived without TLS")
			}
			if got := msgs[0].User; got != user {
				t.Errorf("authenticated user = %q, want %q", got, user)
			}
			if !bytes.Equal(msgs[0].Data, raw) {
				t.Errorf("server received\n%q\nwant\n%q", msgs[0].Data, raw)
			}

			t.Run("wrong password", func(t *testing.T) {
				bad := opts
				bad.Password = "wrong-Passw0rd-xyz"
				err := NewSMTPTransport(bad).Send(t.Context(), "no-reply@example.com", "alice@example.org", raw)
				var se *smtp.SMTPError
				if !errors.As(err, &se) || se.Code != 535 {
					t.Fatalf("err = %v, want SMTP 535", err)
				}
				if strings.Contains(err.Error(), bad.Password) || strings.Contains(err.Error(), password) {
					t.Errorf("error %q contains a password", err)
				}
				for _, printed := range []string{fmt.Sprint(bad), fmt.Sprintf("%+v", bad), fmt.Sprintf("%#v", bad)} {
					if strings.Contains(printed, bad.Password) {
						t.Errorf("printing SMTPOptions shows the password: %s", printed)
					}
				}
			})
			t.Run("untrusted certificate", func(t *testing.T) {
				untrusted := opts
				untrusted.TLSConfig = nil
				err := NewSMTPTransport(untrusted).Send(t.Context(), "no-reply@example.com", "alice@example.org", raw)
				var verr *tls.CertificateVerificationError
				if !errors.As(err, &verr) {
					t.Fatalf("err = %v, want a certificate verification error", err)
				}
			})
			if got := len(srv.Messages()); got != 1 {
				t.Errorf("server holds %d messages after failed sends, want 1", got)
			}
		})
	}
}

func TestSMTPTransportStartTLSRequired(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{}) // offers no STARTTLS
	err := NewSMTPTransport(SMTPOptions{Host: srv.Host, Port: srv.Port}).Send(t.Context(), "a@example.com", "b@example.org", composeTest(t, "x"))
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("err = %v, want a refusal to go on without STARTTLS", err)
	}
	if got := len(srv.Messages()); got != 0 {
		t.Errorf("server received %d messages in clear text, want 0", got)
	}
}

func TestSMTPTransportRespectsDeadline(t *testing.T) {
	t.Parallel()
	// A server that accepts connections and never says a word.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	addr := ln.Addr().(*net.TCPAddr)
	for _, mode := range []string{TLSNone, TLSStartTLS, TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := NewSMTPTransport(SMTPOptions{Host: "127.0.0.1", Port: addr.Port, TLS: mode}).Send(ctx, "a@example.com", "b@example.org", []byte("x\r\n"))
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("Send took %v, want it to stop near the 200ms deadline", elapsed)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want context.DeadlineExceeded", err)
			}
		})
	}
}

func TestSMTPTransportUnknownTLSMode(t *testing.T) {
	t.Parallel()
	err := NewSMTPTransport(SMTPOptions{Host: "127.0.0.1", Port: 1, TLS: "ssl"}).Send(t.Context(), "a@example.com", "b@example.org", []byte("x\r\n"))
	if err == nil || !strings.Contains(err.Error(), "ssl") {
		t.Fatalf("err = %v, want an unknown TLS mode error", err)
	}
}
