package accounts

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/authgate/authgate/internal/apperr"
)

// The service's errors. Invalid input is an *apperr.Error for its field
// (apperr.Field); its message never repeats the value when the field is a
// secret.
var (
	// ErrNotFound is returned when no user matches.
	ErrNotFound = apperr.New(apperr.NotFound, "user not found")
	// ErrDuplicateUsername is returned when a username is already taken.
	ErrDuplicateUsername = apperr.New(apperr.Conflict, "username already taken")
	// ErrLocked is returned while a channel is locked after too many failures.
	ErrLocked = apperr.New(apperr.Unauthenticated, "account locked")
	// ErrBadCredentials is returned for an unknown user or a wrong password.
	ErrBadCredentials = apperr.New(apperr.Unauthenticated, "bad credentials")
	// ErrTooManyResets is the cause of a refused security-token reset (see
	// TokenResetInterval and TokenResetsPerDay); the error returned says
	// when a reset is possible again.
	ErrTooManyResets = apperr.New(apperr.TooMany, "too many security-token resets")
	// ErrLastAdmin refuses deleting, demoting or disabling the last
	// administrator who can sign in: no
	// one could sign in to the console or the admin API again.
	ErrLastAdmin = apperr.New(apperr.Conflict, "the last administrator cannot be deleted, demoted or disabled")
)

// Limits on user input; the database columns are sized to match.
const (
	maxUsername = 200
	maxEmail    = 320
	maxName     = 200
	minPassword = 8    // characters
	maxPassword = 1024 // bytes
)

// normalizeUsername returns the canonical form of a username. Usernames
// are case-insensitive, so they are stored and looked up in lower case; the
// unique index then rules out "Alice" next to "alice".
func normalizeUsername(s string) string { return strings.ToLower(s) }

func validateUsername(s string) error {
	if s == "" {
		return apperr.Field("username", "is required")
	}
	if len(s) > maxUsername {
		return apperr.Field("username", fmt.Sprintf("must be at most %d characters", maxUsername))
	}
	for _, r := range s {
		if !usernameRune(r) {
			return apperr.Field("username", "may contain only letters, digits and . _ @ -")
		}
	}
	return nil
}

func usernameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '.' || r == '_' || r == '@' || r == '-'
}

func validateEmail(s string) error {
	if s == "" {
		return apperr.Field("email", "is required")
	}
	if len(s) > maxEmail {
		return apperr.Field("email", fmt.Sprintf("must be at most %d characters", maxEmail))
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return apperr.Field("email", "must be a bare email address such as name@example.com")
	}
	return nil
}

func validateName(s string) error {
	if utf8.RuneCountInString(s) > maxName {
		return apperr.Field("name", fmt.Sprintf("must be at most %d characters", maxName))
	}
	if !utf8.ValidString(s) {
		return apperr.Field("name", "must be valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return apperr.Field("name", "must not contain control characters")
		}
	}
	return nil
}

func validatePassword(s string) error {
	if utf8.RuneCountInString(s) < minPassword {
		return apperr.Field("password", fmt.Sprintf("must be at least %d characters", minPassword))
	}
	if len(s) > maxPassword {
		return apperr.Field("password", fmt.Sprintf("must be at most %d bytes", maxPassword))
	}
	return nil
}
