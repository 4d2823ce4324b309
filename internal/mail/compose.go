package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrHeader is returned by Compose for a header value that would let a
// caller forge or break headers: a line break or another control
// character, or bytes that are not UTF-8.
var ErrHeader = errors.New("mail header value is not allowed")

// Compose renders msg as an RFC 5322 message from the address from (for
// example "authgate <no-reply@example.com>"), dated now. Every line ends in
// CRLF; the body is UTF-8 text in quoted-printable, so no line is longer
// than 76 characters whatever the body holds; a subject that is not plain
// ASCII is RFC 2047 encoded. Line breaks in the body (CRLF, LF or a lone
// CR) all become CRLF, and the body ends with one. A header value containing CR, LF or another
// control character is rejected with ErrHeader, never passed through.
func Compose(from string, msg Message, now time.Time) ([]byte, error) {
	for name, v := range map[string]string{"From": from, "To": msg.To, "Subject": msg.Subject} {
		if err := checkHeader(v); err != nil {
			return nil, fmt.Errorf("compose mail: %s: %w", name, err)
		}
	}
	if !utf8.ValidString(msg.Body) {
		return nil, errors.New("compose mail: body is not UTF-8")
	}
	fromAddr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("compose mail: From: %w", err)
	}
	toAddr, err := mail.ParseAddress(msg.To)
	if err != nil {
		return nil, fmt.Errorf("compose mail: To: %w", err)
	}
	id, err := messageID(fromAddr.Address)
	if err != nil {
		return nil, fmt.Errorf("compose mail: %w", err)
	}

	var b bytes.Buffer
	header := func(name, value string) {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(value)
		b.WriteString("\r\n")
	}
	header("From", fromAddr.String())
	header("To", toAddr.String())
	header("Subject", encodeSubject(msg.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", id)
	// RFC 3834: tells vacation responders not to answer.
	header("Auto-Submitted", "auto-generated")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")

	// Any of CRLF, LF or a lone CR ends a line; all become CRLF.
	body := strings.ReplaceAll(msg.Body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	if body != "" && !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, fmt.Errorf("compose mail: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("compose mail: %w", err)
	}
	return b.Bytes(), nil
}

// checkHeader rejects what must never reach a header line.
func checkHeader(v string) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("%w: not UTF-8", ErrHeader)
	}
	for _, r := range v {
		if r == '\r' || r == '\n' {
			return fmt.Errorf("%w: contains a line break", ErrHeader)
		}
		if (r < ' ' && r != '\t') || r == 0x7f {
			return fmt.Errorf("%w: contains a control character", ErrHeader)
		}
	}
	return nil
}

// maxPlainSubject keeps a plain Subject line well under RFC 5322's limit of
// 998 characters; longer subjects are encoded and folded.
const maxPlainSubject = 900

// encodeSubject returns s unchanged when it is printable ASCII that no
// reader could mistake for an encoded word or trim, and otherwise as RFC 2047
// base64 encoded words, each at most 75 characters, folded onto
// continuation lines.
func encodeSubject(s string) string {
	plain := len(s) <= maxPlainSubject && !strings.Contains(s, "=?") && s == strings.TrimSpace(s)
	for i := 0; plain && i < len(s); i++ {
		plain = s[i] >= ' ' && s[i] <= '~'
	}
	if plain {
		return s
	}
	// 42 bytes encode to 56 base64 characters; with "=?utf-8?b?" and "?="
	// the word is 68 characters long, and "Subject: " and it fit in 78.
	const maxChunk = 42
	var words []string
	for len(s) > 0 {
		n := 0
		for n < len(s) {
			_, size := utf8.DecodeRuneInString(s[n:])
			if n+size > maxChunk {
				break
			}
			n += size
		}
		words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return strings.Join(words, "\r\n ")
}

// messageID returns a new globally unique Message-ID in the domain of the
// sender's address.
func messageID(addr string) (string, error) {
	domain := "localhost"
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i < len(addr)-1 {
		domain = addr[i+1:]
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("message id: %w", err)
	}
	return "<" + hex.EncodeToString(b) + "@" + domain + ">", nil
}
