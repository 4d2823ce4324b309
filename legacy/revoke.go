package legacy

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

// GrantRevoker deletes the password grant's grants of a client (of every
// client when clientID is empty).
type GrantRevoker interface {
	RevokePasswordGrants(ctx context.Context, clientID string) (int64, error)
}

// ClientLister lists the registered clients.
type ClientLister interface {
	List(ctx context.Context) ([]models.Client, error)
}

// Revoker ends for good the grants the password grant issued to a client
// that may no longer use it. Guard already refuses their tokens at once,
// on every replica; Revoker deletes them, so that turning the grant back on
// does not bring old grants back. It runs when a client changes and, for
// sunsets that pass on their own and for the global switch, from the
// janitor.
type Revoker struct {
	Grants  GrantRevoker
	Clients ClientLister
	// Disabled is the global switch.
	Disabled bool
	Now      func() time.Time
	Logger   *slog.Logger
}

// Client revokes c's password grants if c may no longer use the grant.
func (r *Revoker) Client(ctx context.Context, c models.Client) error {
	ok, result := allowed(oauth.NewClient(c), r.Disabled, r.now(), false)
	if ok {
		return nil
	}
	n, err := r.Grants.RevokePasswordGrants(ctx, c.ID)
	if err != nil {
		return fmt.Errorf("revoke password grants of client %q: %w", c.ID, err)
	}
	if n > 0 {
		r.log().InfoContext(ctx, "revoked the password grant's tokens of a client that may no longer use it",
			"client_id", c.ID, "reason", result, "tokens", n)
	}
	return nil
}

// Sweep revokes the password grants of every client that may no longer use
// the grant (every client's, under the global switch).
func (r *Revoker) Sweep(ctx context.Context) error {
	if r.Disabled {
		n, err := r.Grants.RevokePasswordGrants(ctx, "")
		if err != nil {
			return err
		}
		if n > 0 {
			r.log().InfoContext(ctx, "revoked the password grant's tokens: the legacy grant is switched off", "tokens", n)
		}
		return nil
	}
	list, err := r.Clients.List(ctx)
	if err != nil {
		return fmt.Errorf("sweep password grants: %w", err)
	}
	for _, c := range list {
		if err := r.Client(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func (r *Revoker) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Revoker) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}
