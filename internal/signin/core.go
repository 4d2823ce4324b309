package signin

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// MaxPassword is the longest password, in bytes, that can be set. A longer
// candidate is never verified against a stored hash (it cannot match), but
// costs the same as one that is.
const MaxPassword = 1024

// Channel is where an attempt arrives. It selects the lockout counter and
// the login-history method.
type Channel int

const (
	// LoginPage is the OAuth login page (and so the console, which signs
	// in through it).
	LoginPage Channel = iota + 1
	// PasswordGrant is the legacy OAuth 2.0 password grant.
	PasswordGrant
	// PasswordChange is the current-password check of a self-service
	// password change. It counts on the login page's counter and writes no
	// login history: it is not a sign-in.
	PasswordChange
	// PasskeyLogin is a passwordless sign-in with a passkey on the login
	// page. It counts on the login page's counter.
	PasskeyLogin
	// SecondFactor is the second step of the login page (a TOTP code, a
	// recovery code, a passkey). It counts on the login page's counter, the
	// same lockout as the password, and writes the login history with the
	// login page's method.
	SecondFactor
	// FactorCheck is a second factor proved outside a sign-in: confirming
	// an enrolment, removing a factor. It counts on the login page's
	// counter and writes no login history.
	FactorCheck
	// DeviceApproval is a signed-in user approving a device's request
	// (RFC 8628) at /device. It checks no secret (the session did; its
	// Verifier is DeviceApprove) but is refused, like a sign-in, while the
	// user's login counter is locked for the source, and it is recorded
	// with its own method.
	DeviceApproval
	// AppPasswordGrant is the legacy password grant with an app password
	// as the whole password. It counts on the password grant's counter
	// (one lockout for every legacy credential) and is recorded with its
	// own method.
	AppPasswordGrant
)

func (c Channel) String() string {
	switch c {
	case LoginPage:
		return "login_page"
	case PasswordGrant:
		return "password_grant"
	case PasswordChange:
		return "password_change"
	case PasskeyLogin:
		return "passkey_login"
	case SecondFactor:
		return "second_factor"
	case FactorCheck:
		return "factor_check"
	case DeviceApproval:
		return "device_approval"
	case AppPasswordGrant:
		return "app_password_grant"
	default:
		return fmt.Sprintf("Channel(%d)", int(c))
	}
}

// counter is the lockout counter attempts on c count against.
func (c Channel) counter() (storage.Counter, error) {
	switch c {
	case LoginPage, PasswordChange, PasskeyLogin, SecondFactor, FactorCheck, DeviceApproval:
		return storage.CounterLogin, nil
	case PasswordGrant, AppPasswordGrant:
		return storage.CounterLegacy, nil
	default:
		return 0, fmt.Errorf("unknown channel %d", int(c))
	}
}

// method is the login-history method of c, "" for none.
func (c Channel) method() string {
	switch c {
	case LoginPage, SecondFactor:
		return MethodLoginPage
	case PasswordGrant:
		return MethodPasswordGrant
	case PasskeyLogin:
		return MethodPasskey
	case DeviceApproval:
		return MethodDevice
	case AppPasswordGrant:
		return MethodAppPassword
	default:
		return ""
	}
}

// Subject names the user an attempt is for: by UserID when it is set (a
// signed-in user), otherwise by Username (case-insensitive).
type Subject struct {
	Username string
	UserID   string
	// Claimed marks a UserID that comes from the request rather than from
	// a signed-in session (a passkey's user handle): one no user has is
	// counted like an unknown username.
	Claimed bool
}

// Users finds the user an attempt names.
type Users interface {
	// FindUser returns the user s names. found is false, with a nil
	// error, when there is none.
	FindUser(ctx context.Context, s Subject) (u models.User, found bool, err error)
}

// Lockout counts attempts per user, counter and source (storage.Store
// implements it).
type Lockout interface {
	ReserveAttempt(ctx context.Context, userID string, c storage.Counter, source string, p storage.Lockout, now time.Time) (storage.Reservation, error)
	FailAttempt(ctx context.Context, r storage.Reservation, p storage.Lockout, now time.Time) (lockedNow bool, err error)
	ReleaseAttempt(ctx context.Context, r storage.Reservation, now time.Time) error
	AbandonAttempt(ctx context.Context, r storage.Reservation) error
}

