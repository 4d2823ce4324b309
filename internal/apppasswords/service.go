package apppasswords

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/mail"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

// Audit actions written by the Service.
const (
	ActionCreate    = "app_password.create"
	ActionRevoke    = "app_password.revoke"
	ActionRevokeAll = "app_password.revoke_all"
)

// States of an app password, as listings show them.
const (
	StateActive  = "active"
	StateExpired = "expired"
	StateRevoked = "revoked"
)

// Limits on input; the columns are sized to match.
const (
	MaxName = 100
	// MaxActive bounds the app passwords a user holds that are not revoked.
	MaxActive = 50
)

// hashPurpose names the keyring key that hashes app passwords.
const hashPurpose = "app-password"

// The service's errors.
var (
	// ErrNotFound is returned when the user has no such app password (or
	// there is no such user).
	ErrNotFound = apperr.New(apperr.NotFound, "app password not found")
	// ErrNoUser is returned when the user is gone.
	ErrNoUser = apperr.New(apperr.NotFound, "user not found")
	// ErrTooMany refuses a new app password past MaxActive.
	ErrTooMany = apperr.New(apperr.Conflict, fmt.Sprintf("at most %d app passwords may exist at once; revoke one first", MaxActive))
)

// Options tunes a Service.
type Options struct {
	// MaxLifetime is the longest expiry a user may choose; an app password
	// created without one expires after MaxLifetime. Zero means no limit
	// (and no expiry unless one is chosen).
	MaxLifetime time.Duration
	// Organization names the sender in email subjects.
	Organization string
	// AccountURL is where a user reviews their app passwords (the
	// /account page), named in emails.
	AccountURL string
	// Now returns the current time; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Service creates, lists and revokes app passwords. It is safe for
// concurrent use; its limits hold across replicas (they are checked under
// the user's row lock).
type Service struct {
	store *storage.Store
	keys  *keyring.Keyring
	opts  Options
}

// New returns a Service on store, hashing values with keys.
func New(store *storage.Store, keys *keyring.Keyring, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Organization == "" {
		opts.Organization = "authgate"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, keys: keys, opts: opts}
}

// MaxLifetime is the longest expiry a user may choose (zero: no limit).
func (s *Service) MaxLifetime() time.Duration { return s.opts.MaxLifetime }

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

// Hash is the only form in which a value is stored.
func (s *Service) Hash(value string) string { return s.keys.MAC(hashPurpose, []byte(value)) }

// Spec is the input to Create.
type Spec struct {
	Name string
	// ClientID, when set, binds the app password to that one client.
	ClientID string
	// Scopes the app password may obtain: supported scopes (never the
	// admin scope), within the client's when one is set.
	Scopes []string
	// ExpiresAt, when set, must lie in the future and within MaxLifetime.
	ExpiresAt *time.Time
}

// Create validates in and, in one transaction under userID's row lock,
// stores a new app password for the user, writes the audit entry and
// enqueues the email that tells the user. It returns the stored row and
// the value, which is never stored nor shown again.
func (s *Service) Create(ctx context.Context, actor, userID string, in Spec) (models.AppPassword, string, error) {
	now := s.now()
	in.Name = strings.TrimSpace(in.Name)
	in.ClientID = strings.TrimSpace(in.ClientID)
	if err := validateName(in.Name); err != nil {
		return models.AppPassword{}, "", err
	}
	scopes, err := cleanScopes(in.Scopes)
	if err != nil {
		return models.AppPassword{}, "", err
	}
	expires, err := s.expiry(in.ExpiresAt, now)
	if err != nil {
		return models.AppPassword{}, "", err
	}
	value, err := Generate()
	if err != nil {
		return models.AppPassword{}, "", err
	}
	id, err := newID()
	if err != nil {
		return models.AppPassword{}, "", err
	}
	p := models.AppPassword{ID: id, UserID: userID, Name: in.Name, ClientID: in.ClientID, Scopes: scopes,
		Hash: s.Hash(value), CreatedAt: now, ExpiresAt: expires}
	var clientName string
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		u, err := s.store.LockUserByID(ctx, userID)
		if err != nil {
			return noUser(err)
		}
		if p.ClientID != "" {
			c, err := s.store.ClientByID(ctx, p.ClientID)
			if errors.Is(err, storage.ErrNotFound) {
				return apperr.Field("client_id", "no client has this id")
			}
			if err != nil {
				return err
			}
			if !c.AcceptsAppPasswords() {
				return apperr.Field("client_id", fmt.Sprintf("client %q does not accept app passwords", c.Name))
			}
			for _, sc := range p.Scopes {
				if !slices.Contains(c.Scopes, sc) {
					return apperr.Field("scopes", fmt.Sprintf("%q is not a scope of client %q", sc, c.Name))
				}
			}
			clientName = c.Name
		}
		active, err := s.store.ListAppPasswords(ctx, userID, false)
		if err != nil {
			return err
		}
		if len(active) >= MaxActive {
			return ErrTooMany
		}
		for _, a := range active {
			if strings.EqualFold(a.Name, p.Name) {
				return &apperr.Error{Code: apperr.Conflict, Field: "name", Message: "an app password with this name exists; choose another or revoke it first"}
			}
		}
		if err := s.store.CreateAppPassword(ctx, &p); err != nil {
			return err
		}
		if err := s.store.Audit(ctx, actor, ActionCreate, u.Username, describe(p)); err != nil {
			return err
		}
		return mail.Enqueue(ctx, s.store, s.keys, mail.Message{
			To: u.Email, Subject: s.opts.Organization + " app password created",
			Body: s.createdEmail(u, p, clientName),
		}, now)
	})
	if err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) {
			return models.AppPassword{}, "", err
		}
		return models.AppPassword{}, "", fmt.Errorf("create app password: %w", err)
	}
	s.opts.Logger.InfoContext(ctx, "app password created", "user_id", userID, "app_password_id", p.ID, "client_id", p.ClientID, "actor", actor)
	return p, value, nil
}

