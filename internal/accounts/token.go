package accounts

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/mail"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// TokenLength is the length of a security token.
const TokenLength = 24

// tokenAlphabet holds the 62 characters a token is drawn from.
const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// tokenPurpose names the keyring key that hashes security tokens.
const tokenPurpose = "security-token"

// maxTokenDraws bounds the redraws after a collision. With 62^24 (about
// 2^143) tokens a single collision is already astronomically unlikely.
const maxTokenDraws = 8

// Reasons a token email is sent, as the email states them.
const (
	reasonCreated         = "account created"
	reasonPasswordChanged = "password changed"
	reasonResetByUser     = "reset by the user"
	reasonResetByAdmin    = "reset by an administrator"
)

// Limits on security-token resets, per user. They count the tokens in the
// security token history issued after the one the account was created
// with (by a reset or a password change), read under the user's row lock,
// so they hold across replicas and against parallel requests.
const (
	// TokenResetInterval is the least time between a new token and a reset
	// by the user. Administrators are not held to it: one acting on a
	// report of a compromise must be able to issue a fresh token at once,
	// even just after a reset that an attacker holding the user's session
	// made; they are signed in, authorised and audited, and the daily
	// bound still applies to them.
	TokenResetInterval = time.Minute
	// TokenResetsPerDay bounds the tokens issued to a user in 24 hours,
	// whoever asks. (An administrator who finds it reached can still set
	// a new password, which issues a token of its own.)
	TokenResetsPerDay = 10
)

// GenerateToken returns a new security token: TokenLength characters drawn
// uniformly from [A-Za-z0-9] with crypto/rand.
func GenerateToken() (string, error) {
	return tokenFromReader(rand.Reader)
}

// tokenFromReader draws a token from r by rejection sampling: a byte is used
// only if it is below 248 (4*62), so every character is equally likely.
func tokenFromReader(r io.Reader) (string, error) {
	const limit = 256 - 256%len(tokenAlphabet) // 248
	out := make([]byte, 0, TokenLength)
	buf := make([]byte, 32)
	for len(out) < TokenLength {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("generate security token: %w", err)
		}
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, tokenAlphabet[int(b)%len(tokenAlphabet)])
			if len(out) == TokenLength {
				break
			}
		}
	}
	return string(out), nil
}

// tokenHash is the only form in which a token is stored.
func (s *Service) tokenHash(token string) string {
	return s.keys.MAC(tokenPurpose, []byte(token))
}

// TokenMatches reports whether candidate is u's current security token. It
// compares keyed hashes in constant time.
func (s *Service) TokenMatches(u models.User, candidate string) bool {
	if u.SecurityTokenHash == "" {
		return false
	}
	return keyring.Equal(s.tokenHash(candidate), u.SecurityTokenHash)
}

// issueToken draws a token that was never issued before, records its hash
// in the history and calls attach to give the hash to the user, all with
// the transaction in ctx. A collision on the history or on the users'
// unique token index (storage.ErrConflict, in a savepoint that leaves the
// transaction usable) just draws again. An error from attach that is not a
// token collision is returned as is. The token is returned only so that
// the caller can put it in the email.
func (s *Service) issueToken(ctx context.Context, userID string, attach func(ctx context.Context, hash string) error) (string, error) {
	for range maxTokenDraws {
		token, err := s.generate()
		if err != nil {
			return "", err
		}
		hash := s.tokenHash(token)

		seen, err := s.store.TokenHashIssued(ctx, hash)
		if err != nil {
			return "", fmt.Errorf("issue security token: %w", err)
		}
		if seen {
			s.log.WarnContext(ctx, "security token collided with history; drawing again", "user_id", userID)
			continue
		}
		err = s.store.RecordTokenHash(ctx, hash, userID, s.now())
		if errors.Is(err, storage.ErrConflict) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("issue security token: %w", err)
		}

		err = attach(ctx, hash)
		if err == nil {
			return token, nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return "", err
		}
		// The error may come from another unique index (the username);
		// only a token held by another user means drawing again.
		held, cerr := s.store.TokenHashHeld(ctx, hash)
		if cerr != nil {
			return "", fmt.Errorf("issue security token: %w", cerr)
		}
		if !held {
			return "", err
		}
		s.log.WarnContext(ctx, "security token already held by a user; drawing again", "user_id", userID)
	}
	return "", errors.New("issue security token: no fresh token after repeated draws")
}

// setToken gives u a fresh token with the transaction in ctx, sets
// TokenIssuedAt, updates u to match, and returns the token for the email
// only.
func (s *Service) setToken(ctx context.Context, u *models.User) (string, error) {
	now := s.now()
	var stored string
	token, err := s.issueToken(ctx, u.ID, func(ctx context.Context, hash string) error {
		if err := s.store.UpdateUser(ctx, u.ID, storage.UserChange{SecurityTokenHash: &hash, TokenIssuedAt: &now}); err != nil {
			return notFound(err)
		}
		stored = hash
		return nil
	})
	if err != nil {
		return "", err
	}
	u.SecurityTokenHash = stored
	u.TokenIssuedAt = now
	return token, nil
}

