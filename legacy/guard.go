package legacy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ory/fosite"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/apppasswords"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

// UserLookup finds a user by id (accounts.ErrNotFound when there is none).
type UserLookup interface {
	GetUserByID(ctx context.Context, id string) (models.User, error)
}

// FactorLookup finds a user's TOTP factor (ok false when there is none).
type FactorLookup interface {
	TOTPFactor(ctx context.Context, userID string) (f models.TOTPFactor, ok bool, err error)
}

// Guard ends the grants of the password grant when what admitted them
// ends, whenever one of their tokens is used:
//
//   - the legacy grant is no longer allowed for the client (switched off
//     for it or everywhere, or past its sunset): every password-born grant
//     of the client;
//   - the user's password changed after the grant began, by any path: every
//     password-born grant of the user;
//   - the user's security token was reset after the grant began: the grants
//     the old token admitted (not those a trusted range admitted, which
//     never saw the token);
//   - the authenticator app that admitted a password + TOTP grant was
//     removed or reset (or replaced by one confirmed after the grant
//     began): the grants the old app's codes admitted;
//   - the user was deleted or disabled;
//   - the client no longer accepts the credential that admitted the grant
//     (its legacy credentials changed from token to app passwords, or
//     back);
//   - for a grant an app password admitted: the app password was revoked,
//     expired or deleted. A password change or a token reset does not end
//     such a grant, as it does not end the app password.
//
// Grants of the code flow and of client credentials are not its concern.
type Guard struct {
	Users UserLookup
	// Factors finds the TOTP factor a password + TOTP grant stands on;
	// nil skips the check.
	Factors FactorLookup
	// AppPasswords finds the app password a grant came from; without it
	// every grant an app password admitted has ended.
	AppPasswords AppPasswordLookup
	// Disabled is the global switch (AUTHGATE_LEGACY_GRANT_DISABLED).
	Disabled bool
	Now      func() time.Time
}

var _ oauth.Guard = (*Guard)(nil)

// AppPasswordLookup finds an app password by id (apppasswords.Service);
// an error wrapping apppasswords.ErrNotFound when there is none.
type AppPasswordLookup interface {
	Get(ctx context.Context, id string) (models.AppPassword, error)
}

// Check returns an error wrapping oauth.ErrGrantEnded for a grant that no
// longer stands, nil for one that does, and any other error when it could
// not decide.
func (g *Guard) Check(ctx context.Context, r fosite.Requester) error {
	sess, ok := r.GetSession().(*oauth.Session)
	if !ok || !oauth.IsPasswordOrigin(sess.Origin) {
		return nil
	}
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	if ok, result := allowed(r.GetClient(), g.Disabled, now(), false); !ok {
		return fmt.Errorf("%w: %s", oauth.ErrGrantEnded, result)
	}
	u, err := g.Users.GetUserByID(ctx, sess.Subject)
	if errors.Is(err, accounts.ErrNotFound) {
		return fmt.Errorf("%w: the user was deleted", oauth.ErrGrantEnded)
	}
	if err != nil {
		return err
	}
	if u.Disabled {
		return fmt.Errorf("%w: the user was disabled", oauth.ErrGrantEnded)
	}
	c, _ := oauth.ClientOf(r.GetClient())
	if sess.Origin == oauth.OriginAppPassword {
		if !c.AcceptsAppPasswords() {
			return fmt.Errorf("%w: the client no longer accepts app passwords", oauth.ErrGrantEnded)
		}
		return g.appPassword(ctx, sess, now())
	}
	if !c.AcceptsToken() {
		return fmt.Errorf("%w: the client accepts only app passwords", oauth.ErrGrantEnded)
	}
	began := sess.BeganAt
	if began.IsZero() {
		// Stored before grants recorded when they began: the request time
		// of its newest token is the best there is.
		began = r.GetRequestedAt()
	}
	if u.PasswordChangedAt.After(began) {
		return fmt.Errorf("%w: the password changed", oauth.ErrGrantEnded)
	}
	if sess.Origin == oauth.OriginPasswordToken && u.TokenIssuedAt.After(began) {
		return fmt.Errorf("%w: the security token was reset", oauth.ErrGrantEnded)
	}
	if sess.Origin == oauth.OriginPasswordTOTP && g.Factors != nil {
		f, ok, err := g.Factors.TOTPFactor(ctx, u.ID)
		if err != nil {
			return err
		}
		if !ok || f.ConfirmedAt == nil || f.ConfirmedAt.After(began) {
			return fmt.Errorf("%w: the authenticator app was removed", oauth.ErrGrantEnded)
		}
	}
	return nil
}

// appPassword ends a grant whose app password no longer works.
func (g *Guard) appPassword(ctx context.Context, sess *oauth.Session, now time.Time) error {
	if g.AppPasswords == nil || sess.AppPasswordID == "" {
		return fmt.Errorf("%w: no app password to check", oauth.ErrGrantEnded)
	}
	p, err := g.AppPasswords.Get(ctx, sess.AppPasswordID)
	if errors.Is(err, apppasswords.ErrNotFound) {
		return fmt.Errorf("%w: the app password was deleted", oauth.ErrGrantEnded)
	}
	if err != nil {
		return err
	}
	switch apppasswords.StateAt(p, now) {
	case apppasswords.StateRevoked:
		return fmt.Errorf("%w: the app password was revoked", oauth.ErrGrantEnded)
	case apppasswords.StateExpired:
		return fmt.Errorf("%w: the app password expired", oauth.ErrGrantEnded)
	}
	if p.UserID != sess.Subject {
		return fmt.Errorf("%w: the app password is another user's", oauth.ErrGrantEnded)
	}
	return nil
}
