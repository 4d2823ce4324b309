package mfa

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/mail"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// Keyring purposes.
const (
	secretPurpose   = "mfa-totp-secret"
	recoveryPurpose = "mfa-recovery-code"
)

// RecoveryCodes is how many recovery codes an enrolment issues.
const RecoveryCodes = 10

// ErrEnrolled is returned when a user who already has TOTP starts another
// enrolment: remove the factor first.
var ErrEnrolled = errors.New("totp is already set up")

// ErrNoEnrolment is returned when there is no enrolment to confirm.
var ErrNoEnrolment = errors.New("no totp enrolment in progress")

// Policy is who must sign in with a second factor.
type Policy string

// Policies.
const (
	// PolicyOptional requires MFA of nobody (users may still enrol, and
	// clients and users may require it of themselves).
	PolicyOptional Policy = "optional"
	// PolicyAdmins requires MFA of administrators.
	PolicyAdmins Policy = "admins"
	// PolicyAll requires MFA of every user.
	PolicyAll Policy = "all"
)

// Required reports whether u must use a second factor under p, when the
// client being signed in to requires it (clientRequires) or not.
func (p Policy) Required(u models.User, clientRequires bool) bool {
	return clientRequires || u.RequireMFA || p == PolicyAll || (p == PolicyAdmins && u.Admin)
}

// Options tune a Service.
type Options struct {
	// Issuer names the account in authenticator apps ("authgate").
	Issuer string
	// Policy is the server-wide policy; empty means PolicyOptional.
	Policy Policy
	Now    func() time.Time
	Logger *slog.Logger
}

// Service manages users' second factors. Its state lives in the database,
// so its rules hold across replicas.
type Service struct {
	store *storage.Store
	keys  *keyring.Keyring
	opts  Options
}

// New returns a Service on store with the system keyring.
func New(store *storage.Store, keys *keyring.Keyring, opts Options) *Service {
	if opts.Issuer == "" {
		opts.Issuer = "authgate"
	}
	if opts.Policy == "" {
		opts.Policy = PolicyOptional
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, keys: keys, opts: opts}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

// Policy is the server-wide policy.
func (s *Service) Policy() Policy { return s.opts.Policy }

// Required reports whether u must use a second factor when signing in to
// a client that requires it (clientRequires) or not.
func (s *Service) Required(u models.User, clientRequires bool) bool {
	return s.opts.Policy.Required(u, clientRequires)
}

// Enrolled reports whether userID has a confirmed TOTP factor.
func (s *Service) Enrolled(ctx context.Context, userID string) (bool, error) {
	f, ok, err := s.store.TOTPFactor(ctx, userID)
	if err != nil {
		return false, err
	}
	return ok && f.ConfirmedAt != nil, nil
}

// Factors is what a user has set up, never a secret.
type Factors struct {
	// TOTP is set when the user has a confirmed TOTP factor.
	TOTP        bool       `json:"totp"`
	ConfirmedAt *time.Time `json:"totp_confirmed_at,omitempty"`
	LastUsedAt  *time.Time `json:"totp_last_used_at,omitempty"`
	// Pending is set while an enrolment waits for its first code.
	Pending bool `json:"totp_pending"`
	// RecoveryCodesLeft counts the unused recovery codes.
	RecoveryCodesLeft int `json:"recovery_codes_left"`
	// Passkeys are the user's passkeys (WebAuthn), oldest first.
	Passkeys []Passkey `json:"passkeys"`
}

// Passkey is what the factor list shows of a passkey: never its key.
type Passkey struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Synced is set for a passkey that may be copied between devices
	// (backup eligible); unset for one bound to its authenticator.
	Synced       bool       `json:"synced"`
	Passwordless bool       `json:"passwordless"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at,omitempty"`
}

// List returns the factors of userID.
func (s *Service) List(ctx context.Context, userID string) (Factors, error) {
	var out Factors
	f, ok, err := s.store.TOTPFactor(ctx, userID)
	if err != nil {
		return Factors{}, err
	}
	if ok {
		out.TOTP, out.Pending = f.ConfirmedAt != nil, f.ConfirmedAt == nil
		out.ConfirmedAt, out.LastUsedAt = f.ConfirmedAt, f.LastUsedAt
	}
	if out.RecoveryCodesLeft, err = s.store.RecoveryCodesLeft(ctx, userID); err != nil {
		return Factors{}, err
	}
	keys, err := s.store.WebAuthnCredentials(ctx, userID)
	if err != nil {
		return Factors{}, err
	}
	out.Passkeys = make([]Passkey, len(keys))
	for i, k := range keys {
		out.Passkeys[i] = Passkey{ID: k.ID, Name: k.Name, Synced: k.BackupEligible, Passwordless: k.Passwordless, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt}
	}
	return out, nil
}

// Begin starts (or restarts) the TOTP enrolment of u with a fresh secret,
// sealed in the database, and returns what the user adds to an app.
// ErrEnrolled when u already has TOTP.
func (s *Service) Begin(ctx context.Context, u models.User) (Enrolment, error) {
	k, err := newKey(s.opts.Issuer, u.Username)
	if err != nil {
		return Enrolment{}, err
	}
	sealed, err := s.keys.Seal(secretPurpose, []byte(k.Secret()))
	if err != nil {
		return Enrolment{}, fmt.Errorf("seal totp secret: %w", err)
	}
	if err := s.store.PutPendingTOTP(ctx, u.ID, sealed, s.now()); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return Enrolment{}, ErrEnrolled
		}
		return Enrolment{}, err
	}
	return enrolment(s.opts.Issuer, u.Username, k.Secret())
}

