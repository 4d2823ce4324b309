package mail

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// received is one message a testServer accepted.
type received struct {
	From string
	To   []string
	Data []byte
	TLS  bool
	User string
}

// serverOptions shapes a testServer.
type serverOptions struct {
	// TLS, when set, is offered with STARTTLS (or spoken from the first
	// byte with Implicit).
	TLS      *tls.Config
	Implicit bool
	// Username and Password, when set, are required with AUTH PLAIN.
	Username, Password string
	// Reject, when set, is asked at RCPT ("rcpt") and at the end of DATA
	// ("data", with the message) whether to refuse; a non-nil error is
	// the reply.
	Reject func(stage string, attempt int, data []byte) error
	// DataDelay slows every DATA down, to widen race windows.
	DataDelay time.Duration
}

// testServer is a real SMTP server on 127.0.0.1, built with go-smtp, that
// records what it accepts.
type testServer struct {
	Addr string
	Host string
	Port int
	opts serverOptions

	mu       sync.Mutex
	msgs     []received
	attempts int // MAIL commands seen
}

func startServer(t *testing.T, opts serverOptions) *testServer {
	t.Helper()
	ts := &testServer{opts: opts}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	if opts.Implicit {
		ln = tls.NewListener(ln, opts.TLS)
	}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &testSession{srv: ts, conn: c, tls: isTLS}, nil
	}))
	s.Domain = "localhost"
	s.ErrorLog = log.New(io.Discard, "", 0)
	s.ReadTimeout = 10 * time.Second
	s.WriteTimeout = 10 * time.Second
	s.MaxMessageBytes = 1 << 20
	if !opts.Implicit {
		s.TLSConfig = opts.TLS
	}
	// Only the plain-text test server lets AUTH through without TLS.
	s.AllowInsecureAuth = opts.TLS == nil
	go func() {
		if err := s.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.Logf("smtp server: %v", err)
		}
	}()
	t.Cleanup(func() { s.Close() })
	addr := ln.Addr().(*net.TCPAddr)
	ts.Addr = addr.String()
	ts.Host = addr.IP.String()
	ts.Port = addr.Port
	return ts
}

// Messages returns a copy of what the server accepted.
func (ts *testServer) Messages() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.msgs...)
}

// Attempts returns how many MAIL commands the server saw.
func (ts *testServer) Attempts() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.attempts
}

type testSession struct {
	srv     *testServer
	conn    *smtp.Conn
	tls     bool
	user    string
	from    string
	to      []string
	attempt int
}

func (s *testSession) AuthMechanisms() []string {
	if s.srv.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *testSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.srv.opts.Username || password != s.srv.opts.Password {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.opts.Username != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.srv.mu.Lock()
	s.srv.attempts++
	s.attempt = s.srv.attempts
	s.srv.mu.Unlock()
	s.from = from
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if r := s.srv.opts.Reject; r != nil {
		if err := r("rcpt", s.attempt, nil); err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	time.Sleep(s.srv.opts.DataDelay)
	if r := s.srv.opts.Reject; r != nil {
		if err := r("data", s.attempt, data); err != nil {
			return err
		}
	}
	// The connection state is read again: STARTTLS happens after the
	// session begins.
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, received{From: s.from, To: s.to, Data: data, TLS: isTLS || s.tls, User: s.user})
	s.srv.mu.Unlock()
	return nil
}

func (s *testSession) Reset() {
	s.from = ""
	s.to = nil
}

func (s *testSession) Logout() error { return nil }

// selfSigned returns a server TLS config with a fresh certificate for
// 127.0.0.1 and localhost, and a pool that trusts it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "authgate test smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}
