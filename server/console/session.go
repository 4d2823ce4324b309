package console

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/models"
)

// Cookie names differ from the public listener's ("authgate_session",
// "authgate_csrf"): browsers do not separate cookies by port, and the admin
// listener runs on the same host.
const (
	sessionCookie = "authgate_admin_session"
	csrfCookie    = "authgate_admin_csrf"
	loginCookie   = "authgate_admin_login"
	flashCookie   = "authgate_admin_flash"
	csrfField     = "csrf_token"
	cookiePath    = "/admin"
)

// Keyring purposes. Each differs from the public server's, so that a
// public session cookie never opens a console session and the other way
// round.
const (
	purposeSession = "admin-session"
	purposeCSRF    = "admin-csrf"
	purposeLogin   = "admin-login"
	purposeFlash   = "admin-flash"
)

// loginLifespan bounds the time between /admin/login and the callback.
const loginLifespan = 10 * time.Minute

func (c *console) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     cookiePath,
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   c.secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// admin is the signed-in administrator of a request.
type admin struct {
	Session models.LoginSession
	User    models.User
}

// actor names the administrator in the audit log.
func (a admin) actor() string { return "user:" + a.User.Username }

// currentSession returns the request's live console session, if any.
func (c *console) currentSession(r *http.Request) (models.LoginSession, bool, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 128 {
		return models.LoginSession{}, false, nil
	}
	var ls models.LoginSession
	err = c.DB.WithContext(r.Context()).
		Where("id_hash = ? AND expires_at > ?", c.Keys.MAC(purposeSession, []byte(ck.Value)), c.Now().UTC()).
		Take(&ls).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return models.LoginSession{}, false, nil
	}
	if err != nil {
		return models.LoginSession{}, false, fmt.Errorf("load console session: %w", err)
	}
	return ls, true, nil
}

// startSession signs userID in to the console with a fresh session id
// (never one the browser brought, which prevents session fixation).
func (c *console) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, userID string) error {
	c.endSession(ctx, w, r)
	raw, err := keyring.RandomString(32)
	if err != nil {
		return err
	}
	now := c.Now().UTC()
	ls := models.LoginSession{
		IDHash:    c.Keys.MAC(purposeSession, []byte(raw)),
		UserID:    userID,
		AuthTime:  now.Truncate(time.Second),
		ExpiresAt: now.Add(c.lifespan),
		CreatedAt: now,
	}
	if err := c.DB.WithContext(ctx).Create(&ls).Error; err != nil {
		return fmt.Errorf("create console session: %w", err)
	}
	http.SetCookie(w, c.cookie(sessionCookie, raw, int(c.lifespan.Seconds())))
	return nil
}

// endSession deletes the browser's console session, if any, and its cookie.
func (c *console) endSession(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return
	}
	err = c.DB.WithContext(ctx).Where("id_hash = ?", c.Keys.MAC(purposeSession, []byte(ck.Value))).Delete(&models.LoginSession{}).Error
	if err != nil {
		c.Logger.ErrorContext(ctx, "end console session", "error", err)
	}
	http.SetCookie(w, c.cookie(sessionCookie, "", -1))
}

// csrfToken returns the token a form must echo back, setting the CSRF
// cookie it derives from when the browser has none yet.
func (c *console) csrfToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) >= 20 && len(ck.Value) <= 64 {
		return c.Keys.MAC(purposeCSRF, []byte(ck.Value)), nil
	}
	raw, err := keyring.RandomString(24)
	if err != nil {
		return "", err
	}
	http.SetCookie(w, c.cookie(csrfCookie, raw, 0))
	// Later calls in this request see the fresh cookie.
	r.AddCookie(&http.Cookie{Name: csrfCookie, Value: raw})
	return c.Keys.MAC(purposeCSRF, []byte(raw)), nil
}

// checkCSRF reports whether a state-changing request carries the token
// matching its CSRF cookie: the double-submit pattern, keyed so the token
// cannot be computed from the cookie alone.
func (c *console) checkCSRF(r *http.Request) bool {
	ck, err := r.Cookie(csrfCookie)
	if err != nil || ck.Value == "" {
		return false
	}
	got := r.PostFormValue(csrfField)
	return got != "" && keyring.Equal(got, c.Keys.MAC(purposeCSRF, []byte(ck.Value)))
}

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
	http.SetCookie(w, c.cookie(loginCookie, base64.RawURLEncoding.EncodeToString(sealed), int(loginLifespan.Seconds())))
	return nil
}

// takeLoginState reads and clears the login state: each sign-in attempt
// is good for one callback.
func (c *console) takeLoginState(w http.ResponseWriter, r *http.Request) (loginState, bool) {
	ck, err := r.Cookie(loginCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 2048 {
		return loginState{}, false
	}
	http.SetCookie(w, c.cookie(loginCookie, "", -1))
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
	http.SetCookie(w, c.cookie(flashCookie, enc+"."+c.Keys.MAC(purposeFlash, []byte(msg)), 60))
}

// takeFlash returns and clears the pending notice, if any.
func (c *console) takeFlash(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(flashCookie)
	if err != nil || ck.Value == "" {
		return ""
	}
	http.SetCookie(w, c.cookie(flashCookie, "", -1))
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
	if path == "/admin/login" || path == CallbackPath || path == "/admin/logout" {
		return ""
	}
	return next
}
