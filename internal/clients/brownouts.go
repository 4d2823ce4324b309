package clients

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// Audit actions of brownouts and the migration guide.
const (
	ActionBrownoutAdd     = "client.brownout.add"
	ActionBrownoutRemove  = "client.brownout.remove"
	ActionLegacyGuideURL  = "client.legacy.migration_url"
	maxUpcomingBrownouts  = 50
	maxMigrationURLLength = 2048
)

// BrownoutTimeFormat says, for error messages and help, what
// ParseBrownoutTime reads.
const BrownoutTimeFormat = `an RFC 3339 time (2027-06-01T09:00:00Z) or "YYYY-MM-DD HH:MM" in UTC`

// Errors of brownout windows. Each says what to do; none leaves anything
// half-created (a window is stored whole or not at all).
var (
	// ErrNoSunset refuses a brownout for a client without a sunset: a
	// brownout warns of an end that must have been announced.
	ErrNoSunset = &apperr.Error{Code: apperr.Conflict, Field: "sunset", Message: "the client has no legacy sunset: set one before scheduling brownouts"}
	// ErrBrownoutNotFound is a brownout that is not the client's.
	ErrBrownoutNotFound = apperr.New(apperr.NotFound, "brownout not found for this client")
	// ErrBrownoutsBlockSunset refuses a sunset change that would leave a
	// scheduled brownout at or after the sunset (or without one).
	ErrBrownoutsBlockSunset = &apperr.Error{Code: apperr.Conflict, Field: "sunset", Message: "scheduled brownouts must end before the sunset: remove them first"}
)

// ParseBrownoutTime reads a window's start or end as an operator writes
// it, the one parser of every surface: an RFC 3339 time, or "YYYY-MM-DD
// HH:MM" (also with a T) meaning UTC. field names the input in the error.
func ParseBrownoutTime(field, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, apperr.Field(field, fmt.Sprintf("%q is not %s", s, BrownoutTimeFormat))
}

// checkWindow is the one rule of a new brownout window of a client with
// sunset, given the windows already scheduled: it starts no earlier than
// now, ends after it starts, ends before the sunset, and overlaps no other
// window (windows may touch).
func checkWindow(start, end, now time.Time, sunset *time.Time, others []models.ClientBrownout) error {
	if start.Before(now) {
		return apperr.Field("start", fmt.Sprintf("%s has passed: a brownout is scheduled for the future", start.Format(time.RFC3339)))
	}
	if !end.After(start) {
		return apperr.Field("end", "must be after the start")
	}
	if sunset == nil {
		return ErrNoSunset
	}
	if !end.Before(*sunset) {
		return &apperr.Error{Code: apperr.Invalid, Field: "end", Message: fmt.Sprintf("must be before the sunset (%s): a brownout warns before the grant ends, it cannot overlap the end", sunset.UTC().Format(time.RFC3339))}
	}
	upcoming := 0
	for _, o := range others {
		if o.EndsAt.After(now) {
			upcoming++
		}
		if start.Before(o.EndsAt) && o.StartsAt.Before(end) {
			return &apperr.Error{Code: apperr.Conflict, Field: "start", Message: fmt.Sprintf("overlaps brownout %d (%s to %s)",
				o.ID, o.StartsAt.UTC().Format(time.RFC3339), o.EndsAt.UTC().Format(time.RFC3339))}
		}
	}
	if upcoming >= maxUpcomingBrownouts {
		return &apperr.Error{Code: apperr.Conflict, Field: "start", Message: fmt.Sprintf("the client already has %d scheduled brownouts", upcoming)}
	}
	return nil
}

// AddBrownout schedules a brownout window [start, end) for the client with
// id: during it the password grant is refused for the client (tokens it
// issued before keep working). The window is checked (see checkWindow)
// under the client's row lock, so that two admins adding windows at once
// cannot make them overlap, and stored with its audit entry in one
// transaction.
func (s *Service) AddBrownout(ctx context.Context, actor, id string, start, end time.Time) (models.ClientBrownout, error) {
	b := models.ClientBrownout{
		ClientID:  id,
		StartsAt:  start.UTC().Truncate(time.Microsecond),
		EndsAt:    end.UTC().Truncate(time.Microsecond),
		CreatedBy: actor,
	}
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		c, err := s.store.LockClient(ctx, id)
		if err != nil {
			return notFound(err)
		}
		others, err := s.store.ClientBrownouts(ctx, id, time.Time{})
		if err != nil {
			return err
		}
		now := s.now()
		if err := checkWindow(b.StartsAt, b.EndsAt, now, c.LegacySunset, others); err != nil {
			return err
		}
		b.CreatedAt = now
		if err := s.store.CreateBrownout(ctx, &b); err != nil {
			return err
		}
		return s.store.Audit(ctx, actor, ActionBrownoutAdd, id, fmt.Sprintf("brownout=%d start=%s end=%s",
			b.ID, b.StartsAt.Format(time.RFC3339), b.EndsAt.Format(time.RFC3339)))
	})
	s.changed(id)
	if err != nil {
		return models.ClientBrownout{}, wrapUnlessField(err, "add brownout to client %q", id)
	}
	return b, nil
}

