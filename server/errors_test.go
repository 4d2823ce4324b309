package server

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/authgate/authgate/internal/password"
)

// A sign-in that gave up waiting for a hashing slot is the server being
// busy, whether the client left (canceled) or the deadline passed: 503, as
// the README promises, never 500.
func TestClassifySaturatedHashing(t *testing.T) {
	t.Parallel()
	for _, cause := range []error{context.Canceled, context.DeadlineExceeded} {
		err := fmt.Errorf("authenticate: %w", fmt.Errorf("%w: %w", password.ErrBusy, cause))
		if status, code, _ := classify(context.Background(), err); status != http.StatusServiceUnavailable || code != "temporarily_unavailable" {
			t.Errorf("classify(%v): got %d %s, want 503 temporarily_unavailable", err, status, code)
		}
	}
}
