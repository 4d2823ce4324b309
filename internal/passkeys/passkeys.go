package passkeys

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// Purpose is what a ceremony is for.
type Purpose string

// The ceremonies.
const (
	// Register adds a passkey to a signed-in user.
	Register Purpose = "register"
	// Login signs in with a passkey alone (a discoverable credential with
	// user verification), on the login page.
	Login Purpose = "login"
	// Second proves a second factor after a password.
	Second Purpose = "second"
)

// MaxName is the longest passkey name, in characters.
const MaxName = 100

// The service's errors.
var (
	// ErrDisabled is returned when the issuer's host is not a domain
	// name: WebAuthn does not work on an IP address.
	ErrDisabled = apperr.New(apperr.Unavailable, "passkeys are not available on this server")
	// ErrNotFound is returned for a passkey the user does not have.
	ErrNotFound = apperr.New(apperr.NotFound, "passkey not found")
	// ErrCeremony refuses a ceremony that is unknown, used, expired or
	// was begun in another browser session.
	ErrCeremony = apperr.New(apperr.Invalid, "the passkey request expired or did not come from this browser; try again")
	// ErrRejected refuses a registration the authenticator's response
	// does not support (bad attestation, wrong origin, a passkey already
	// registered).
	ErrRejected = apperr.New(apperr.Invalid, "the passkey could not be registered; try again")
	// ErrMalformed refuses a response that is not a WebAuthn credential.
	ErrMalformed = apperr.New(apperr.Invalid, "the passkey response could not be read")
	// ErrNoPasskeys is returned when a second factor is asked of a user
	// without passkeys.
	ErrNoPasskeys = apperr.New(apperr.NotFound, "no passkey registered")
)

// Store is what the service needs of the storage (storage.Store).
type Store interface {
	CreateWebAuthnCredential(ctx context.Context, c models.WebAuthnCredential) error
	WebAuthnCredentials(ctx context.Context, userID string) ([]models.WebAuthnCredential, error)
	RenameWebAuthnCredential(ctx context.Context, userID, id, name string) error
	SetWebAuthnPasswordless(ctx context.Context, userID, id string, on bool) error
	DeleteWebAuthnCredential(ctx context.Context, userID, id string) error
	RecordWebAuthnUse(ctx context.Context, id string, u storage.WebAuthnUse) error
	CreateWebAuthnCeremony(ctx context.Context, c models.WebAuthnCeremony) error
	TakeWebAuthnCeremony(ctx context.Context, idHash string, now time.Time) (models.WebAuthnCeremony, error)
	Audit(ctx context.Context, actor, action, target, detail string) error
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// MACer computes keyed hashes (a *keyring.Keyring).
type MACer interface {
	MAC(purpose string, data []byte) string
}

// Options configure a Service.
type Options struct {
	// Issuer is the public base URL: its host is the relying party id,
	// its origin the only origin accepted.
	Issuer string
	// DisplayName is the relying party's name authenticators show.
	DisplayName string
	// Timeout is how long a ceremony may take; zero means five minutes.
	Timeout time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
}

// Service registers passkeys and checks their assertions.
type Service struct {
	store Store
	keys  MACer
	wa    *webauthn.WebAuthn // nil when disabled
	o     Options
}

// New returns the service. When the issuer's host is an IP address the
// service is built disabled (Enabled is false), with a log line saying
// why: WebAuthn needs a domain name.
func New(store Store, keys MACer, o Options) (*Service, error) {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: store, keys: keys, o: o}
	u, err := url.Parse(o.Issuer)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("passkeys: issuer %q is not a URL", o.Issuer)
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil {
		o.Logger.Info("passkeys are off: the issuer's host is an IP address; use a domain name (such as localhost) to offer them", "issuer", o.Issuer)
		return s, nil
	}
	s.wa, err = webauthn.New(&webauthn.Config{
		RPID:          host,
		RPDisplayName: o.DisplayName,
		RPOrigins:     []string{u.Scheme + "://" + u.Host},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: o.Timeout, TimeoutUVD: o.Timeout},
			Registration: webauthn.TimeoutConfig{Timeout: o.Timeout, TimeoutUVD: o.Timeout},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	return s, nil
}

// Enabled reports whether passkeys can be used on this server.
func (s *Service) Enabled() bool { return s != nil && s.wa != nil }

// Ceremony is a ceremony begun: Key goes into the browser's ceremony
// cookie, Options to the page's script (navigator.credentials).
type Ceremony struct {
	Key     string
	Options json.RawMessage
}

// ceremonyData is what a ceremony row's Data holds.
type ceremonyData struct {
	Session webauthn.SessionData `json:"session"`
	// Passwordless is the user's choice, at registration, to sign in with
	// the new passkey alone.
	Passwordless bool `json:"passwordless,omitempty"`
}

// user adapts a user and their passkeys to the library.
type user struct {
	u     models.User
	creds []webauthn.Credential
}

func (w *user) WebAuthnID() []byte                         { return []byte(w.u.ID) }
func (w *user) WebAuthnName() string                       { return w.u.Username }
func (w *user) WebAuthnCredentials() []webauthn.Credential { return w.creds }
func (w *user) WebAuthnDisplayName() string {
	if w.u.Name != "" {
		return w.u.Name
	}
	return w.u.Username
}

// credential is the library's view of a stored passkey.
func credential(c models.WebAuthnCredential) webauthn.Credential {
	flags := protocol.FlagUserPresent
	if c.UserVerified {
		flags |= protocol.FlagUserVerified
	}
	if c.BackupEligible {
		flags |= protocol.FlagBackupEligible
	}
	if c.BackupState {
		flags |= protocol.FlagBackupState
	}
	transports := make([]protocol.AuthenticatorTransport, len(c.Transports))
	for i, t := range c.Transports {
		transports[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID:              c.CredentialID,
		PublicKey:       c.PublicKey,
		AttestationType: c.AttestationType,
		Transport:       transports,
		Flags:           webauthn.NewCredentialFlags(flags),
		Authenticator:   webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: uint32(c.SignCount)},
	}
}

// load returns u with their passkeys, as the library sees them, and as
// they are stored.
func (s *Service) load(ctx context.Context, u models.User) (*user, []models.WebAuthnCredential, error) {
	stored, err := s.store.WebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return nil, nil, err
	}
	w := &user{u: u, creds: make([]webauthn.Credential, len(stored))}
	for i, c := range stored {
		w.creds[i] = credential(c)
	}
	return w, stored, nil
}

