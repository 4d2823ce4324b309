package mail

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"
)

// parsed is a composed message read back the way a mail client would.
type parsed struct {
	Header  mail.Header
	Subject string
	Body    string
}

// parseComposed checks the invariants every composed message keeps and
// returns its decoded parts.
func parseComposed(t testing.TB, raw []byte) parsed {
	t.Helper()
	for i, line := range bytes.SplitAfter(raw, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if !bytes.HasSuffix(line, []byte("\r\n")) {
			t.Fatalf("line %d = %q, want it to end in CRLF", i+1, line)
		}
		if bytes.Contains(line[:len(line)-2], []byte("\r")) {
			t.Fatalf("line %d = %q has a bare CR", i+1, line)
		}
		if len(line)-2 > 78 {
			t.Fatalf("line %d is %d characters long, want at most 78: %q", i+1, len(line)-2, line)
		}
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail cannot read the message: %v\n%s", err, raw)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode Subject %q: %v", m.Header.Get("Subject"), err)
	}
	if got, want := m.Header.Get("Content-Transfer-Encoding"), "quoted-printable"; got != want {
		t.Fatalf("Content-Transfer-Encoding = %q, want %q", got, want)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatalf("decode quoted-printable body: %v", err)
	}
	return parsed{Header: m.Header, Subject: subject, Body: string(body)}
}

func TestComposeParses(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	longLine := strings.Repeat("0123456789", 12) // longer than a QP line
	tests := []struct {
		name     string
		from     string
		msg      Message
		wantTo   string
		wantBody string
	}{
		{
			name:     "ascii",
			from:     "authgate <no-reply@example.com>",
			msg:      Message{To: "alice@example.org", Subject: "Your security token", Body: "Token: abc=def\n\nBye"},
			wantTo:   "alice@example.org",
			wantBody: "Token: abc=def\r\n\r\nBye\r\n",
		},
		{
			name:     "non-ascii subject and body",
			from:     "Zoë's IdP <idp@example.com>",
			msg:      Message{To: "Bjørn <bjorn@example.org>", Subject: "Ваш код безопасности — ünïcödé", Body: "Grüße,\r\n" + longLine + "\r\ntrailing space \n"},
			wantTo:   "bjorn@example.org",
			wantBody: "Grüße,\r\n" + longLine + "\r\ntrailing space \r\n",
		},
		{
			name:     "subject that looks like an encoded word",
			from:     "no-reply@example.com",
			msg:      Message{To: "bob@example.org", Subject: "=?utf-8?q?not_encoded?=", Body: "x"},
			wantTo:   "bob@example.org",
			wantBody: "x\r\n",
		},
		{
			name:     "long non-ascii subject is folded",
			from:     "no-reply@example.com",
			msg:      Message{To: "bob@example.org", Subject: strings.Repeat("é", 300), Body: ""},
			wantTo:   "bob@example.org",
			wantBody: "",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := Compose(tc.from, tc.msg, now)
			if err != nil {
				t.Fatalf("Compose: %v", err)
			}
			p := parseComposed(t, raw)
			if p.Subject != tc.msg.Subject {
				t.Errorf("Subject = %q, want %q", p.Subject, tc.msg.Subject)
			}
			if p.Body != tc.wantBody {
				t.Errorf("body = %q, want %q", p.Body, tc.wantBody)
			}
			to, err := p.Header.AddressList("To")
			if err != nil || len(to) != 1 || to[0].Address != tc.wantTo {
				t.Errorf("To = %v (err %v), want %s", to, err, tc.wantTo)
			}
			wantFrom, _ := mail.ParseAddress(tc.from)
			from, err := p.Header.AddressList("From")
			if err != nil || len(from) != 1 || *from[0] != *wantFrom {
				t.Errorf("From = %v (err %v), want %v", from, err, wantFrom)
			}
			date, err := p.Header.Date()
			if err != nil || !date.Equal(now) {
				t.Errorf("Date = %v (err %v), want %v", date, err, now)
			}
			if got := p.Header.Get("Message-ID"); !strings.HasPrefix(got, "<") || !strings.HasSuffix(got, "@example.com>") {
				t.Errorf("Message-ID = %q, want <...@example.com>", got)
			}
			if got, want := p.Header.Get("MIME-Version"), "1.0"; got != want {
				t.Errorf("MIME-Version = %q, want %q", got, want)
			}
			mt, params, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if err != nil || mt != "text/plain" || params["charset"] != "utf-8" {
				t.Errorf("Content-Type = %q, want text/plain; charset=utf-8", p.Header.Get("Content-Type"))
			}
		})
	}
}