// expiry checks a chosen expiry against now and MaxLifetime; none chosen
// means MaxLifetime from now (or none, without a limit).
func (s *Service) expiry(at *time.Time, now time.Time) (*time.Time, error) {
	maxLife := s.opts.MaxLifetime
	if at == nil {
		if maxLife <= 0 {
			return nil, nil
		}
		t := now.Add(maxLife)
		return &t, nil
	}
	t := at.UTC().Truncate(time.Microsecond)
	if !t.After(now) {
		return nil, apperr.Field("expires_at", "must lie in the future")
	}
	if maxLife > 0 && t.After(now.Add(maxLife)) {
		return nil, apperr.Field("expires_at", fmt.Sprintf("must be at most %s from now (the administrator's limit)", humanDuration(maxLife)))
	}
	return &t, nil
}

// List returns userID's app passwords, newest first; revoked ones only
// with withRevoked.
func (s *Service) List(ctx context.Context, userID string, withRevoked bool) ([]models.AppPassword, error) {
	out, err := s.store.ListAppPasswords(ctx, userID, withRevoked)
	if err != nil {
		return nil, fmt.Errorf("list app passwords: %w", err)
	}
	return out, nil
}

// Active returns userID's app passwords that work now.
func (s *Service) Active(ctx context.Context, userID string) ([]models.AppPassword, error) {
	out, err := s.store.ActiveAppPasswords(ctx, userID, s.now())
	if err != nil {
		return nil, fmt.Errorf("list active app passwords: %w", err)
	}
	return out, nil
}

// Revoke revokes userID's app password id at once; every token obtained
// with it stops working (legacy.Guard). Revoking one already revoked
// changes nothing. ErrNotFound when the user has no such app password.
func (s *Service) Revoke(ctx context.Context, actor, userID, id string) error {
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		u, err := s.store.UserByID(ctx, userID)
		if err != nil {
			return noUser(err)
		}
		revoked, err := s.store.RevokeAppPassword(ctx, userID, id, s.now())
		if err != nil {
			return notFound(err)
		}
		if !revoked {
			return nil
		}
		p, err := s.store.AppPasswordByID(ctx, id)
		if err != nil {
			return err
		}
		return s.store.Audit(ctx, actor, ActionRevoke, u.Username, fmt.Sprintf("id=%s name=%q", p.ID, p.Name))
	})
	if err != nil {
		return fmt.Errorf("revoke app password: %w", err)
	}
	return nil
}

