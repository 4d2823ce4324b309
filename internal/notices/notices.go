package notices

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/mail"
	"github.com/authgate/authgate/models"
)

// Store is what the notices need of storage; *storage.Store is one.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	ListClients(ctx context.Context) ([]models.Client, error)
	ClientByID(ctx context.Context, id string) (models.Client, error)
	RecentUsersOfClient(ctx context.Context, clientID string, methods []string, result string, since time.Time) ([]models.User, error)
	ClaimNotice(ctx context.Context, n *models.LegacyNotice) (bool, error)
	NoticedUsers(ctx context.Context, clientID string, sunset time.Time, days int) ([]string, error)
	EnqueueMail(ctx context.Context, m *models.MailMessage) error
}

// Options configure a Service.
type Options struct {
	// Organization names the sender in the subject.
	Organization string
	// Issuer is the public base URL; /account there is where app
	// passwords are made.
	Issuer string
	// MigrationURL is the guide named for clients without their own.
	MigrationURL string
	// Days are the milestones, in days before the sunset.
	Days []int
	// Lookback is how far back a use of the legacy grant counts.
	Lookback time.Duration
	// Methods are the login-history methods that are a use of the legacy
	// grant; Success is the result that counts.
	Methods []string
	Success string
	// Disabled is the global switch of the legacy grant: nothing to
	// announce when it is off everywhere.
	Disabled bool
	Now      func() time.Time
	Logger   *slog.Logger
}

// Service sends sunset notices.
type Service struct {
	store Store
	keys  *keyring.Keyring
	opts  Options
}

// New returns a Service.
func New(store Store, keys *keyring.Keyring, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Days = slices.Clone(opts.Days)
	slices.Sort(opts.Days)
	opts.Days = slices.Compact(opts.Days)
	return &Service{store: store, keys: keys, opts: opts}
}

// Due returns the milestone due at now for a sunset: the smallest
// configured number of days d with now at or after sunset - d days, and
// false when none is (too early, or the sunset has passed). Larger
// milestones passed over (a sunset set five days ahead skips the 30-day
// notice) are not sent late: one email, the nearest, says it all.
func Due(days []int, sunset, now time.Time) (int, bool) {
	if !now.Before(sunset) {
		return 0, false
	}
	best, ok := 0, false
	for _, d := range days {
		if !now.Before(sunset.Add(-time.Duration(d)*24*time.Hour)) && (!ok || d < best) {
			best, ok = d, true
		}
	}
	return best, ok
}

// Result is what one run did for one client.
type Result struct {
	ClientID string `json:"client_id"`
	// Days is the milestone the notices were for.
	Days int `json:"days"`
	// Users is how many users the client had in the lookback; Sent is how
	// many got the notice from this call (the others had it already).
	Users int `json:"users"`
	Sent  int `json:"sent"`
}

