package console

import (
	"context"
	"net/http"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/models"
)

// SignInForTest stores a console session for userID, as a completed
// sign-in would, and returns the cookies a browser would then hold (the
// session and the CSRF cookie) with the CSRF token its forms carry. Tests
// use it to reach the pages without the OAuth dance.
func SignInForTest(ctx context.Context, db *gorm.DB, keys *keyring.Keyring, userID string, now time.Time, lifespan time.Duration) (cookies []*http.Cookie, csrfToken string, err error) {
	raw, err := keyring.RandomString(32)
	if err != nil {
		return nil, "", err
	}
	csrfRaw, err := keyring.RandomString(24)
	if err != nil {
		return nil, "", err
	}
	ls := models.LoginSession{
		IDHash:    keys.MAC(purposeSession, []byte(raw)),
		UserID:    userID,
		AuthTime:  now.UTC().Truncate(time.Second),
		ExpiresAt: now.UTC().Add(lifespan),
		CreatedAt: now.UTC(),
	}
	if err := db.WithContext(ctx).Create(&ls).Error; err != nil {
		return nil, "", err
	}
	return []*http.Cookie{
		{Name: sessionCookie, Value: raw, Path: cookiePath},
		{Name: csrfCookie, Value: csrfRaw, Path: cookiePath},
	}, keys.MAC(purposeCSRF, []byte(csrfRaw)), nil
}