// List returns the passkeys of userID, oldest first.
func (s *Service) List(ctx context.Context, userID string) ([]models.WebAuthnCredential, error) {
	return s.store.WebAuthnCredentials(ctx, userID)
}

func (s *Service) idHash(key string) string { return s.keys.MAC("webauthn-ceremony", []byte(key)) }

// begin stores a ceremony and returns its key and the options for the
// browser.
func (s *Service) begin(ctx context.Context, p Purpose, binding, userID string, data ceremonyData, options any) (Ceremony, error) {
	key, err := keyring.RandomString(32)
	if err != nil {
		return Ceremony{}, err
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return Ceremony{}, fmt.Errorf("encode passkey ceremony: %w", err)
	}
	opts, err := json.Marshal(options)
	if err != nil {
		return Ceremony{}, fmt.Errorf("encode passkey options: %w", err)
	}
	now := s.o.Now().UTC()
	err = s.store.CreateWebAuthnCeremony(ctx, models.WebAuthnCeremony{
		IDHash: s.idHash(key), Purpose: string(p), Binding: binding, UserID: userID,
		Data: raw, ExpiresAt: now.Add(s.o.Timeout), CreatedAt: now,
	})
	if err != nil {
		return Ceremony{}, err
	}
	return Ceremony{Key: key, Options: opts}, nil
}

// take consumes the ceremony key names and checks that it is for p, was
// begun with binding and (when userID is set) for userID. Whatever the
// answer, the ceremony cannot be used again. A ceremony that does not pass
// is ErrCeremony.
func (s *Service) take(ctx context.Context, p Purpose, binding, userID, key string) (ceremonyData, error) {
	if key == "" || len(key) > 128 {
		return ceremonyData{}, ErrCeremony
	}
	c, err := s.store.TakeWebAuthnCeremony(ctx, s.idHash(key), s.o.Now())
	if errors.Is(err, storage.ErrNotFound) {
		return ceremonyData{}, ErrCeremony
	}
	if err != nil {
		return ceremonyData{}, err
	}
	if c.Purpose != string(p) || !keyring.Equal(c.Binding, binding) || (userID != "" && c.UserID != userID) {
		return ceremonyData{}, ErrCeremony
	}
	var d ceremonyData
	if err := json.Unmarshal(c.Data, &d); err != nil {
		return ceremonyData{}, fmt.Errorf("decode passkey ceremony: %w", err)
	}
	return d, nil
}