// History writes the login history.
type History interface {
	RecordLogin(ctx context.Context, e models.LoginEvent) error
}

// Hasher verifies argon2id password hashes (password.Hasher implements it).
// Verify returns nil on a match and password.ErrMismatch on a mismatch.
type Hasher interface {
	Verify(ctx context.Context, encoded, secret string) error
	VerifyDummy(ctx context.Context, secret string) error
}

// Check verifies one candidate password against the user's hash, at the
// cost of one argon2id verification. It reports whether it matched; an
// error means no decision was made.
type Check func(password string) (bool, error)

// Verifier is a channel's policy for what the secret must prove.
type Verifier interface {
	// Cost is the number of argon2id verifications every failure on the
	// channel costs: the most Verify ever checks.
	Cost() int
	// Verify decides an attempt by u with secret, calling check for every
	// candidate password. It returns ResultSuccess or the failure result
	// to record.
	Verify(ctx context.Context, u models.User, secret string, check Check) (result string, err error)
}

// FactorNamer is a Verifier that names, after Verify, the factor it
// decided with (for the login history), when that is not the request's
// Factor: the legacy grant learns only in Verify whether a security token
// or a TOTP code followed the password.
type FactorNamer interface {
	Factor() string
}

// AppPasswordNamer is a Verifier that names, after Verify, the app
// password the attempt used (for the login history), once the value was
// found to be one of the user's.
type AppPasswordNamer interface {
	AppPasswordName() string
}

// Password is the Verifier of a channel whose secret is the password alone.
type Password struct{}

// Cost is one verification.
func (Password) Cost() int { return 1 }

// Verify checks secret as the password.
func (Password) Verify(_ context.Context, _ models.User, secret string, check Check) (string, error) {
	ok, err := check(secret)
	switch {
	case err != nil:
		return "", err
	case ok:
		return ResultSuccess, nil
	default:
		return ResultInvalidPassword, nil
	}
}

// DeviceApprove is the Verifier of the DeviceApproval channel: the user
// is signed in already, so there is no secret to check and nothing to
// spend; what decides is the lockout the core checks first.
type DeviceApprove struct{}

// Cost is none: no candidate is ever checked.
func (DeviceApprove) Cost() int { return 0 }

// Verify admits the signed-in user.
func (DeviceApprove) Verify(context.Context, models.User, string, Check) (string, error) {
	return ResultSuccess, nil
}

// Request is one attempt.
type Request struct {
	Channel Channel
	Subject Subject
	// Secret is what was sent in the password field.
	Secret string
	// Verifier is the channel's policy; nil means Password.
	Verifier Verifier
	// Factor names the credential checked, for the login history
	// (Factor* constants); empty means FactorPassword. A Verifier that is
	// a FactorNamer overrides it.
	Factor string
	// Where the attempt came from, for the login history. ClientID must not
	// come from untrusted input.
	ClientID  string
	SourceIP  string
	UserAgent string
}

// Outcome is the decision on an attempt.
type Outcome struct {
	// Result is ResultSuccess or the failure recorded in the history.
	Result string
	// User is the user the attempt named, when there is one (on failure
	// too, for the caller's logs); zero for an unknown user.
	User models.User
	// LockedNow is true when this failure locked the user's counter.
	LockedNow bool
	// Factor is the credential the attempt used or failed (Factor*).
	Factor string
}

// OK reports whether the attempt succeeded.
func (o Outcome) OK() bool { return o.Result == ResultSuccess }

// Pending reports whether the password was right and a second factor is
// still owed (ResultSecondFactorPending): no success yet.
func (o Outcome) Pending() bool { return o.Result == ResultSecondFactorPending }

// Config is what a Core is built from. Users, Lockout, History and Hasher
// are required.
type Config struct {
	Users   Users
	Lockout Lockout
	History History
	Hasher  Hasher
	// Policy is the lockout threshold and duration, per user, counter and
	// source.
	Policy storage.Lockout
	// MaxWait bounds how long an attempt waits while the source's attempts
	// in flight fill the threshold; past it the attempt is refused as a
	// lockout. Zero means DefaultMaxWait.
	MaxWait time.Duration
	// Now returns the current time; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// OnLockout, when set, is told of every lock an attempt starts (for
	// metrics).
	OnLockout func(Channel)
	// Spray* throttle a source that fails across many usernames:
	// SprayThreshold failures within SprayWindow block it for
	// SprayBackoff, doubling while it goes on. Zero fields take the
	// Default* values; a negative SprayThreshold turns the throttle off.
	SprayThreshold int
	SprayWindow    time.Duration
	SprayBackoff   time.Duration
	// OnThrottle, when set, is told of every throttling a failure starts
	// (for metrics).
	OnThrottle func(Channel)
}

