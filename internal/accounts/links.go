package accounts

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/mail"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// Purposes of an email link (models.EmailToken.Purpose).
const (
	PurposeReset  = "reset"
	PurposeVerify = "verify"
	PurposeChange = "change"
)

// Paths of the pages an email link opens, on the public listener.
const (
	ResetPath        = "/password/reset"
	VerifyPath       = "/email/verify"
	ConfirmEmailPath = "/email/confirm"
)

// linkPurpose names the keyring key that hashes email links.
const linkPurpose = "email-link"

// Defaults of the link options.
const (
	DefaultLinkEmailsPerHour  = 5
	DefaultResetLinkLifespan  = time.Hour
	DefaultVerifyLinkLifespan = 24 * time.Hour
)

// Errors of following a link. Each says in words what happened; the pages
// show them.
var (
	ErrLinkInvalid = apperr.New(apperr.NotFound, "this link is not valid: it may have been copied incompletely, or the account is gone")
	ErrLinkUsed    = apperr.New(apperr.Conflict, "this link was already used; each link works once")
	ErrLinkExpired = apperr.New(apperr.Invalid, "this link has expired")
	// ErrTooManyLinks refuses a link email beyond the hourly limit of
	// the account.
	ErrTooManyLinks = apperr.New(apperr.TooMany, "too many emails with links were sent to this account in the last hour; try again later")
	// ErrEmailUnchanged refuses an email change to the current address.
	ErrEmailUnchanged = apperr.Field("email", "is already the address of the account")
)

// linkError maps storage's link errors to the service's.
func linkError(err error) error {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return ErrLinkInvalid
	case errors.Is(err, storage.ErrEmailTokenUsed):
		return ErrLinkUsed
	case errors.Is(err, storage.ErrEmailTokenExpired):
		return ErrLinkExpired
	}
	return err
}

func (s *Service) linkHash(token string) string { return s.keys.MAC(linkPurpose, []byte(token)) }

// link is the URL an email carries: the issuer, the page's path and the
// token.
func (s *Service) link(path, token string) string {
	return strings.TrimRight(s.opts.Issuer, "/") + path + "?" + url.Values{"token": {token}}.Encode()
}

// newLink stores a link of purpose for u, sent to email, after checking
// the account's hourly limit under u's row lock (which the transaction in
// ctx must hold), and returns its token: 32 random bytes, base64url. Only
// the keyed hash is stored.
func (s *Service) newLink(ctx context.Context, u models.User, purpose, email, sourceIP string) (string, error) {
	now := s.now()
	if limit := s.opts.LinkEmailsPerHour; limit > 0 {
		n, err := s.store.EmailTokensSince(ctx, u.ID, now.Add(-time.Hour))
		if err != nil {
			return "", err
		}
		if n >= int64(limit) {
			return "", ErrTooManyLinks
		}
	}
	lifespan := s.opts.VerifyLinkLifespan
	if purpose == PurposeReset {
		lifespan = s.opts.ResetLinkLifespan
	}
	token, err := keyring.RandomString(32)
	if err != nil {
		return "", err
	}
	row := models.EmailToken{Hash: s.linkHash(token), UserID: u.ID, Purpose: purpose, Email: email,
		SourceIP: sourceIP, CreatedAt: now, ExpiresAt: now.Add(lifespan)}
	if err := s.store.CreateEmailToken(ctx, &row); err != nil {
		return "", err
	}
	return token, nil
}

// sendMail enqueues msg with the transaction in ctx.
func (s *Service) sendMail(ctx context.Context, to, subject, body string) error {
	return mail.Enqueue(ctx, s.store, s.keys, mail.Message{To: to, Subject: subject, Body: body}, s.now())
}

// greeting is how an email addresses u.
func greeting(u models.User) string {
	if g := oneLine(u.Name); g != "" {
		return g
	}
	return u.Username
}

// until says when a link made now stops working.
func until(now time.Time, d time.Duration) string {
	return now.Add(d).UTC().Format("2006-01-02 15:04 UTC")
}