// BeginRegistration starts adding a passkey to u, in the browser session
// binding names. With passwordless the authenticator must keep a
// discoverable credential and verify the user, so that the passkey can
// sign in alone.
func (s *Service) BeginRegistration(ctx context.Context, u models.User, binding string, passwordless bool) (Ceremony, error) {
	if !s.Enabled() {
		return Ceremony{}, ErrDisabled
	}
	w, _, err := s.load(ctx, u)
	if err != nil {
		return Ceremony{}, err
	}
	sel := protocol.AuthenticatorSelection{
		ResidentKey:      protocol.ResidentKeyRequirementPreferred,
		UserVerification: protocol.VerificationPreferred,
	}
	if passwordless {
		sel.ResidentKey = protocol.ResidentKeyRequirementRequired
		sel.UserVerification = protocol.VerificationRequired
	}
	creation, session, err := s.wa.BeginRegistration(w,
		webauthn.WithAuthenticatorSelection(sel),
		webauthn.WithExclusions(webauthn.Credentials(w.creds).CredentialDescriptors()),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
	)
	if err != nil {
		return Ceremony{}, fmt.Errorf("begin passkey registration: %w", err)
	}
	return s.begin(ctx, Register, binding, u.ID, ceremonyData{Session: *session, Passwordless: passwordless}, creation)
}

// FinishRegistration checks the browser's response to the ceremony key
// names and stores the passkey under name. actor is written to the audit
// log.
func (s *Service) FinishRegistration(ctx context.Context, u models.User, binding, key string, response []byte, name, actor string) (models.WebAuthnCredential, error) {
	if !s.Enabled() {
		return models.WebAuthnCredential{}, ErrDisabled
	}
	name, err := checkName(name)
	if err != nil {
		return models.WebAuthnCredential{}, err
	}
	d, err := s.take(ctx, Register, binding, u.ID, key)
	if err != nil {
		return models.WebAuthnCredential{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return models.WebAuthnCredential{}, &apperr.Error{Code: apperr.Invalid, Message: ErrMalformed.Message, Err: err}
	}
	w, _, err := s.load(ctx, u)
	if err != nil {
		return models.WebAuthnCredential{}, err
	}
	cred, err := s.wa.CreateCredential(w, d.Session, parsed)
	if err != nil {
		return models.WebAuthnCredential{}, &apperr.Error{Code: apperr.Invalid, Message: ErrRejected.Message, Err: err}
	}
	if d.Passwordless && !cred.Flags.UserVerified {
		return models.WebAuthnCredential{}, &apperr.Error{Code: apperr.Invalid, Message: "this authenticator did not verify you (PIN or biometrics), so it cannot sign in without a password", Err: ErrRejected}
	}
	id, err := newID()
	if err != nil {
		return models.WebAuthnCredential{}, err
	}
	transports := make([]string, len(cred.Transport))
	for i, t := range cred.Transport {
		transports[i] = string(t)
	}
	c := models.WebAuthnCredential{
		ID: id, UserID: u.ID, Name: name, CredentialID: cred.ID, PublicKey: cred.PublicKey,
		AttestationType: cred.AttestationType, Transports: transports, AAGUID: cred.Authenticator.AAGUID,
		SignCount: int64(cred.Authenticator.SignCount), BackupEligible: cred.Flags.BackupEligible,
		BackupState: cred.Flags.BackupState, UserVerified: cred.Flags.UserVerified,
		Passwordless: d.Passwordless, CreatedAt: s.o.Now().UTC(),
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.CreateWebAuthnCredential(ctx, c); err != nil {
			return err
		}
		return s.store.Audit(ctx, actor, "user.passkey.add", u.Username, fmt.Sprintf("id=%s name=%q passwordless=%t", c.ID, c.Name, c.Passwordless))
	})
	if errors.Is(err, storage.ErrConflict) {
		return models.WebAuthnCredential{}, &apperr.Error{Code: apperr.Conflict, Message: "this passkey is already registered", Err: err}
	}
	if err != nil {
		return models.WebAuthnCredential{}, err
	}
	return c, nil
}

