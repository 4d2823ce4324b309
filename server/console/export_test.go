package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/server/web"
)

// Cookie names as the tests' loopback http console sets them.
const (
	sessionCookie = cookieName + "_session"
	loginCookie   = cookieName + "_login"
	csrfField     = web.CSRFField
)

// purposeSession is the keyring purpose of the console's session ids.
const purposeSession = purposePrefix + "session"

// SignInForTest stores a console session for userID, as a completed
// sign-in would, and returns the cookies a browser would then hold with
// the CSRF token its forms carry. Tests use it to reach the pages without
// the OAuth dance.
func SignInForTest(ctx context.Context, store web.SessionStore, keys *keyring.Keyring, userID string, now time.Time, lifespan time.Duration) (cookies []*http.Cookie, csrfToken string, err error) {
	s := newSessions(store, keys, "http://127.0.0.1/admin/", lifespan, func() time.Time { return now })
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/admin/", nil)
	if _, err := s.Start(ctx, rec, req, userID); err != nil {
		return nil, "", err
	}
	cookies = rec.Result().Cookies()
	signed := httptest.NewRequest(http.MethodGet, "/admin/", nil)
	for _, c := range cookies {
		signed.AddCookie(c)
	}
	token, err := s.CSRFToken(httptest.NewRecorder(), signed)
	return cookies, token, err
}