// RequestPasswordReset emails a password-reset link to the account whose
// username, or else whose email address, is login (every account with
// that address, at most a few). It returns nil whether or not an account
// matched and whether or not the hourly limit let a link go out, so that
// its caller answers the same either way; what happened is logged. The
// caller should run it off the request path, so that the answer also
// takes the same time.
func (s *Service) RequestPasswordReset(ctx context.Context, login, sourceIP string) error {
	login = strings.TrimSpace(login)
	if login == "" || len(login) > maxEmail {
		return nil
	}
	var users []models.User
	if u, err := s.store.UserByUsername(ctx, normalizeUsername(login)); err == nil {
		users = append(users, u)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("password reset request: %w", err)
	} else if strings.Contains(login, "@") {
		found, err := s.store.UsersByEmail(ctx, login, 5)
		if err != nil {
			return fmt.Errorf("password reset request: %w", err)
		}
		users = found
	}
	if len(users) == 0 {
		s.log.InfoContext(ctx, "password reset asked for no account", "source_ip", sourceIP)
		return nil
	}
	for _, u := range users {
		err := s.sendResetLink(ctx, u.ID, sourceIP)
		switch {
		case errors.Is(err, ErrTooManyLinks):
			s.log.WarnContext(ctx, "password reset link not sent: hourly limit of the account reached", "user_id", u.ID, "source_ip", sourceIP)
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return fmt.Errorf("password reset request: %w", err)
		}
	}
	return nil
}

// sendResetLink stores a reset link for the user with id and emails it, in
// one transaction under the user's row lock. A disabled user gets none.
func (s *Service) sendResetLink(ctx context.Context, userID, sourceIP string) error {
	return s.store.InTx(ctx, func(ctx context.Context) error {
		u, err := s.store.LockUserByID(ctx, userID)
		if err != nil {
			return notFound(err)
		}
		if u.Disabled {
			s.log.InfoContext(ctx, "password reset link not sent: user disabled", "user_id", u.ID)
			return nil
		}
		token, err := s.newLink(ctx, u, PurposeReset, u.Email, sourceIP)
		if err != nil {
			return err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "Hello %s,\n\n", greeting(u))
		fmt.Fprintf(&b, "Someone asked to reset the password of your %s account %q", s.opts.Organization, u.Username)
		if sourceIP != "" {
			fmt.Fprintf(&b, " (from the address %s)", sourceIP)
		}
		b.WriteString(". To choose a new password, open this link:\n\n")
		fmt.Fprintf(&b, "    %s\n\n", s.link(ResetPath, token))
		fmt.Fprintf(&b, "The link works once, until %s.\n\n", until(s.now(), s.opts.ResetLinkLifespan))
		b.WriteString("Setting a new password also issues a new security token (sent in a separate email), " +
			"signs out your browsers and every application that signed in with your password.\n\n")
		b.WriteString("If you did not ask for this, ignore this email: your password stays as it is.\n")
		if err := s.sendMail(ctx, u.Email, s.opts.Organization+" password reset", b.String()); err != nil {
			return err
		}
		s.log.InfoContext(ctx, "password reset link sent", "user_id", u.ID, "source_ip", sourceIP)
		return s.store.Audit(ctx, UserActor(u.Username), "user.password.reset_link", u.Username, "link emailed; source "+sourceIP)
	})
}

// CheckResetLink reports whether token is a password-reset link that
// still works (nil), or why not (ErrLinkInvalid, ErrLinkUsed,
// ErrLinkExpired). It changes nothing.
func (s *Service) CheckResetLink(ctx context.Context, token string) error {
	_, err := s.store.EmailToken(ctx, s.linkHash(token), PurposeReset, s.now())
	return linkError(err)
}