// Rename renames the passkey id of u.
func (s *Service) Rename(ctx context.Context, u models.User, id, name, actor string) error {
	name, err := checkName(name)
	if err != nil {
		return err
	}
	return s.change(ctx, u, id, actor, "user.passkey.rename", fmt.Sprintf("id=%s name=%q", id, name), func(ctx context.Context) error {
		return s.store.RenameWebAuthnCredential(ctx, u.ID, id, name)
	})
}

// SetPasswordless sets whether the passkey id of u signs in without a
// password.
func (s *Service) SetPasswordless(ctx context.Context, u models.User, id string, on bool, actor string) error {
	return s.change(ctx, u, id, actor, "user.passkey.passwordless", fmt.Sprintf("id=%s passwordless=%t", id, on), func(ctx context.Context) error {
		return s.store.SetWebAuthnPasswordless(ctx, u.ID, id, on)
	})
}

// Remove deletes the passkey id of u.
func (s *Service) Remove(ctx context.Context, u models.User, id, actor string) error {
	return s.change(ctx, u, id, actor, "user.passkey.remove", "id="+id, func(ctx context.Context) error {
		return s.store.DeleteWebAuthnCredential(ctx, u.ID, id)
	})
}

// change runs fn and its audit entry in one transaction.
func (s *Service) change(ctx context.Context, u models.User, id, actor, action, detail string, fn func(ctx context.Context) error) error {
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if err := fn(ctx); err != nil {
			return err
		}
		return s.store.Audit(ctx, actor, action, u.Username, detail)
	})
	if errors.Is(err, storage.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// BeginLogin starts a passwordless sign-in: any discoverable passkey of
// this server, with user verification. binding is the browser state it
// is bound to, if any.
func (s *Service) BeginLogin(ctx context.Context, binding string) (Ceremony, error) {
	if !s.Enabled() {
		return Ceremony{}, ErrDisabled
	}
	assertion, session, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return Ceremony{}, fmt.Errorf("begin passkey sign-in: %w", err)
	}
	return s.begin(ctx, Login, binding, "", ceremonyData{Session: *session}, assertion)
}

// BeginSecond starts a passkey as the second factor of u, in the
// half-signed-in state binding names: only u's passkeys are offered and
// accepted.
func (s *Service) BeginSecond(ctx context.Context, u models.User, binding string) (Ceremony, error) {
	if !s.Enabled() {
		return Ceremony{}, ErrDisabled
	}
	w, _, err := s.load(ctx, u)
	if err != nil {
		return Ceremony{}, err
	}
	if len(w.creds) == 0 {
		return Ceremony{}, ErrNoPasskeys
	}
	assertion, session, err := s.wa.BeginLogin(w, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return Ceremony{}, fmt.Errorf("begin passkey second factor: %w", err)
	}
	return s.begin(ctx, Second, binding, u.ID, ceremonyData{Session: *session}, assertion)
}

// Assertion is a browser's answer to a sign-in ceremony, parsed but not
// verified.
type Assertion struct {
	parsed *protocol.ParsedCredentialAssertionData
}

// ParseAssertion parses a PublicKeyCredential (navigator.credentials.get)
// as JSON. Anything else is ErrMalformed.
func ParseAssertion(body []byte) (*Assertion, error) {
	p, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, &apperr.Error{Code: apperr.Invalid, Message: ErrMalformed.Message, Err: err}
	}
	return &Assertion{parsed: p}, nil
}

// UserHandle is the user the assertion claims to be (unverified): the
// user id a discoverable passkey holds, "" when it holds none.
func (a *Assertion) UserHandle() string {
	h := a.parsed.Response.UserHandle
	if len(h) == 0 || len(h) > 64 || !utf8.Valid(h) {
		return ""
	}
	return string(h)
}

// newID returns 16 random bytes, hex encoded.
func newID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new passkey id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// checkName trims a passkey name and checks it.
func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", apperr.Field("name", "is required")
	case !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxName:
		return "", apperr.Field("name", fmt.Sprintf("must be at most %d characters", MaxName))
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsControl(r) }) >= 0:
		return "", apperr.Field("name", "must not contain control characters")
	}
	return name, nil
}

// CredentialIDText is how a credential id appears in logs: base64url.
func CredentialIDText(id []byte) string { return base64.RawURLEncoding.EncodeToString(id) }