// Run sends every notice that is due: for each client that holds the
// password grant and has a sunset still to come, the due milestone's
// notice to each recent user who has not had it. The janitor calls it on
// every replica.
func (s *Service) Run(ctx context.Context) ([]Result, error) {
	if len(s.opts.Days) == 0 || s.opts.Disabled {
		return nil, nil
	}
	list, err := s.store.ListClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("sunset notices: %w", err)
	}
	now := s.opts.Now()
	var out []Result
	for _, c := range list {
		if c.LegacySunset == nil || !slices.Contains(c.GrantTypes, "password") {
			continue
		}
		d, ok := Due(s.opts.Days, *c.LegacySunset, now)
		if !ok {
			continue
		}
		r, err := s.send(ctx, c, d)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ErrNoSunset is returned by SendNow for a client without a sunset still
// to come: there is nothing to announce.
var ErrNoSunset = fmt.Errorf("the client has no sunset still to come")

// SendNow sends the client's notice at once, whatever the milestones, to
// every recent user who has not had it: its milestone is the number of
// days left, rounded up, so that sending twice on one day sends once, and
// a configured milestone on that same day is not sent again.
func (s *Service) SendNow(ctx context.Context, c models.Client) (Result, error) {
	now := s.opts.Now()
	if c.LegacySunset == nil || !now.Before(*c.LegacySunset) {
		return Result{ClientID: c.ID}, ErrNoSunset
	}
	days := int(math.Ceil(c.LegacySunset.Sub(now).Hours() / 24))
	return s.send(ctx, c, days)
}

// send claims and enqueues the notice of c at milestone days for each of
// its recent users, one transaction a user.
func (s *Service) send(ctx context.Context, c models.Client, days int) (Result, error) {
	r := Result{ClientID: c.ID, Days: days}
	now := s.opts.Now()
	users, err := s.store.RecentUsersOfClient(ctx, c.ID, s.opts.Methods, s.opts.Success, now.Add(-s.opts.Lookback))
	if err != nil {
		return r, fmt.Errorf("sunset notices of client %q: %w", c.ID, err)
	}
	r.Users = len(users)
	// Those who have it already are skipped without a transaction each;
	// the claim still decides between replicas racing for the rest.
	had, err := s.store.NoticedUsers(ctx, c.ID, *c.LegacySunset, days)
	if err != nil {
		return r, fmt.Errorf("sunset notices of client %q: %w", c.ID, err)
	}
	for _, u := range users {
		if u.Email == "" || slices.Contains(had, u.ID) {
			continue
		}
		claimed := false
		err := s.store.InTx(ctx, func(ctx context.Context) error {
			ok, err := s.store.ClaimNotice(ctx, &models.LegacyNotice{ClientID: c.ID, UserID: u.ID, Sunset: *c.LegacySunset, Days: days, SentAt: now.UTC()})
			if err != nil || !ok {
				return err
			}
			claimed = true
			return mail.Enqueue(ctx, s.store, s.keys, s.message(c, u, days), now)
		})
		if err != nil {
			return r, fmt.Errorf("sunset notice of client %q to user %q: %w", c.ID, u.ID, err)
		}
		if claimed {
			r.Sent++
		}
	}
	if r.Sent > 0 {
		s.opts.Logger.InfoContext(ctx, "sent legacy sunset notices", "client_id", c.ID, "days", days, "sent", r.Sent, "users", r.Users)
	}
	return r, nil
}

// Subject is the subject of a notice, which tests and mail filters match.
func Subject(org, client string, sunset time.Time) string {
	return fmt.Sprintf("%s: %s stops accepting passwords after %s", org, client, lastDay(sunset))
}

func lastDay(sunset time.Time) string {
	return sunset.UTC().Add(-time.Nanosecond).Format(time.DateOnly)
}

func (s *Service) message(c models.Client, u models.User, days int) mail.Message {
	name := u.Name
	if name == "" {
		name = u.Username
	}
	guide := c.LegacyMigrationURL
	if guide == "" {
		guide = s.opts.MigrationURL
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\n", name)
	fmt.Fprintf(&b, "you signed in to %q with your password (the legacy password grant) within the last %d days.\n",
		c.Name, int(s.opts.Lookback.Hours()/24))
	fmt.Fprintf(&b, "%s is ending that way of signing in for %q: it works until the end of %s (UTC) and is refused from %s.\n\n",
		s.opts.Organization, c.Name, lastDay(*c.LegacySunset), c.LegacySunset.UTC().Format(time.RFC3339))
	b.WriteString("Ways off the password grant, for the application's owner:\n\n")
	b.WriteString("- The device flow (OAuth 2.0 device authorization grant): the tool shows a short code and you approve it in your browser. The way for command-line tools.\n")
	fmt.Fprintf(&b, "- An app password: create one for this one integration at %s/account; it replaces your password where a password is sent today, and can be revoked on its own.\n", strings.TrimRight(s.opts.Issuer, "/"))
	b.WriteString("- The authorization code flow: for applications that can open a browser.\n\n")
	if guide != "" {
		fmt.Fprintf(&b, "How to migrate: %s\n\n", guide)
	}
	fmt.Fprintf(&b, "(Notice %d days before the end.)\n", days)
	return mail.Message{To: u.Email, Subject: Subject(s.opts.Organization, c.Name, *c.LegacySunset), Body: b.String()}
}
