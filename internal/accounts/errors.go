package accounts

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

var (
	// ErrNotFound is returned when no user matches.
	ErrNotFound = errors.New("user not found")
	// ErrDuplicateUsername is returned when a username is already taken.
	ErrDuplicateUsername = errors.New("username already taken")
	// ErrLocked is returned while a channel is locked after too many failures.
	ErrLocked = errors.New("account locked")
	// ErrBadCredentials is returned for an unknown user or a wrong password.
	ErrBadCredentials = errors.New("bad credentials")
)

// FieldError reports an invalid input field. Message never repeats the
// value when the field is a secret.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

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
		return &FieldError{Field: "username", Message: "is required"}
	}
	if len(s) > maxUsername {
		return &FieldError{Field: "username", Message: fmt.Sprintf("must be at most %d characters", maxUsername)}
	}
	for _, r := range s {
		if !usernameRune(r) {
			return &FieldError{Field: "username", Message: "may contain only letters, digits and . _ @ -"}
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
		return &FieldError{Field: "email", Message: "is required"}
	}
	if len(s) > maxEmail {
		return &FieldError{Field: "email", Message: fmt.Sprintf("must be at most %d characters", maxEmail)}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return &FieldError{Field: "email", Message: "must be a bare email address such as name@example.com"}
	}
	return nil
}

func validateName(s string) error {
	if utf8.RuneCountInString(s) > maxName {
		return &FieldError{Field: "name", Message: fmt.Sprintf("must be at most %d characters", maxName)}
	}
	if !utf8.ValidString(s) {
		return &FieldError{Field: "name", Message: "must be valid UTF-8"}
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return &FieldError{Field: "name", Message: "must not contain control characters"}
		}
	}
	return nil
}

func validatePassword(s string) error {
	if utf8.RuneCountInString(s) < minPassword {
		return &FieldError{Field: "password", Message: fmt.Sprintf("must be at least %d characters", minPassword)}
	}
	if len(s) > maxPassword {
		return &FieldError{Field: "password", Message: fmt.Sprintf("must be at most %d bytes", maxPassword)}
	}
	return nil
}
