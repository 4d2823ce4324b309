package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLS modes for SMTPOptions.TLS.
const (
	// TLSStartTLS upgrades a plain connection with STARTTLS and fails if
	// the server does not offer it. It is the default.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (usually port 465).
	TLSImplicit = "implicit"
	// TLSNone sends in clear text.
	TLSNone = "none"
)

// ErrInsecureAuth is returned instead of sending a password over a
// connection that is neither encrypted nor to a loopback address.
var ErrInsecureAuth = errors.New("smtp: refusing to send a password over an unencrypted connection")

// SMTPOptions configures an SMTPTransport.
type SMTPOptions struct {
	Host string
	Port int
	// TLS is TLSStartTLS (the default when empty), TLSImplicit or TLSNone.
	TLS string
	// Username and Password, when Username is set, authenticate with AUTH
	// PLAIN. The password is never part of an error or a log line.
	Username string
	Password string
	// TLSConfig overrides the client TLS settings (tests use it for
	// RootCAs). ServerName defaults to Host.
	TLSConfig *tls.Config
	// DialTimeout bounds connecting; 0 means 30 seconds. The whole
	// conversation is bounded by the deadline of the context given to Send.
	DialTimeout time.Duration
}

// String describes the options without the password, so that printing
// them with %v cannot leak it.
func (o SMTPOptions) String() string {
	pw := ""
	if o.Password != "" {
		pw = "[redacted]"
	}
	return fmt.Sprintf("{Host:%s Port:%d TLS:%s Username:%s Password:%s DialTimeout:%s}",
		o.Host, o.Port, o.TLS, o.Username, pw, o.DialTimeout)
}

// GoString is String, for %#v.
func (o SMTPOptions) GoString() string { return o.String() }

// LogValue keeps the password out of structured logs.
func (o SMTPOptions) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("host", o.Host),
		slog.Int("port", o.Port),
		slog.String("tls", o.TLS),
		slog.String("username", o.Username),
	)
}

// SMTPTransport delivers through an SMTP relay, one connection per message.
type SMTPTransport struct {
	opts SMTPOptions
}

var _ Transport = (*SMTPTransport)(nil)

// NewSMTPTransport returns a transport for the relay described by opts.
// Options are checked on Send.
func NewSMTPTransport(opts SMTPOptions) *SMTPTransport {
	if opts.TLS == "" {
		opts.TLS = TLSStartTLS
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 30 * time.Second
	}
	return &SMTPTransport{opts: opts}
}

// Send delivers raw to the relay for the single recipient to. It gives up
// when ctx is done: every read and write on the connection is bounded by
// ctx's deadline, and cancelling ctx closes the connection.
func (t *SMTPTransport) Send(ctx context.Context, from, to string, raw []byte) error {
	addr := net.JoinHostPort(t.opts.Host, strconv.Itoa(t.opts.Port))
	err := t.send(ctx, addr, from, to, raw)
	if err == nil {
		return nil
	}
	cerr := ctx.Err()
	if cerr == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		// The connection deadline is the context's; it may fire a moment
		// before the context's own timer does.
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			cerr = context.DeadlineExceeded
		}
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("smtp %s: %w: %w", addr, cerr, err)
	}
	return fmt.Errorf("smtp %s: %w", addr, err)
}

func (t *SMTPTransport) send(ctx context.Context, addr, from, to string, raw []byte) error {
	switch t.opts.TLS {
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return fmt.Errorf("unknown TLS mode %q (use %s, %s or %s)", t.opts.TLS, TLSStartTLS, TLSImplicit, TLSNone)
	}
	dialer := net.Dialer{Timeout: t.opts.DialTimeout}
	nc, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	conn := &deadlineConn{Conn: nc}
	if d, ok := ctx.Deadline(); ok {
		conn.limit = d
		if err := conn.SetDeadline(time.Time{}); err != nil {
			nc.Close()
			return err
		}
	}
	// go-smtp resets deadlines between commands; closing the connection is
	// what reliably interrupts it when ctx is cancelled.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()

	tlsConfig := t.tlsConfig()
	var c *smtp.Client
	switch t.opts.TLS {
	case TLSImplicit:
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return fmt.Errorf("tls handshake: %w", err)
		}
		c = smtp.NewClient(tc)
	case TLSStartTLS:
		c, err = smtp.NewClientStartTLS(conn, tlsConfig)
		if err != nil {
			nc.Close()
			return fmt.Errorf("starttls: %w", err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	// Greet explicitly: the client would otherwise greet lazily inside
	// calls that swallow the error, hiding a failed STARTTLS handshake
	// behind "AUTH not offered".
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("hello: %w", err)
	}

	if t.opts.Username != "" {
		_, encrypted := c.TLSConnectionState()
		if !encrypted && !isLoopback(t.opts.Host) {
			return ErrInsecureAuth
		}
		if !c.SupportsAuth(sasl.Plain) {
			return errors.New("server does not offer AUTH PLAIN")
		}
		if err := c.Auth(sasl.NewPlainClient("", t.opts.Username, t.opts.Password)); err != nil {
			return fmt.Errorf("auth as %q: %w", t.opts.Username, err)
		}
	}
	if err := c.SendMail(from, []string{to}, bytes.NewReader(raw)); err != nil {
		return err
	}
	// The relay accepted the message at the end of DATA; a failed QUIT
	// does not undo that.
	_ = c.Quit()
	return nil
}

func (t *SMTPTransport) tlsConfig() *tls.Config {
	var cfg *tls.Config
	if t.opts.TLSConfig != nil {
		cfg = t.opts.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = t.opts.Host
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// deadlineConn never lets a deadline reach past limit, so that the deadline
// of Send's context holds even though the SMTP client sets and clears its
// own deadlines around every command.
type deadlineConn struct {
	net.Conn
	limit time.Time
}

func (c *deadlineConn) clamp(t time.Time) time.Time {
	if !c.limit.IsZero() && (t.IsZero() || t.After(c.limit)) {
		return c.limit
	}
	return t
}

func (c *deadlineConn) SetDeadline(t time.Time) error { return c.Conn.SetDeadline(c.clamp(t)) }

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(c.clamp(t))
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.clamp(t))
}