// Pending returns the enrolment of u waiting for its first code, to show
// again; ok is false when there is none.
func (s *Service) Pending(ctx context.Context, u models.User) (Enrolment, bool, error) {
	f, ok, err := s.store.TOTPFactor(ctx, u.ID)
	if err != nil || !ok || f.ConfirmedAt != nil {
		return Enrolment{}, false, err
	}
	secret, err := s.open(f)
	if err != nil {
		return Enrolment{}, false, err
	}
	e, err := enrolment(s.opts.Issuer, u.Username, secret)
	return e, err == nil, err
}

func (s *Service) open(f models.TOTPFactor) (string, error) {
	b, err := s.keys.Open(secretPurpose, f.SecretSealed)
	if err != nil {
		return "", fmt.Errorf("open totp secret: %w", err)
	}
	return string(b), nil
}

// Remove deletes the TOTP factor and recovery codes of u, after the
// caller has had a current code or a recovery code verified (a
// FactorCheck attempt); actor names who asked, for the audit log. The user
// is emailed.
func (s *Service) Remove(ctx context.Context, actor string, u models.User) (bool, error) {
	return s.remove(ctx, actor, u, "mfa.remove",
		"Two-step verification (an authenticator app) was removed from your account. If you did not do this, change your password and tell your administrator.")
}

// Reset is an administrator's removal of every second factor of u (the
// user lost the device), passkeys too: audited and emailed.
func (s *Service) Reset(ctx context.Context, actor string, u models.User) (bool, error) {
	return s.remove(ctx, actor, u, "user.mfa.reset",
		"An administrator reset the two-step verification of your account: your authenticator app, recovery codes and passkeys no longer work, and you were signed out everywhere. Set up two-step verification again at your account page. If you did not ask for this, tell your administrator.")
}

func (s *Service) remove(ctx context.Context, actor string, u models.User, action, text string) (bool, error) {
	var removed bool
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		if removed, err = s.store.DeleteTOTP(ctx, u.ID); err != nil {
			return err
		}
		detail := "totp factor and recovery codes removed"
		if action == "user.mfa.reset" {
			n, err := s.store.DeleteUserWebAuthnCredentials(ctx, u.ID)
			if err != nil {
				return err
			}
			removed = removed || n > 0
			detail += fmt.Sprintf("; %d passkeys removed", n)
		}
		if !removed {
			return nil
		}
		if action == "user.mfa.reset" {
			// The lost device may be in someone else's hands: every browser
			// session that it (or anything) signed in ends, and with it the
			// clients are told through the back channel. The legacy grants
			// its codes admitted end through the grant guard.
			if err := s.store.DeleteUserSessions(ctx, u.ID); err != nil {
				return err
			}
			detail += "; browser sessions ended"
		}
		if err := s.store.Audit(ctx, actor, action, u.Username, detail); err != nil {
			return err
		}
		body := "Hello " + u.Username + ",\n\n" + text + "\n\nTime: " + s.now().Format("2006-01-02 15:04:05 UTC") + "\n"
		return mail.Enqueue(ctx, s.store, s.keys, mail.Message{To: u.Email, Subject: s.opts.Issuer + " two-step verification removed", Body: body}, s.now())
	})
	if err != nil {
		return false, fmt.Errorf("remove mfa: %w", err)
	}
	if removed {
		s.opts.Logger.InfoContext(ctx, "mfa removed", "user_id", u.ID, "action", action)
	}
	return removed, nil
}

// newRecoveryCodes draws RecoveryCodes codes, each ten characters of
// base32 (50 bits) shown as xxxxx-xxxxx, and their keyed hashes for userID.
func (s *Service) newRecoveryCodes(userID string) (codes, hashes []string, err error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	for range RecoveryCodes {
		b := make([]byte, 10)
		if _, err := rand.Read(b); err != nil {
			return nil, nil, fmt.Errorf("draw recovery code: %w", err)
		}
		for i := range b {
			b[i] = alphabet[b[i]&31] // 256 is a multiple of 32: no bias
		}
		code := string(b[:5]) + "-" + string(b[5:])
		codes = append(codes, code)
		hashes = append(hashes, s.recoveryHash(userID, string(b)))
	}
	return codes, hashes, nil
}

// normalizeRecovery folds what a user typed for a recovery code to its
// ten characters; ok is false when it cannot be one.
func normalizeRecovery(typed string) (string, bool) {
	c := strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(typed)))
	if len(c) != 10 {
		return "", false
	}
	for i := 0; i < len(c); i++ {
		if !(c[i] >= 'a' && c[i] <= 'z' || c[i] >= '2' && c[i] <= '7') {
			return "", false
		}
	}
	return c, true
}

func (s *Service) recoveryHash(userID, code string) string {
	return s.keys.MAC(recoveryPurpose, []byte(userID+":"+code))
}
