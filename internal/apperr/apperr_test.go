package apperr

import (
	"errors"
	"fmt"
	"testing"
)

func TestCodeOf(t *testing.T) {
	sentinel := New(NotFound, "user not found")
	cause := errors.New("connection refused")
	for _, tt := range []struct {
		name string
		err  error
		want Code
	}{
		{"nil", nil, ""},
		{"plain error", cause, Internal},
		{"sentinel", sentinel, NotFound},
		{"wrapped sentinel", fmt.Errorf("update user %q: %w", "bob", sentinel), NotFound},
		{"field", fmt.Errorf("create: %w", Field("email", "is required")), Invalid},
		{"with a cause", &Error{Code: Unavailable, Message: "try again", Err: cause}, Unavailable},
	} {
		if got := CodeOf(tt.err); got != tt.want {
			t.Errorf("%s: CodeOf(%v) = %q, want %q", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestError(t *testing.T) {
	cause := errors.New("disk full")
	e := &Error{Code: Internal, Field: "cidr", Message: "could not be stored", Err: cause}
	if got, want := e.Error(), "cidr: could not be stored: disk full"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, cause) {
		t.Error("the cause is not in the chain")
	}
	sentinel := New(Conflict, "username already taken")
	if !errors.Is(fmt.Errorf("create: %w", sentinel), sentinel) || errors.Is(New(Conflict, "username already taken"), sentinel) {
		t.Error("errors.Is must match the sentinel itself and nothing else")
	}
	f, ok := As(fmt.Errorf("x: %w", Field("email", "is required")))
	if !ok || f.Field != "email" || f.Code != Invalid || f.Error() != "email: is required" {
		t.Errorf("As(field error) = %+v, %v", f, ok)
	}
}