// RevokeAll revokes every app password of userID and returns how many,
// writing the audit entry (with reason) when there were any. With a
// transaction in ctx it joins it.
func (s *Service) RevokeAll(ctx context.Context, actor, userID, reason string) (int64, error) {
	var n int64
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		u, err := s.store.UserByID(ctx, userID)
		if err != nil {
			return noUser(err)
		}
		if n, err = s.store.RevokeUserAppPasswords(ctx, userID, s.now()); err != nil || n == 0 {
			return err
		}
		return s.store.Audit(ctx, actor, ActionRevokeAll, u.Username, fmt.Sprintf("revoked=%d reason=%s", n, reason))
	})
	if err != nil {
		return 0, fmt.Errorf("revoke app passwords: %w", err)
	}
	return n, nil
}

// Lookup finds the app password whose value is value, revoked or expired
// or not: found is false for a value of the wrong shape (LooksLike; no
// lookup is made) or one never issued. The caller judges the state.
func (s *Service) Lookup(ctx context.Context, value string) (p models.AppPassword, found bool, err error) {
	if !LooksLike(value) {
		return models.AppPassword{}, false, nil
	}
	p, err = s.store.AppPasswordByHash(ctx, s.Hash(value))
	if errors.Is(err, storage.ErrNotFound) {
		return models.AppPassword{}, false, nil
	}
	if err != nil {
		return models.AppPassword{}, false, fmt.Errorf("look up app password: %w", err)
	}
	return p, true, nil
}

// Clients returns the clients an app password may be bound to: those
// whose password grant accepts app passwords, by name.
func (s *Service) Clients(ctx context.Context) ([]models.Client, error) {
	all, err := s.store.ListClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clients for app passwords: %w", err)
	}
	out := []models.Client{}
	for _, c := range all {
		if c.AcceptsAppPasswords() && slices.Contains(c.GrantTypes, "password") {
			out = append(out, c)
		}
	}
	return out, nil
}

// Get returns the app password with id, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (models.AppPassword, error) {
	p, err := s.store.AppPasswordByID(ctx, id)
	if err != nil {
		return models.AppPassword{}, fmt.Errorf("get app password: %w", notFound(err))
	}
	return p, nil
}

// Used records a successful use of the app password id.
func (s *Service) Used(ctx context.Context, id, clientID, sourceIP string) error {
	if err := s.store.TouchAppPassword(ctx, id, s.now(), clientID, sourceIP); err != nil {
		return fmt.Errorf("record app password use: %w", err)
	}
	return nil
}

// StateAt is p's state at now.
func StateAt(p models.AppPassword, now time.Time) string {
	switch {
	case p.RevokedAt != nil:
		return StateRevoked
	case p.ExpiresAt != nil && !now.Before(*p.ExpiresAt):
		return StateExpired
	default:
		return StateActive
	}
}

// validateName accepts 1 to MaxName characters of one line.
func validateName(s string) error {
	if s == "" {
		return apperr.Field("name", "is required: name the integration it is for")
	}
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxName || len(s) > 4*MaxName {
		return apperr.Field("name", fmt.Sprintf("must be at most %d characters", MaxName))
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return apperr.Field("name", "must not contain control characters")
	}
	return nil
}

// cleanScopes trims, drops empty entries and duplicates, and accepts only
// scopes a user may hold (the admin scope and the introspection scope are
// a client's or an administrator's, never an app password's).
func cleanScopes(in []string) ([]string, error) {
	out := []string{}
	for _, raw := range in {
		for _, sc := range strings.Fields(raw) {
			if slices.Contains(out, sc) {
				continue
			}
			if !slices.Contains(UserScopes, sc) {
				return nil, apperr.Field("scopes", fmt.Sprintf("%q is not a scope an app password may hold; use any of %s", sc, strings.Join(UserScopes, ", ")))
			}
			out = append(out, sc)
		}
	}
	return out, nil
}