// Brownouts lists the client's brownouts, past ones included, by start.
func (s *Service) Brownouts(ctx context.Context, id string) ([]models.ClientBrownout, error) {
	if _, err := s.store.ClientByID(ctx, id); err != nil {
		return nil, fmt.Errorf("list brownouts of client %q: %w", id, notFound(err))
	}
	list, err := s.store.ClientBrownouts(ctx, id, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("list brownouts of client %q: %w", id, err)
	}
	return list, nil
}

// BrownoutsEndingAfter lists every client's brownouts that end after t, by
// client and start (the dashboard marks them).
func (s *Service) BrownoutsEndingAfter(ctx context.Context, t time.Time) ([]models.ClientBrownout, error) {
	list, err := s.store.BrownoutsEndingAfter(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("list brownouts: %w", err)
	}
	return list, nil
}

// RemoveBrownout cancels the client's brownout bid (one under way ends at
// once), with its audit entry.
func (s *Service) RemoveBrownout(ctx context.Context, actor, id string, bid uint64) error {
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.store.LockClient(ctx, id); err != nil {
			return notFound(err)
		}
		if err := s.store.DeleteBrownout(ctx, id, bid); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return ErrBrownoutNotFound
			}
			return err
		}
		return s.store.Audit(ctx, actor, ActionBrownoutRemove, id, fmt.Sprintf("brownout=%d", bid))
	})
	s.changed(id)
	if err != nil {
		return fmt.Errorf("remove brownout %d of client %q: %w", bid, id, err)
	}
	return nil
}

// checkMigrationURL validates the address of a client's migration guide:
// empty (none), or an absolute http(s) URL without credentials.
func checkMigrationURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || len(raw) > maxMigrationURLLength ||
		strings.ContainsAny(raw, " \t\r\n\"") {
		return apperr.Field("migration_url", fmt.Sprintf("must be an absolute http(s) URL without credentials, at most %d characters", maxMigrationURLLength))
	}
	return nil
}

// SetMigrationURL sets where the client's owners read how to move off the
// password grant ("" clears it; the configured default then applies).
// Brownout refusals and sunset notices name it.
func (s *Service) SetMigrationURL(ctx context.Context, actor, id, raw string) (models.Client, error) {
	raw = strings.TrimSpace(raw)
	if err := checkMigrationURL(raw); err != nil {
		return models.Client{}, err
	}
	var c models.Client
	err := s.change(ctx, id, &c, func(ctx context.Context) (bool, error) {
		if c.LegacyMigrationURL == raw {
			return false, nil
		}
		c.LegacyMigrationURL = raw
		return true, s.store.Audit(ctx, actor, ActionLegacyGuideURL, c.ID, "migration_url="+raw)
	})
	if err != nil {
		return models.Client{}, fmt.Errorf("set migration URL of client %q: %w", id, err)
	}
	return c, nil
}

// sunsetKeepsBrownouts refuses a sunset (nil: none) that a brownout still
// to come would reach.
func (s *Service) sunsetKeepsBrownouts(ctx context.Context, id string, sunset *time.Time) error {
	list, err := s.store.ClientBrownouts(ctx, id, s.now())
	if err != nil {
		return err
	}
	for _, b := range list {
		if sunset == nil || !b.EndsAt.Before(*sunset) {
			return ErrBrownoutsBlockSunset
		}
	}
	return nil
}

// BrownoutView is how the admin API and the CLI show a brownout as JSON.
type BrownoutView struct {
	ID       uint64    `json:"id"`
	ClientID string    `json:"client_id"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	// State is "scheduled", "active" (refusing now) or "over".
	State     string    `json:"state"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// BrownoutViewOf returns the view of b at now.
func BrownoutViewOf(b models.ClientBrownout, now time.Time) BrownoutView {
	state := "scheduled"
	switch {
	case !now.Before(b.EndsAt):
		state = "over"
	case !now.Before(b.StartsAt):
		state = "active"
	}
	return BrownoutView{ID: b.ID, ClientID: b.ClientID, Start: b.StartsAt.UTC(), End: b.EndsAt.UTC(), State: state,
		CreatedBy: b.CreatedBy, CreatedAt: b.CreatedAt.UTC()}
}