// ResetPassword follows a password-reset link: it sets newPassword
// through the same path as every password change (every browser session
// ends, a new security token is issued and emailed, and the password-grant
// tokens of the user end), and uses the link, all in one transaction, so
// a link works once even when followed many times at once. Following the
// link also proves the address: email_verified becomes true when it is
// still the account's address.
func (s *Service) ResetPassword(ctx context.Context, token, newPassword string) error {
	if err := validatePassword(newPassword); err != nil {
		return err
	}
	hash := s.linkHash(token)
	// A dead link costs no password hash.
	t, err := s.store.EmailToken(ctx, hash, PurposeReset, s.now())
	if err != nil {
		return fmt.Errorf("reset password: %w", linkError(err))
	}
	err = s.changePassword(ctx, "link:password-reset", "id", t.UserID, newPassword, "user.password.reset", "",
		func(ctx context.Context, u models.User) error {
			used, err := s.store.UseEmailToken(ctx, hash, PurposeReset, s.now())
			if err != nil {
				return linkError(err)
			}
			if used.UserID != u.ID {
				return ErrLinkInvalid
			}
			if used.Email == u.Email && !u.EmailVerified {
				verified := true
				return s.store.UpdateUser(ctx, u.ID, storage.UserChange{EmailVerified: &verified})
			}
			return nil
		})
	if errors.Is(err, ErrNotFound) {
		err = ErrLinkInvalid
	}
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	return nil
}

// SendVerification emails the user with id a link that verifies their
// current address. Beyond the account's hourly limit it is
// ErrTooManyLinks.
func (s *Service) SendVerification(ctx context.Context, userID string) error {
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		u, err := s.store.LockUserByID(ctx, userID)
		if err != nil {
			return notFound(err)
		}
		return s.sendVerification(ctx, u)
	})
	if err != nil {
		return fmt.Errorf("send verification: %w", err)
	}
	return nil
}

// sendVerification stores and emails a verification link for u's current
// address, with the transaction (and u's row lock) in ctx.
func (s *Service) sendVerification(ctx context.Context, u models.User) error {
	token, err := s.newLink(ctx, u, PurposeVerify, u.Email, "")
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\n", greeting(u))
	fmt.Fprintf(&b, "To confirm that %s is the email address of your %s account %q, open this link:\n\n", u.Email, s.opts.Organization, u.Username)
	fmt.Fprintf(&b, "    %s\n\n", s.link(VerifyPath, token))
	fmt.Fprintf(&b, "The link works once, until %s. If you do not know this account, ignore this email.\n", until(s.now(), s.opts.VerifyLinkLifespan))
	if err := s.sendMail(ctx, u.Email, s.opts.Organization+": verify your email address", b.String()); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "verification link sent", "user_id", u.ID)
	return nil
}

// VerifyEmail follows a verification link: the user's address is verified
// when the link was sent to the address the account still has.
func (s *Service) VerifyEmail(ctx context.Context, token string) (models.User, error) {
	var u models.User
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		t, err := s.store.UseEmailToken(ctx, s.linkHash(token), PurposeVerify, s.now())
		if err != nil {
			return linkError(err)
		}
		if u, err = s.store.LockUserByID(ctx, t.UserID); err != nil {
			return ErrLinkInvalid
		}
		if t.Email != u.Email {
			return apperr.New(apperr.Conflict, "this link was sent to an address the account no longer has")
		}
		if err := s.store.SetEmailVerified(ctx, u.ID, "", true); err != nil {
			return err
		}
		u.EmailVerified = true
		return s.store.Audit(ctx, UserActor(u.Username), "user.email.verify", u.Username, "verified "+u.Email)
	})
	if err != nil {
		return models.User{}, fmt.Errorf("verify email: %w", err)
	}
	return u, nil
}