// UserScopes are the scopes an app password may hold.
var UserScopes = []string{oauth.ScopeOpenID, oauth.ScopeProfile, oauth.ScopeEmail, oauth.ScopeOfflineAccess}

// describe summarises p for the audit log; never its hash.
func describe(p models.AppPassword) string {
	exp := "never"
	if p.ExpiresAt != nil {
		exp = p.ExpiresAt.Format(time.RFC3339)
	}
	client := p.ClientID
	if client == "" {
		client = "any"
	}
	return fmt.Sprintf("id=%s name=%q client=%s scopes=%s expires=%s", p.ID, p.Name, client, strings.Join(p.Scopes, ","), exp)
}

func (s *Service) createdEmail(u models.User, p models.AppPassword, clientName string) string {
	const stamp = "2006-01-02 15:04:05 UTC"
	greeting := oneLine(u.Name)
	if greeting == "" {
		greeting = u.Username
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\n", greeting)
	fmt.Fprintf(&b, "An app password was created for your %s account %q.\n\n", s.opts.Organization, u.Username)
	fmt.Fprintf(&b, "Name: %s\n", oneLine(p.Name))
	if p.ClientID != "" {
		fmt.Fprintf(&b, "Works only for: %s (%s)\n", oneLine(clientName), p.ClientID)
	} else {
		b.WriteString("Works for: every application that accepts app passwords\n")
	}
	scopes := "none beyond signing in"
	if len(p.Scopes) > 0 {
		scopes = strings.Join(p.Scopes, " ")
	}
	fmt.Fprintf(&b, "Scopes: %s\n", scopes)
	fmt.Fprintf(&b, "Created: %s\n", p.CreatedAt.UTC().Format(stamp))
	if p.ExpiresAt != nil {
		fmt.Fprintf(&b, "Expires: %s\n", p.ExpiresAt.UTC().Format(stamp))
	} else {
		b.WriteString("Expires: never\n")
	}
	b.WriteString("\nThe app password itself was shown once, when it was created; it is not in this email and cannot be shown again.\n\n")
	if s.opts.AccountURL != "" {
		fmt.Fprintf(&b, "Review or revoke your app passwords: %s\n\n", s.opts.AccountURL)
	}
	b.WriteString("If you did not create it, revoke it at once, change your password and contact your administrator.\n")
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

// humanDuration writes d in days when it is whole days.
func humanDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		days := d / (24 * time.Hour)
		if days == 1 {
			return "1 day"
		}
		return fmt.Sprintf("%d days", days)
	}
	return d.String()
}

func newID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new app password id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func notFound(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

func noUser(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return ErrNoUser
	}
	return err
}

// View is how the admin API, the CLI and the console show an app
// password: never its hash nor its value.
type View struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	ClientID       string     `json:"client_id"`
	Scopes         []string   `json:"scopes"`
	State          string     `json:"state"`
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      *time.Time `json:"expires_at"`
	LastUsedAt     *time.Time `json:"last_used_at"`
	LastUsedClient string     `json:"last_used_client"`
	LastUsedIP     string     `json:"last_used_ip"`
	RevokedAt      *time.Time `json:"revoked_at"`
}

// ViewOf returns the View of p at now.
func ViewOf(p models.AppPassword, now time.Time) View {
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	scopes := p.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return View{ID: p.ID, Name: p.Name, ClientID: p.ClientID, Scopes: scopes, State: StateAt(p, now),
		CreatedAt: p.CreatedAt.UTC(), ExpiresAt: utc(p.ExpiresAt), LastUsedAt: utc(p.LastUsedAt),
		LastUsedClient: p.LastUsedClient, LastUsedIP: p.LastUsedIP, RevokedAt: utc(p.RevokedAt)}
}

// Views returns the views of ps at now.
func Views(ps []models.AppPassword, now time.Time) []View {
	out := make([]View, 0, len(ps))
	for _, p := range ps {
		out = append(out, ViewOf(p, now))
	}
	return out
}
