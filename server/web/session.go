package web

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/models"
)

// SessionStore is what Sessions needs of the storage: the login_sessions
// table, keyed by the keyed hash of the cookie.
type SessionStore interface {
	CreateSession(ctx context.Context, ls models.LoginSession) error
	Session(ctx context.Context, idHash string, now time.Time) (models.LoginSession, bool, error)
	DeleteSession(ctx context.Context, idHash string) error
}

// MACer computes keyed hashes, one key per purpose (a *keyring.Keyring).
type MACer interface {
	MAC(purpose string, data []byte) string
}

// CSRFField is the form field that carries the CSRF token.
const CSRFField = "csrf_token"

// SessionOptions parameterise Sessions for one surface.
type SessionOptions struct {
	// Name starts every cookie's name: Name+"_session", Name+"_csrf", and
	// those made with Cookie. Surfaces served on one host need distinct
	// names (browsers do not separate cookies by port, and a __Host-
	// cookie's path is always "/").
	Name string
	// Purpose starts every keyring purpose ("" for the public pages,
	// "admin-" for the console), so that one surface's session cookie or
	// token is worthless on another.
	Purpose string
	// Secure marks every cookie Secure and gives it the __Host- prefix:
	// only this origin, over HTTPS, can set or read it. See SecureCookies.
	Secure   bool
	Lifespan time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Sessions is authgate's one implementation of browser sessions and CSRF
// tokens, used by the public pages and the console with their own
// options.
//
// The database keeps only a keyed hash of the session cookie, so a leaked
// table signs nobody in; every sign-in gets a fresh session id (no
// fixation). A form shown with a session carries a token bound to that
// session (a MAC of its id), so it changes at every sign-in and no token
// obtained without the victim's session passes; a form shown without a
// session carries a token bound to a CSRF cookie (keyed double submit).
type Sessions struct {
	store SessionStore
	keys  MACer
	o     SessionOptions
}

// NewSessions returns the sessions of one surface.
func NewSessions(store SessionStore, keys MACer, o SessionOptions) *Sessions {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Sessions{store: store, keys: keys, o: o}
}

// SecureCookies reports whether cookies for a site served at rawURL must
// be Secure (and __Host-): everywhere except over plain http on a loopback
// host, where browsers would drop them (a first run, tests).
func SecureCookies(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" {
		return true
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// CookieName returns the full name of the cookie called name ("session",
// "csrf", or one of the surface's own).
func (s *Sessions) CookieName(name string) string {
	full := s.o.Name + "_" + name
	if s.o.Secure {
		return "__Host-" + full
	}
	return full
}

// Cookie returns the surface's cookie called name: HttpOnly, SameSite=Lax,
// path "/", and Secure with the __Host- prefix unless Secure is off. A
// negative maxAge deletes it; zero makes it last the browser session.
func (s *Sessions) Cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     s.CookieName(name),
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.o.Secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// CookieValue returns the value of the surface's cookie called name.
func (s *Sessions) CookieValue(r *http.Request, name string) (string, bool) {
	c, err := r.Cookie(s.CookieName(name))
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}

// sessionID returns the session cookie the browser brought, if it is
// plausible.
func (s *Sessions) sessionID(r *http.Request) (string, bool) {
	raw, ok := s.CookieValue(r, "session")
	if !ok || len(raw) > 128 {
		return "", false
	}
	return raw, true
}

func (s *Sessions) idHash(raw string) string { return s.keys.MAC(s.o.Purpose+"session", []byte(raw)) }

// IDHash returns the stored key of the browser's session, for a query that
// loads the session with more (see storage.SessionForClient); ok is false
// without a session cookie.
func (s *Sessions) IDHash(r *http.Request) (string, bool) {
	raw, ok := s.sessionID(r)
	if !ok {
		return "", false
	}
	return s.idHash(raw), true
}

// Now is the time sessions are judged live at.
func (s *Sessions) Now() time.Time { return s.o.Now() }

// Current returns the request's live session, if any.
func (s *Sessions) Current(r *http.Request) (models.LoginSession, bool, error) {
	h, ok := s.IDHash(r)
	if !ok {
		return models.LoginSession{}, false, nil
	}
	return s.store.Session(r.Context(), h, s.o.Now())
}

// Start signs userID in with a fresh session, replacing the browser's
// previous one, and drops the browser's anonymous CSRF cookie: every form
// token of the previous state stops working.
func (s *Sessions) Start(ctx context.Context, w http.ResponseWriter, r *http.Request, userID string) (models.LoginSession, error) {
	return s.StartAMR(ctx, w, r, userID, "")
}

// StartAMR is Start for a sign-in that used the methods amr (RFC 8176
// values, space-separated: "pwd", "pwd otp mfa"), which the session
// remembers for ID tokens and for the pages that require MFA.
func (s *Sessions) StartAMR(ctx context.Context, w http.ResponseWriter, r *http.Request, userID, amr string) (models.LoginSession, error) {
	if err := s.End(ctx, w, r); err != nil {
		return models.LoginSession{}, err
	}
	raw, err := keyring.RandomString(32)
	if err != nil {
		return models.LoginSession{}, err
	}
	sid, err := keyring.RandomString(22)
	if err != nil {
		return models.LoginSession{}, err
	}
	now := s.o.Now().UTC()
	ls := models.LoginSession{
		IDHash:     s.idHash(raw),
		UserID:     userID,
		AuthTime:   now.Truncate(time.Second),
		ExpiresAt:  now.Add(s.o.Lifespan),
		CreatedAt:  now,
		SID:        sid,
		Surface:    s.o.Name,
		UserAgent:  truncate(r.UserAgent(), 512),
		LastSeenAt: &now,
		AMR:        amr,
	}
	if addr, ok := clientip.FromContext(ctx); ok {
		ls.SourceIP = addr.String()
	}
	if err := s.store.CreateSession(ctx, ls); err != nil {
		return models.LoginSession{}, err
	}
	http.SetCookie(w, s.Cookie("session", raw, int(s.o.Lifespan.Seconds())))
	if _, ok := s.CookieValue(r, "csrf"); ok {
		http.SetCookie(w, s.Cookie("csrf", "", -1))
	}
	return ls, nil
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// End signs the browser out: its session is deleted and its cookie
// cleared. Without a session cookie it does nothing.
func (s *Sessions) End(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	raw, ok := s.CookieValue(r, "session")
	if !ok {
		return nil
	}
	http.SetCookie(w, s.Cookie("session", "", -1))
	return s.store.DeleteSession(ctx, s.idHash(raw))
}

// CSRFToken returns the token the request's forms must carry: bound to
// the session when the browser has one, else to a CSRF cookie, which it
// sets when the browser has none yet.
func (s *Sessions) CSRFToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if want, ok := s.expectedToken(r); ok {
		return want, nil
	}
	raw, err := keyring.RandomString(24)
	if err != nil {
		return "", err
	}
	http.SetCookie(w, s.Cookie("csrf", raw, 0))
	// Later calls in this request see the fresh cookie.
	r.AddCookie(&http.Cookie{Name: s.CookieName("csrf"), Value: raw})
	return s.keys.MAC(s.o.Purpose+"csrf", []byte(raw)), nil
}

// CheckCSRF reports whether a state-changing request carries the token
// CSRFToken gave for the browser's current state: with a session cookie,
// only the token of that session passes (a token fetched anonymously and
// planted in a signed-in browser does not); without one, the token of the
// CSRF cookie. The token comes from the form field or X-CSRF-Token.
func (s *Sessions) CheckCSRF(r *http.Request) bool {
	want, ok := s.expectedToken(r)
	if !ok {
		return false
	}
	got := r.PostFormValue(CSRFField)
	if got == "" {
		got = r.Header.Get("X-CSRF-Token")
	}
	return got != "" && keyring.Equal(got, want)
}

// expectedToken is the token the browser's current state calls for; ok is
// false for an anonymous browser without a usable CSRF cookie.
func (s *Sessions) expectedToken(r *http.Request) (string, bool) {
	if raw, ok := s.sessionID(r); ok {
		return s.keys.MAC(s.o.Purpose+"csrf-session", []byte(raw)), true
	}
	if raw, ok := s.CookieValue(r, "csrf"); ok && len(raw) >= 20 && len(raw) <= 64 {
		return s.keys.MAC(s.o.Purpose+"csrf", []byte(raw)), true
	}
	return "", false
}
