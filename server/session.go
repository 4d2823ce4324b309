package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/models"
)

const (
	sessionCookie = "authgate_session"
	csrfCookie    = "authgate_csrf"
	csrfField     = "csrf_token"
)

// sessions manages the login session cookie (single sign-on) and the CSRF
// cookie. The database keeps only a keyed hash of the session cookie, so a
// leaked table does not sign anyone in.
type sessions struct {
	db       *gorm.DB
	keys     *keyring.Keyring
	lifespan time.Duration
	secure   bool
	now      func() time.Time
}

func (s *sessions) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// current returns the request's live session, if any.
func (s *sessions) current(r *http.Request) (models.LoginSession, bool, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return models.LoginSession{}, false, nil
	}
	var ls models.LoginSession
	err = s.db.WithContext(r.Context()).
		Where("id_hash = ? AND expires_at > ?", s.keys.MAC("session", []byte(c.Value)), s.now().UTC()).
		Take(&ls).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return models.LoginSession{}, false, nil
	}
	if err != nil {
		return models.LoginSession{}, false, fmt.Errorf("load session: %w", err)
	}
	return ls, true, nil
}

// liveSession is a live session with its user and the scopes that user has
// consented to for one client.
type liveSession struct {
	session   models.LoginSession
	user      models.User
	consented []string
}

// currentFor returns the request's live session, its user and the user's
// consent to clientID, in one query. ok is false without a live session
// (or when its user was deleted).
func (s *sessions) currentFor(r *http.Request, clientID string) (liveSession, bool, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return liveSession{}, false, nil
	}
	var row struct {
		models.User
		SessionAuthTime time.Time
		SessionExpires  time.Time
		ConsentScopes   []string `gorm:"serializer:json"`
	}
	res := s.db.WithContext(r.Context()).Table("login_sessions").
		Select("users.*, login_sessions.auth_time AS session_auth_time, login_sessions.expires_at AS session_expires, consents.scopes AS consent_scopes").
		Joins("JOIN users ON users.id = login_sessions.user_id").
		Joins("LEFT JOIN consents ON consents.user_id = login_sessions.user_id AND consents.client_id = ?", clientID).
		Where("login_sessions.id_hash = ? AND login_sessions.expires_at > ?", s.keys.MAC("session", []byte(c.Value)), s.now().UTC()).
		Limit(1).Scan(&row)
	if res.Error != nil {
		return liveSession{}, false, fmt.Errorf("load session: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return liveSession{}, false, nil
	}
	return liveSession{
		session:   models.LoginSession{UserID: row.User.ID, AuthTime: row.SessionAuthTime, ExpiresAt: row.SessionExpires},
		user:      row.User,
		consented: row.ConsentScopes,
	}, true, nil
}

// start signs userID in: it replaces any previous session of this browser
// (a new id at every login prevents session fixation).
func (s *sessions) start(ctx context.Context, w http.ResponseWriter, r *http.Request, userID string) (models.LoginSession, error) {
	s.end(ctx, w, r)
	raw, err := keyring.RandomString(32)
	if err != nil {
		return models.LoginSession{}, err
	}
	now := s.now().UTC()
	ls := models.LoginSession{
		IDHash:    s.keys.MAC("session", []byte(raw)),
		UserID:    userID,
		AuthTime:  now.Truncate(time.Second),
		ExpiresAt: now.Add(s.lifespan),
	}
	if err := s.db.WithContext(ctx).Create(&ls).Error; err != nil {
		return models.LoginSession{}, fmt.Errorf("create session: %w", err)
	}
	http.SetCookie(w, s.cookie(sessionCookie, raw, int(s.lifespan.Seconds())))
	return ls, nil
}

// end signs the browser out.
func (s *sessions) end(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return
	}
	s.db.WithContext(ctx).Where("id_hash = ?", s.keys.MAC("session", []byte(c.Value))).Delete(&models.LoginSession{})
	http.SetCookie(w, s.cookie(sessionCookie, "", -1))
}

// csrfToken returns the token a form must echo back, setting the CSRF
// cookie it derives from when the browser has none yet.
func (s *sessions) csrfToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 20 && len(c.Value) <= 64 {
		return s.keys.MAC("csrf", []byte(c.Value)), nil
	}
	raw, err := keyring.RandomString(24)
	if err != nil {
		return "", err
	}
	http.SetCookie(w, s.cookie(csrfCookie, raw, 0))
	// Make the fresh cookie visible to code later in this request.
	r.AddCookie(&http.Cookie{Name: csrfCookie, Value: raw})
	return s.keys.MAC("csrf", []byte(raw)), nil
}

// checkCSRF reports whether a state-changing request carries the token
// matching its CSRF cookie (the double-submit pattern, keyed so the token
// cannot be forged from the cookie alone).
func (s *sessions) checkCSRF(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" {
		return false
	}
	got := r.PostFormValue(csrfField)
	if got == "" {
		got = r.Header.Get("X-CSRF-Token")
	}
	return got != "" && keyring.Equal(got, s.keys.MAC("csrf", []byte(c.Value)))
}