// RequestEmailChange starts a change of the user's address to newEmail,
// after checking the current password (as a password change does): a
// link to confirm goes to the new address, and the old one is told. The
// address changes only when the link is followed (ConfirmEmailChange);
// earlier unconfirmed changes end.
func (s *Service) RequestEmailChange(ctx context.Context, userID, current, newEmail string) error {
	if err := validateEmail(newEmail); err != nil {
		return err
	}
	if _, err := s.checkCurrentPassword(ctx, userID, current); err != nil {
		return fmt.Errorf("change email: %w", err)
	}
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		u, err := s.store.LockUserByID(ctx, userID)
		if err != nil {
			return notFound(err)
		}
		if u.Email == newEmail {
			return ErrEmailUnchanged
		}
		if _, err := s.store.EndEmailTokens(ctx, u.ID, PurposeChange, s.now()); err != nil {
			return err
		}
		token, err := s.newLink(ctx, u, PurposeChange, newEmail, "")
		if err != nil {
			return err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "Hello %s,\n\n", greeting(u))
		fmt.Fprintf(&b, "You asked to make %s the email address of your %s account %q. To confirm it, open this link:\n\n", newEmail, s.opts.Organization, u.Username)
		fmt.Fprintf(&b, "    %s\n\n", s.link(ConfirmEmailPath, token))
		fmt.Fprintf(&b, "The link works once, until %s. Until then the account keeps its current address. If you did not ask for this, ignore this email.\n", until(s.now(), s.opts.VerifyLinkLifespan))
		if err := s.sendMail(ctx, newEmail, s.opts.Organization+": confirm your new email address", b.String()); err != nil {
			return err
		}
		b.Reset()
		fmt.Fprintf(&b, "Hello %s,\n\n", greeting(u))
		fmt.Fprintf(&b, "Someone signed in to your %s account %q asked to change its email address from this one to %s.\n\n", s.opts.Organization, u.Username, maskAddress(newEmail))
		b.WriteString("Nothing changes until the change is confirmed from the new address. " +
			"If you did not ask for this, someone else may know your password: change your password at once " +
			"(which also cancels the change) and contact your administrator.\n")
		if err := s.sendMail(ctx, u.Email, s.opts.Organization+": your email address is about to change", b.String()); err != nil {
			return err
		}
		return s.store.Audit(ctx, UserActor(u.Username), "user.email.change_requested", u.Username, "to "+newEmail)
	})
	if err != nil {
		return fmt.Errorf("change email: %w", err)
	}
	return nil
}

// ConfirmEmailChange follows the link sent to a new address: the account
// takes the address, verified, and the old address is told. The
// password-reset links sent to the old address end.
func (s *Service) ConfirmEmailChange(ctx context.Context, token string) (models.User, error) {
	var u models.User
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		t, err := s.store.UseEmailToken(ctx, s.linkHash(token), PurposeChange, s.now())
		if err != nil {
			return linkError(err)
		}
		if u, err = s.store.LockUserByID(ctx, t.UserID); err != nil {
			return ErrLinkInvalid
		}
		old := u.Email
		if err := s.store.SetEmailVerified(ctx, u.ID, t.Email, true); err != nil {
			return err
		}
		u.Email, u.EmailVerified = t.Email, true
		if _, err := s.store.EndEmailTokens(ctx, u.ID, PurposeReset, s.now()); err != nil {
			return err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "Hello %s,\n\n", greeting(u))
		fmt.Fprintf(&b, "The email address of your %s account %q is now %s: security tokens, password resets and notices go there from now on.\n\n",
			s.opts.Organization, u.Username, maskAddress(u.Email))
		b.WriteString("If you did not make this change, contact your administrator at once.\n")
		if err := s.sendMail(ctx, old, s.opts.Organization+": your email address was changed", b.String()); err != nil {
			return err
		}
		return s.store.Audit(ctx, UserActor(u.Username), "user.email.change", u.Username, fmt.Sprintf("email %s -> %s (confirmed by link)", old, u.Email))
	})
	if err != nil {
		return models.User{}, fmt.Errorf("confirm email change: %w", err)
	}
	return u, nil
}

// maskAddress hides most of an address for an email sent to another
// address: "alice@example.com" becomes "a***@example.com".
func maskAddress(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return "another address"
	}
	return addr[:1] + "***" + addr[at:]
}
