package logout

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/authgate/authgate/internal/outbound"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// EventBackchannelLogout is the event a logout token carries.
const EventBackchannelLogout = "http://schemas.openid.net/event/backchannel-logout"

// Outbox is the storage the Sender delivers from (storage.Store).
type Outbox interface {
	ClaimLogout(ctx context.Context, now, until time.Time) (models.LogoutDelivery, bool, error)
	DeleteLogout(ctx context.Context, id uint64) error
	RecordLogoutFailure(ctx context.Context, id uint64, claimedUntil time.Time, f storage.LogoutFailure) (bool, error)
}

// Signer signs a JWT with authgate's current key of an algorithm
// (oauth.Signer).
type Signer interface {
	Sign(ctx context.Context, alg string, claims fjwt.MapClaims, header fjwt.Mapper) (string, error)
}

// Options tune a Sender. Zero values take the defaults noted.
type Options struct {
	Issuer string
	// Client sends the logout tokens; default outbound.NewClient with
	// its defaults (public addresses only).
	Client *http.Client
	// PollInterval is how often Run looks for due deliveries; default 2s.
	// Wake makes it look at once.
	PollInterval time.Duration
	// MaxAttempts is how many failed attempts mark a delivery failed;
	// default 10 (about 17 minutes of retries).
	MaxAttempts int
	// MinBackoff is the wait after the first failure, doubled after each
	// further one up to 15 minutes; default 2s.
	MinBackoff time.Duration
	// ClaimFor keeps a claimed delivery from other replicas; default one
	// minute, more than an attempt can take.
	ClaimFor time.Duration
	Logger   *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

const maxBackoff = 15 * time.Minute

// Sender delivers logout tokens. Any number of Senders, on any number of
// replicas, may share one database: each delivery is claimed by one of
// them before it is sent, and deleted once the client answers 200 (or
// 204), so a client gets each logout once unless a replica dies between
// its request and the delete (delivery is at least once).
type Sender struct {
	store  Outbox
	signer Signer
	o      Options
	wake   chan struct{}
}

// NewSender returns a Sender on store, signing with signer.
func NewSender(store Outbox, signer Signer, o Options) *Sender {
	if o.Client == nil {
		o.Client = outbound.NewClient(outbound.Options{})
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 2 * time.Second
	}
	if o.ClaimFor <= 0 {
		o.ClaimFor = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Sender{store: store, signer: signer, o: o, wake: make(chan struct{}, 1)}
}

// Wake makes Run look for deliveries now (a logout just queued some).
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run delivers due logout tokens until ctx ends.
func (s *Sender) Run(ctx context.Context) error {
	t := time.NewTicker(s.o.PollInterval)
	defer t.Stop()
	for {
		for {
			sent, err := s.DeliverOne(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				s.o.Logger.WarnContext(ctx, "back-channel logout outbox", "error", err)
				break
			}
			if !sent {
				break
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-s.wake:
		}
	}
}

// DeliverOne claims one due delivery and sends it; worked is false when
// none was due.
func (s *Sender) DeliverOne(ctx context.Context) (worked bool, err error) {
	now := s.o.Now()
	d, ok, err := s.store.ClaimLogout(ctx, now, now.Add(s.o.ClaimFor))
	if err != nil || !ok {
		return false, err
	}
	sendErr := s.send(ctx, d)
	if sendErr == nil {
		s.o.Logger.InfoContext(ctx, "back-channel logout delivered", "client_id", d.ClientID, "attempts", d.Attempts+1)
		return true, s.store.DeleteLogout(ctx, d.ID)
	}
	attempts := d.Attempts + 1
	f := storage.LogoutFailure{Attempts: attempts, LastError: truncate(sendErr.Error(), 1000), Failed: attempts >= s.o.MaxAttempts}
	f.NextAttempt = s.o.Now().Add(s.backoff(attempts))
	s.o.Logger.WarnContext(ctx, "back-channel logout failed", "client_id", d.ClientID, "attempts", attempts, "gave_up", f.Failed, "error", sendErr)
	if _, err := s.store.RecordLogoutFailure(ctx, d.ID, *d.ClaimedUntil, f); err != nil {
		return true, err
	}
	return true, nil
}

// backoff is the wait after the n-th failure, with jitter.
func (s *Sender) backoff(n int) time.Duration {
	d := s.o.MinBackoff
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	return d - time.Duration(rand.Int64N(int64(d)/4+1))
}

// Token returns the signed logout token of d (OpenID Connect Back-Channel
// Logout 1.0 section 2.4): iss, aud, iat, exp, jti, events, sub and sid,
// never a nonce, typed logout+jwt, signed with the algorithm of the
// client's ID tokens (d.Alg) as section 2.4 asks.
func (s *Sender) Token(ctx context.Context, d models.LogoutDelivery) (string, error) {
	now := s.o.Now().UTC()
	claims := fjwt.MapClaims{
		"iss":    s.o.Issuer,
		"aud":    []string{d.ClientID},
		"iat":    now.Unix(),
		"exp":    now.Add(2 * time.Minute).Unix(),
		"jti":    d.JTI,
		"events": map[string]any{EventBackchannelLogout: map[string]any{}},
		"sub":    d.Subject,
	}
	if d.SID != "" {
		claims["sid"] = d.SID
	}
	tok, err := s.signer.Sign(ctx, d.Alg, claims, &fjwt.Headers{Extra: map[string]any{"typ": "logout+jwt"}})
	if err != nil {
		return "", fmt.Errorf("sign logout token: %w", err)
	}
	return tok, nil
}

func (s *Sender) send(ctx context.Context, d models.LogoutDelivery) error {
	tok, err := s.Token(ctx, d)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.ClaimFor/2)
	defer cancel()
	status, err := outbound.Post(ctx, s.o.Client, d.URI, "application/x-www-form-urlencoded",
		strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		return err
	}
	if status != http.StatusOK && status != http.StatusNoContent {
		return fmt.Errorf("the client answered %d", status)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