// Core decides sign-in attempts. It is safe for concurrent use; its state
// (counters and locks) lives in the database, so its guarantees hold
// across replicas.
type Core struct {
	cfg   Config
	spray *sprayGuard // nil when turned off
	// refusals dedupes the history rows of refused requests.
	refusals episodes
}

// Defaults for a Config's Policy fields left zero: Salesforce's 10
// attempts, then 15 minutes locked.
const (
	DefaultThreshold = 10
	DefaultDuration  = 15 * time.Minute
	DefaultMaxWait   = 10 * time.Second
)

// New returns a Core. Zero Policy fields take the defaults above.
func New(cfg Config) *Core {
	if cfg.Policy.Threshold < 1 {
		cfg.Policy.Threshold = DefaultThreshold
	}
	if cfg.Policy.Duration <= 0 {
		cfg.Policy.Duration = DefaultDuration
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Core{cfg: cfg}
	if cfg.SprayThreshold >= 0 {
		c.spray = newSprayGuard(
			cmp.Or(cfg.SprayThreshold, DefaultSprayThreshold),
			cmp.Or(cfg.SprayWindow, DefaultSprayWindow),
			cmp.Or(cfg.SprayBackoff, DefaultSprayBackoff))
	}
	return c
}

// errOverBudget is returned when a Verifier checks more candidates than
// its Cost: failures would then cost different amounts.
var errOverBudget = errors.New("verifier checked more candidates than its cost")

// Attempt decides one sign-in attempt:
//
//   - it reserves the attempt against the lockout before any verification
//     (an unknown username is counted too, under a key of its own),
//     so that at most the threshold number of attempts per user, counter,
//     source and lock window ever reach a stored hash, whatever the
//     parallelism; failures from one source (see Source) do not lock the
//     user out from another;
//   - every failure (unknown user, locked user, wrong password, input
//     longer than MaxPassword, or whatever the Verifier refuses) costs
//     exactly Verifier.Cost argon2id verifications, so timing does not
//     tell them apart;
//   - while the source's attempts in flight fill the threshold, further
//     attempts wait for one to end (at most Config.MaxWait);
//   - a success resets the count; a failure stays counted, and the one
//     that reaches the threshold locks the user out from the source;
//   - the attempt is written to the login history (except on the
//     PasswordChange channel).
//
// An error means no decision was made (the database or the hasher failed);
// an attempt already reserved is then given back uncounted.
func (c *Core) Attempt(ctx context.Context, req Request) (Outcome, error) {
	counter, err := req.Channel.counter()
	if err != nil {
		return Outcome{}, fmt.Errorf("sign in: %w", err)
	}
	v := req.Verifier
	if v == nil {
		v = Password{}
	}
	cost := v.Cost()
	spent := 0
	pad := func() {
		for ; spent < cost; spent++ {
			_ = c.cfg.Hasher.VerifyDummy(ctx, clip(req.Secret))
		}
	}

	source := Source(req.SourceIP)
	if c.spray != nil {
		if blocked, first := c.spray.blocked(source, c.cfg.Now()); blocked {
			// Refused before any lookup, at the cost of a failure; the
			// history gets the episode's first refusal only.
			pad()
			return c.finish(ctx, req, Outcome{Result: ResultThrottled}, first)
		}
	}

	u, found, err := c.cfg.Users.FindUser(ctx, req.Subject)
	if err != nil {
		return Outcome{}, fmt.Errorf("sign in: look up user: %w", err)
	}
	if !found {
		return c.unknown(ctx, req, counter, pad)
	}
	res, err := c.reserve(ctx, u.ID, counter, source)
	if err != nil {
		return Outcome{}, fmt.Errorf("sign in: %w", err)
	}
	if !res.Granted {
		pad()
		// One history row per lock, user, counter and source: a flood
		// against a locked account does not become a flood of rows.
		first := c.refusals.first(strings.Join([]string{"lock", u.ID, req.Channel.String(), source}, "|"), c.cfg.Now(), c.cfg.Policy.Duration)
		return c.finish(ctx, req, Outcome{Result: ResultLockout, User: u}, first)
	}
	if u.Disabled {
		// Refused without looking at the password (a disabled account
		// must not confirm a guess), at the cost and count of a failure.
		pad()
		if _, err := c.cfg.Lockout.FailAttempt(ctx, res, c.cfg.Policy, c.cfg.Now()); err != nil {
			return Outcome{}, fmt.Errorf("sign in: %w", err)
		}
		c.sourceFailed(ctx, req, source)
		return c.finish(ctx, req, Outcome{Result: ResultUserDisabled, User: u}, true)
	}

	check := func(pw string) (bool, error) {
		if spent >= cost {
			return false, errOverBudget
		}
		spent++
		if len(pw) > MaxPassword {
			_ = c.cfg.Hasher.VerifyDummy(ctx, clip(pw))
			return false, nil
		}
		err := c.cfg.Hasher.Verify(ctx, u.PasswordHash, pw)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, password.ErrMismatch):
			return false, nil
		case errors.Is(err, password.ErrMalformedHash):
			c.cfg.Logger.ErrorContext(ctx, "stored password hash is malformed", "user_id", u.ID)
			// Spend what a well-formed hash would have cost.
			_ = c.cfg.Hasher.VerifyDummy(ctx, clip(pw))
			return false, nil
		default:
			return false, err
		}
	}
	result, err := v.Verify(ctx, u, req.Secret, check)
	if err != nil {
		if aerr := c.cfg.Lockout.AbandonAttempt(context.WithoutCancel(ctx), res); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return Outcome{}, fmt.Errorf("sign in: verify password: %w", err)
	}
	if result == ResultSuccess {
		if err := c.cfg.Lockout.ReleaseAttempt(ctx, res, c.cfg.Now()); err != nil {
			return Outcome{}, fmt.Errorf("sign in: %w", err)
		}
		return c.finish(ctx, req, Outcome{Result: ResultSuccess, User: u, Factor: factorOf(req, v)}, true)
	}
	if result == ResultSecondFactorPending {
		// The password was right but a second factor is owed: the attempt
		// is given back without resetting the count, so that knowing the
		// password does not buy fresh guesses at the second factor.
		if err := c.cfg.Lockout.AbandonAttempt(context.WithoutCancel(ctx), res); err != nil {
			return Outcome{}, fmt.Errorf("sign in: %w", err)
		}
		return c.finish(ctx, req, Outcome{Result: result, User: u, Factor: factorOf(req, v)}, true)
	}
	pad()
	lockedNow, err := c.cfg.Lockout.FailAttempt(ctx, res, c.cfg.Policy, c.cfg.Now())
	if err != nil {
		return Outcome{}, fmt.Errorf("sign in: %w", err)
	}
	o := Outcome{Result: result, User: u, LockedNow: lockedNow, Factor: factorOf(req, v)}
	c.sourceFailed(ctx, req, source)
	if lockedNow {
		c.cfg.Logger.WarnContext(ctx, "account locked after repeated failures", "user_id", u.ID,
			"channel", req.Channel.String(), "source", res.Source, "duration", c.cfg.Policy.Duration.String())
		if c.cfg.OnLockout != nil {
			c.cfg.OnLockout(req.Channel)
		}
	}
	return c.finish(ctx, req, o, true)
}