// checkResetLimit refuses a reset of userID's token that would break the
// reset limits (ErrTooManyResets, with a message that says when a reset is
// possible again). The user's row lock must be held in ctx's transaction.
func (s *Service) checkResetLimit(ctx context.Context, userID string, byUser bool) error {
	now := s.now()
	issued, err := s.store.TokenReissuesSince(ctx, userID, now.Add(-24*time.Hour))
	if err != nil {
		return err
	}
	const stamp = "2006-01-02 15:04:05 UTC"
	if n := len(issued); n >= TokenResetsPerDay {
		next := issued[n-TokenResetsPerDay].Add(24 * time.Hour)
		return tooManyResets(fmt.Sprintf("%d new security tokens were issued in the last 24 hours, the most allowed; the token can be reset again after %s",
			n, ceilSecond(next).Format(stamp)))
	}
	if n := len(issued); byUser && n > 0 && now.Sub(issued[n-1]) < TokenResetInterval {
		next := issued[n-1].Add(TokenResetInterval)
		return tooManyResets("a new security token was issued less than a minute ago; the token can be reset again after " + ceilSecond(next).Format(stamp))
	}
	return nil
}

// tooManyResets is ErrTooManyResets with the message saying what to do.
func tooManyResets(msg string) error {
	return &apperr.Error{Code: apperr.TooMany, Message: msg, Err: ErrTooManyResets}
}

// ceilSecond rounds t up to a whole second, so that a time shown to the
// second is never before the one it stands for.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

// sunsetClient is a client with a legacy sunset that the user has used.
type sunsetClient struct {
	ID     string
	Name   string
	Sunset time.Time
}

// sunsetClients lists the clients with a LegacySunset through which u has
// signed in with the legacy password grant, earliest sunset first.
func (s *Service) sunsetClients(ctx context.Context, userID string) ([]sunsetClient, error) {
	clients, err := s.store.ClientsWithSunsetUsedBy(ctx, userID, MethodPasswordGrant, ResultSuccess)
	if err != nil {
		return nil, fmt.Errorf("find sunset clients: %w", err)
	}
	out := make([]sunsetClient, 0, len(clients))
	for _, c := range clients {
		out = append(out, sunsetClient{ID: c.ID, Name: c.Name, Sunset: c.LegacySunset.UTC()})
	}
	return out, nil
}

// tokenSubject is the subject of every token email.
func (s *Service) tokenSubject() string {
	return s.opts.Organization + " security token confirmation"
}

// sendTokenEmail enqueues the token email with the transaction in ctx, so
// that it commits with the token change it announces.
//
// note, when set, is a paragraph added before the closing advice.
func (s *Service) sendTokenEmail(ctx context.Context, u models.User, token, reason, note string) error {
	clients, err := s.sunsetClients(ctx, u.ID)
	if err != nil {
		return err
	}
	body := tokenEmailBody(s.opts.Organization, u, token, reason, u.TokenIssuedAt, s.now(), clients, note)
	if err := mail.Enqueue(ctx, s.store, s.keys, mail.Message{To: u.Email, Subject: s.tokenSubject(), Body: body}, s.now()); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "security token issued", "user_id", u.ID, "username", u.Username, "reason", reason)
	return nil
}

// tokenEmailBody writes the plain-text token email. It is the only place a
// token is ever written out.
func tokenEmailBody(org string, u models.User, token, reason string, issued, now time.Time, clients []sunsetClient, note string) string {
	const stamp = "2006-01-02 15:04:05 UTC"
	greeting := oneLine(u.Name)
	if greeting == "" {
		greeting = u.Username
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\n", greeting)
	fmt.Fprintf(&b, "A new security token was issued for your %s account %q.\n\n", org, u.Username)
	fmt.Fprintf(&b, "Why: %s\n", reason)
	fmt.Fprintf(&b, "When: %s\n\n", issued.UTC().Format(stamp))
	fmt.Fprintf(&b, "Your new security token:\n\n    %s\n\n", token)
	b.WriteString("Any previous security token stopped working when this one was issued, " +
		"and every application that signed in with the previous token has been signed out: " +
		"its access and refresh tokens no longer work, so it must sign in again with the new token. " +
		"A password change also signs out every application that signed in with your password. " +
		"The token does not expire, but it changes whenever your password changes or the token is reset.\n\n")
	b.WriteString("How to use it: when an application signs in with your username and password " +
		"(the legacy password login used by API clients and data tools), enter your password " +
		"immediately followed by the security token, with no space between them. " +
		"For example, if your password is \"password\" and your token is \"XXXX\", enter \"passwordXXXX\".\n\n")
	b.WriteString("The security token is case sensitive: type it exactly as shown. Keep it private and never share it.\n\n")
	if len(clients) > 0 {
		b.WriteString("The legacy password login is being retired for applications you use:\n")
		for _, c := range clients {
			verb := "ends"
			if !c.Sunset.After(now) {
				verb = "ended"
			}
			fmt.Fprintf(&b, "- %s (%s): its legacy password grant %s on %s; move it to OAuth sign-in.\n",
				oneLine(c.Name), oneLine(c.ID), verb, c.Sunset.Format(stamp))
		}
		b.WriteString("\n")
	}
	if note != "" {
		b.WriteString(note + "\n")
	}
	b.WriteString("If you did not ask for this, someone else may know your password: " +
		"reset your security token and change your password at once, and contact your administrator.\n")
	return b.String()
}

// oneLine replaces control characters, so that a stored name cannot add
// lines of its own to an email.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
