package accounts

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/storage"
)

// Defaults used when Options leaves a field zero.
const (
	DefaultOrganization     = "authgate"
	DefaultLockoutThreshold = 10
	DefaultLockoutDuration  = 15 * time.Minute
)

// Options tunes a Service. Zero fields take the defaults above.
type Options struct {
	// Organization names the sender in the token email subject:
	// "<Organization> security token confirmation".
	Organization string
	// LockoutThreshold is the number of consecutive failures on one channel
	// that locks it.
	LockoutThreshold int
	// LockoutDuration is how long a channel stays locked.
	LockoutDuration time.Duration
	// Now returns the current time; tests replace it.
	Now    func() time.Time
	Logger *slog.Logger
	// OnLockout, when set, is told of every lock a sign-in attempt starts
	// (for metrics).
	OnLockout func(signin.Channel)
	// OnThrottle, when set, is told of every source the sign-in core
	// throttles for failing across usernames (for metrics).
	OnThrottle func(signin.Channel)
	// Issuer is the public base URL the links in emails start with.
	Issuer string
	// LinkEmailsPerHour bounds the emails with links (password resets,
	// verifications, email changes) one account is sent in an hour; 0
	// means DefaultLinkEmailsPerHour, negative no limit.
	LinkEmailsPerHour int
	// ResetLinkLifespan and VerifyLinkLifespan are how long a link works.
	ResetLinkLifespan  time.Duration
	VerifyLinkLifespan time.Duration
	// VerifyOnCreate sends a new user a link that verifies their address
	// (when mail is really delivered, not only written to files).
	VerifyOnCreate bool
	// SignInHasher, when set, is the hasher sign-in attempts verify with
	// instead of the service's (tests count verifications with it).
	SignInHasher signin.Hasher
	// AccountURL is the user's /account page, named in emails.
	AccountURL string
	// RevokeAppPasswordsOnPasswordChange makes a password change revoke
	// the user's app passwords (by default they survive it).
	RevokeAppPasswordsOnPasswordChange bool
}

// Service manages users. It is safe for concurrent use, and every rule it
// enforces (counters, token uniqueness) holds across replicas because the
// state lives in the database.
type Service struct {
	store   *storage.Store
	signin  *signin.Core
	lockout storage.Lockout
	keys    *keyring.Keyring
	hasher  *password.Hasher
	opts    Options
	log     *slog.Logger
	// generate draws a security token; tests replace it to force collisions.
	generate func() (string, error)
}

// New returns a Service keeping its users in store, with the system keyring
// and the password hasher.
func New(store *storage.Store, keys *keyring.Keyring, hasher *password.Hasher, opts Options) *Service {
	if opts.Organization == "" {
		opts.Organization = DefaultOrganization
	}
	if opts.LockoutThreshold <= 0 {
		opts.LockoutThreshold = DefaultLockoutThreshold
	}
	if opts.LockoutDuration <= 0 {
		opts.LockoutDuration = DefaultLockoutDuration
	}
	if opts.LinkEmailsPerHour == 0 {
		opts.LinkEmailsPerHour = DefaultLinkEmailsPerHour
	}
	if opts.ResetLinkLifespan <= 0 {
		opts.ResetLinkLifespan = DefaultResetLinkLifespan
	}
	if opts.VerifyLinkLifespan <= 0 {
		opts.VerifyLinkLifespan = DefaultVerifyLinkLifespan
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: store, keys: keys, hasher: hasher, opts: opts, log: opts.Logger, generate: GenerateToken,
		lockout: storage.Lockout{Threshold: opts.LockoutThreshold, Duration: opts.LockoutDuration}}
	var h signin.Hasher = hasher
	if opts.SignInHasher != nil {
		h = opts.SignInHasher
	}
	s.signin = signin.New(signin.Config{
		Users: s, Lockout: s.store, History: s, Hasher: h, Policy: s.lockout,
		Now: s.now, Logger: s.log, OnLockout: opts.OnLockout, OnThrottle: opts.OnThrottle,
	})
	return s
}

// UserActor names a signed-in user in the audit log. Every audit entry
// names its actor as KIND:NAME: "user:USERNAME" for a person signed in
// (self-service on /account, the console, the admin API with a user's
// token), "client:CLIENT_ID" for an admin API client token and "cli:LOGIN"
// for the command line.
func UserActor(username string) string { return "user:" + username }

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

// newID returns 16 random bytes, hex encoded.
func newID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new user id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// notFound maps storage's not-found error to ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return ErrNotFound
	}
	return err
}