// factorOf is the factor an attempt decided with: the Verifier's when it
// names one, else the request's, else the password.
func factorOf(req Request, v Verifier) string {
	if n, ok := v.(FactorNamer); ok {
		if f := n.Factor(); f != "" {
			return f
		}
	}
	return cmp.Or(req.Factor, req.Channel.factor())
}

// factor is the factor an attempt on c checks unless it says otherwise.
func (c Channel) factor() string {
	switch c {
	case PasskeyLogin:
		return FactorPasskey
	case AppPasswordGrant:
		return FactorAppPassword
	}
	return FactorPassword
}

// unknown decides an attempt for a username no user has. It is counted
// and priced like a known user's wrong password (reservation, argon2id
// cost, failure), so that neither timing nor a lockout tells the two
// apart. A signed-in user who is gone (a UserID subject) is only priced.
func (c *Core) unknown(ctx context.Context, req Request, counter storage.Counter, pad func()) (Outcome, error) {
	key := unknownKey(req.Subject.Username)
	if req.Subject.UserID != "" {
		if !req.Subject.Claimed {
			pad()
			return c.finish(ctx, req, Outcome{Result: ResultUnknownUser}, true)
		}
		key = unknownKey("\x00id:" + req.Subject.UserID)
	}
	source := Source(req.SourceIP)
	res, err := c.reserve(ctx, key, counter, source)
	if err != nil {
		return Outcome{}, fmt.Errorf("sign in: %w", err)
	}
	pad()
	if res.Granted {
		if _, err := c.cfg.Lockout.FailAttempt(ctx, res, c.cfg.Policy, c.cfg.Now()); err != nil {
			return Outcome{}, fmt.Errorf("sign in: %w", err)
		}
	}
	c.sourceFailed(ctx, req, source)
	return c.finish(ctx, req, Outcome{Result: ResultUnknownUser}, true)
}