func TestComposeMessageIDsDiffer(t *testing.T) {
	t.Parallel()
	msg := Message{To: "a@example.org", Subject: "s", Body: "b"}
	ids := map[string]bool{}
	for range 20 {
		raw, err := Compose("x@example.com", msg, time.Now())
		if err != nil {
			t.Fatalf("Compose: %v", err)
		}
		id := parseComposed(t, raw).Header.Get("Message-ID")
		if ids[id] {
			t.Fatalf("Message-ID %s repeated", id)
		}
		ids[id] = true
	}
}

func TestComposeRejectsHeaderInjection(t *testing.T) {
	t.Parallel()
	ok := Message{To: "a@example.org", Subject: "hello", Body: "b"}
	tests := []struct {
		name string
		from string
		msg  func(Message) Message
	}{
		{"LF in subject", "x@example.com", func(m Message) Message { m.Subject = "hi\nBcc: evil@example.net"; return m }},
		{"CRLF in subject", "x@example.com", func(m Message) Message { m.Subject = "hi\r\nBcc: evil@example.net"; return m }},
		{"CR in to", "x@example.com", func(m Message) Message { m.To = "a@example.org\rBcc: evil@example.net"; return m }},
		{"LF in to", "x@example.com", func(m Message) Message { m.To = "a@example.org\nBcc: evil@example.net"; return m }},
		{"LF in from", "x@example.com\nBcc: evil@example.net", func(m Message) Message { return m }},
		{"NUL in subject", "x@example.com", func(m Message) Message { m.Subject = "a\x00b"; return m }},
		{"invalid UTF-8 in subject", "x@example.com", func(m Message) Message { m.Subject = "a\xffb"; return m }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := Compose(tc.from, tc.msg(ok), time.Now())
			if !errors.Is(err, ErrHeader) {
				t.Fatalf("Compose error = %v, want ErrHeader; output:\n%s", err, raw)
			}
		})
	}
	if _, err := Compose("x@example.com", Message{To: "not an address", Subject: "s"}, time.Now()); err == nil {
		t.Errorf("Compose with To %q: got nil error, want one", "not an address")
	}
}

// FuzzCompose checks that whatever the caller passes, Compose either
// refuses it or produces a message that parses back to the same subject
// and body, with CRLF lines no longer than 78 characters.
func FuzzCompose(f *testing.F) {
	f.Add("Hello", "body\nline two")
	f.Add("Grüße =?utf-8?q?x?=", strings.Repeat("é", 200))
	f.Add("a\tb", "lone\rcr and trailing tab\t\n.\n")
	f.Fuzz(func(t *testing.T, subject, body string) {
		raw, err := Compose("authgate <no-reply@example.com>", Message{To: "a@example.org", Subject: subject, Body: body}, time.Now())
		if err != nil {
			return
		}
		p := parseComposed(t, raw)
		if p.Subject != subject {
			t.Fatalf("Subject = %q, want %q", p.Subject, subject)
		}
		want := strings.ReplaceAll(body, "\r\n", "\n")
		want = strings.ReplaceAll(want, "\r", "\n")
		if want != "" && !strings.HasSuffix(want, "\n") {
			want += "\n"
		}
		want = strings.ReplaceAll(want, "\n", "\r\n")
		if p.Body != want {
			t.Fatalf("body = %q, want %q", p.Body, want)
		}
	})
}
