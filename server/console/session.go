package console

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/server/web"
)

// cookieName starts the console's cookie names (authgate_admin_session,
// _csrf, _login, _flash). They differ from the public site's: browsers do
// not separate cookies by port, the admin listener runs on the same host,
// and a __Host- cookie's path is always "/".
const cookieName = "authgate_admin"

// Keyring purposes. Each differs from the public server's, so that a
// public session cookie never opens a console session and the other way
// round.
const (
	purposePrefix = "admin-"
	purposeLogin  = purposePrefix + "login"
	purposeFlash  = purposePrefix + "flash"
	purposeHint   = purposePrefix + "id-token-hint"
)

// loginLifespan bounds the time between /admin/login and the callback.
const loginLifespan = 10 * time.Minute

// newSessions returns the console's sessions, whose cookies are Secure
// unless the console is served over plain http on a loopback host.
func newSessions(store web.SessionStore, keys web.MACer, adminURL string, lifespan time.Duration, now func() time.Time) *web.Sessions {
	return web.NewSessions(store, keys, web.SessionOptions{
		Name:     cookieName,
		Purpose:  purposePrefix,
		Secure:   web.SecureCookies(adminURL),
		Lifespan: lifespan,
		Now:      now,
	})
}

// admin is the signed-in administrator of a request.
type admin struct {
	Session models.LoginSession
	User    models.User
}

// actor names the administrator in the audit log.
func (a admin) actor() string { return accounts.UserActor(a.User.Username) }

// currentSession returns the request's live console session, if any.
func (c *console) currentSession(r *http.Request) (models.LoginSession, bool, error) {
	return c.sessions.Current(r)
}

// startSession signs userID in to the console with a fresh session id
// (never one the browser brought, which prevents session fixation).
func (c *console) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, userID string) error {
	_, err := c.sessions.Start(ctx, w, r, userID)
	return err
}

// endSession deletes the browser's console session, if any, and its cookie.
func (c *console) endSession(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	if err := c.sessions.End(ctx, w, r); err != nil {
		c.Logger.ErrorContext(ctx, "end console session", "error", err)
	}
}

// csrfToken returns the token the console's forms must echo back.
func (c *console) csrfToken(w http.ResponseWriter, r *http.Request) (string, error) {
	return c.sessions.CSRFToken(w, r)
}

// checkCSRF reports whether a state-changing request carries the token of
// its session.
func (c *console) checkCSRF(r *http.Request) bool { return c.sessions.CheckCSRF(r) }

// loginState is what the browser carries, sealed, from /admin/login to the
// callback.
type loginState struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Next     string    `json:"r,omitempty"`
	Expires  time.Time `json:"e"`
}

func (c *console) setLoginState(w http.ResponseWriter, st loginState) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	sealed, err := c.Keys.Seal(purposeLogin, raw)
	if err != nil {
		return err
	}
	http.SetCookie(w, c.sessions.Cookie("login", base64.RawURLEncoding.EncodeToString(sealed), int(loginLifespan.Seconds())))
	return nil
}

// takeLoginState reads and clears the login state: each sign-in attempt
// is good for one callback.
func (c *console) takeLoginState(w http.ResponseWriter, r *http.Request) (loginState, bool) {
	ck, err := r.Cookie(c.sessions.CookieName("login"))
	if err != nil || ck.Value == "" || len(ck.Value) > 2048 {
		return loginState{}, false
	}
	http.SetCookie(w, c.sessions.Cookie("login", "", -1))
	sealed, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return loginState{}, false
	}
	raw, err := c.Keys.Open(purposeLogin, sealed)
	if err != nil {
		return loginState{}, false
	}
	var st loginState
	if err := json.Unmarshal(raw, &st); err != nil || st.State == "" || st.Verifier == "" || st.Nonce == "" {
		return loginState{}, false
	}
	if !c.Now().Before(st.Expires) {
		return loginState{}, false
	}
	return st, true
}

// setFlash keeps a notice for the page the browser is redirected to. The
// notice is MACed so that nobody else can make the console say something.
func (c *console) setFlash(w http.ResponseWriter, msg string) {
	enc := base64.RawURLEncoding.EncodeToString([]byte(msg))
	http.SetCookie(w, c.sessions.Cookie("flash", enc+"."+c.Keys.MAC(purposeFlash, []byte(msg)), 60))
}

// takeFlash returns and clears the pending notice, if any.
func (c *console) takeFlash(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(c.sessions.CookieName("flash"))
	if err != nil || ck.Value == "" {
		return ""
	}
	http.SetCookie(w, c.sessions.Cookie("flash", "", -1))
	enc, mac, ok := strings.Cut(ck.Value, ".")
	if !ok {
		return ""
	}
	msg, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || !keyring.Equal(mac, c.Keys.MAC(purposeFlash, msg)) {
		return ""
	}
	return string(msg)
}

// safeNext returns next if it is a console page, else "".
func safeNext(next string) string {
	if len(next) > 1000 || !strings.HasPrefix(next, "/admin/") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	// Never back into the sign-in itself.
	path, _, _ := strings.Cut(next, "?")
	if path == "/admin/login" || path == CallbackPath || path == "/admin/logout" || path == "/admin/signed-out" {
		return ""
	}
	return next
}

// setHint keeps the ID token of the sign-in, sealed, for the sign-out
// everywhere: it is the id_token_hint that lets authgate end its own
// session without asking again. It lasts as long as the console session.
func (c *console) setHint(w http.ResponseWriter, rawIDToken string) {
	sealed, err := c.Keys.Seal(purposeHint, []byte(rawIDToken))
	if err != nil || len(rawIDToken) > 3000 {
		return // the sign-out everywhere then asks for confirmation
	}
	http.SetCookie(w, c.sessions.Cookie("hint", base64.RawURLEncoding.EncodeToString(sealed), int(c.lifespan.Seconds())))
}

// takeHint returns and clears the ID token setHint kept, if any.
func (c *console) takeHint(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(c.sessions.CookieName("hint"))
	if err != nil || ck.Value == "" || len(ck.Value) > 4096 {
		return ""
	}
	http.SetCookie(w, c.sessions.Cookie("hint", "", -1))
	sealed, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return ""
	}
	raw, err := c.Keys.Open(purposeHint, sealed)
	if err != nil {
		return ""
	}
	return string(raw)
}