// sourceFailed counts a failure against the source's spray throttle and
// reports a throttling it starts.
func (c *Core) sourceFailed(ctx context.Context, req Request, source string) {
	if c.spray == nil || !c.spray.failed(source, c.cfg.Now()) {
		return
	}
	c.cfg.Logger.WarnContext(ctx, "source throttled after failing across usernames",
		"source", source, "channel", req.Channel.String())
	if c.cfg.OnThrottle != nil {
		c.cfg.OnThrottle(req.Channel)
	}
}

// unknownKey is the lockout key of a username no user has: never a user's
// id (ids are hex), and the same for every spelling of the username.
func unknownKey(username string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(username)))
	return "u:" + hex.EncodeToString(sum[:])[:62]
}

// reserve reserves an attempt, waiting (with backoff, at most MaxWait)
// while the source's attempts in flight fill the threshold: a client that
// signs in many times in parallel is slowed, not refused. A reservation
// still busy after MaxWait is returned refused.
func (c *Core) reserve(ctx context.Context, userID string, counter storage.Counter, source string) (storage.Reservation, error) {
	deadline := time.Now().Add(c.cfg.MaxWait)
	backoff := 5 * time.Millisecond
	for {
		res, err := c.cfg.Lockout.ReserveAttempt(ctx, userID, counter, source, c.cfg.Policy, c.cfg.Now())
		if err != nil || !res.Busy || !time.Now().Before(deadline) {
			return res, err
		}
		t := time.NewTimer(backoff/2 + rand.N(backoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return storage.Reservation{}, ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// finish writes the attempt to the login history when record is set. A
// failed write is logged: the decision stands.
func (c *Core) finish(ctx context.Context, req Request, o Outcome, record bool) (Outcome, error) {
	method := req.Channel.method()
	if method == "" || !record {
		return o, nil
	}
	e := models.LoginEvent{
		Time:      c.cfg.Now().UTC(),
		UserID:    o.User.ID,
		Username:  req.Subject.Username,
		ClientID:  req.ClientID,
		SourceIP:  req.SourceIP,
		UserAgent: req.UserAgent,
		Method:    method,
		Result:    o.Result,
		Factor:    cmp.Or(o.Factor, req.Factor, req.Channel.factor()),
	}
	if n, ok := req.Verifier.(AppPasswordNamer); ok && o.User.ID != "" {
		e.AppPassword = n.AppPasswordName()
	}
	if o.User.ID != "" {
		e.Username = o.User.Username
	}
	if err := c.cfg.History.RecordLogin(ctx, e); err != nil {
		c.cfg.Logger.ErrorContext(ctx, "record login history", "error", err, "channel", req.Channel.String(), "client_id", req.ClientID)
	}
	return o, nil
}

// Source is the lockout key of the address addr: the address itself for
// IPv4, its /64 for IPv6 (one subscriber's allocation), "" when addr is not
// an address.
func Source(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return ""
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// clip cuts s to MaxPassword bytes: argon2id's cost does not depend on the
// length of its input beyond its first hash, and this keeps it so.
func clip(s string) string {
	if len(s) > MaxPassword {
		return s[:MaxPassword]
	}
	return s
}
