package clients

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

// Audit actions written by the Service.
const (
	ActionCreate        = "client.create"
	ActionUpdate        = "client.update"
	ActionDelete        = "client.delete"
	ActionRotateSecret  = "client.secret.rotate"
	ActionLegacyEnable  = "client.legacy.enable"
	ActionLegacyDisable = "client.legacy.disable"
	ActionLegacySunset  = "client.legacy.sunset"
)

// SecretBytes is the number of random bytes in a generated client secret.
const SecretBytes = 32

// Hasher hashes a generated client secret for storage;
// *oauth.SecretHasher is one.
type Hasher interface {
	Hash(ctx context.Context, data []byte) ([]byte, error)
}

// Options tunes a Service.
type Options struct {
	// Now returns the current time; tests replace it. Default time.Now.
	Now func() time.Time
	// Changed, when set, is called after a change to a client commits, so
	// that caches of the client in this process can drop it.
	Changed func(id string)
	// Protected lists clients that cannot be deleted (the admin console's
	// own client: without it no administrator could sign in to the
	// console).
	Protected []string
}

// Store is the storage a Service keeps clients in; *storage.Store is one.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	CreateClient(ctx context.Context, c *models.Client) error
	ClientByID(ctx context.Context, id string) (models.Client, error)
	LockClient(ctx context.Context, id string) (models.Client, error)
	ListClients(ctx context.Context) ([]models.Client, error)
	SaveClient(ctx context.Context, c *models.Client) error
	DeleteClient(ctx context.Context, id string) error
	Audit(ctx context.Context, actor, action, target, detail string) error
	CreateBrownout(ctx context.Context, b *models.ClientBrownout) error
	ClientBrownouts(ctx context.Context, clientID string, endsAfter time.Time) ([]models.ClientBrownout, error)
	DeleteBrownout(ctx context.Context, clientID string, id uint64) error
	BrownoutsEndingAfter(ctx context.Context, t time.Time) ([]models.ClientBrownout, error)
}

// Service manages client registrations. It is safe for concurrent use.
type Service struct {
	store     Store
	hasher    Hasher
	now       func() time.Time
	onAlter   func(id string)
	protected []string
}

// New returns a Service storing clients in store and hashing their
// secrets with hasher.
func New(store Store, hasher Hasher, opts Options) *Service {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Service{
		store:     store,
		hasher:    hasher,
		onAlter:   opts.Changed,
		protected: opts.Protected,
		// PostgreSQL keeps microseconds; truncating makes returned values
		// equal what a later Get reads back.
		now: func() time.Time { return now().UTC().Truncate(time.Microsecond) },
	}
}

// NewClient is the input to Create.
type NewClient struct {
	Name         string
	GrantTypes   []string
	RedirectURIs []string
	Scopes       []string
	Audience     []string
	// Public clients have no secret; they cannot use client_credentials or
	// the password grant.
	Public     bool
	FirstParty bool
	// AccessTokenFormat is "opaque" (the default when empty) or "jwt".
	AccessTokenFormat string
	Logout            Logout
	// IDTokenAlg and AccessTokenAlg are the algorithms of the client's ID
	// tokens and JWT access tokens: RS256 (the default when empty), ES256
	// or EdDSA.
	IDTokenAlg, AccessTokenAlg string
	// Auth is how the client authenticates; a private_key_jwt client gets
	// no secret.
	Auth Auth
	// LegacyCredentials is what the password grant accepts: "token" (the
	// default when empty), "app_password" or "both".
	LegacyCredentials string
}

// Logout is a client's OpenID Connect logout registration: where a logout
// it starts may send the browser back to, and where it is told of logouts
// (back channel: a POSTed logout token; front channel: a framed page).
type Logout struct {
	PostLogoutRedirectURIs            []string
	BackchannelLogoutURI              string
	BackchannelLogoutSessionRequired  bool
	FrontchannelLogoutURI             string
	FrontchannelLogoutSessionRequired bool
}

// ClientUpdate changes the fields that are not nil. It is also the body of
// the admin API's PATCH /admin/api/clients/{id} (hence the JSON names), and
// the CLI's "clients update" has one flag per field (clientUpdateFlags in
// cmd/authgate): a new field needs a line in Update, in diff, there, and
// in the OpenAPI document's ClientUpdate.
type ClientUpdate struct {
	Name              *string   `json:"name"`
	RedirectURIs      *[]string `json:"redirect_uris"`
	Scopes            *[]string `json:"scopes"`
	GrantTypes        *[]string `json:"grant_types"`
	FirstParty        *bool     `json:"first_party"`
	AccessTokenFormat *string   `json:"access_token_format"`
	// IDTokenAlg is id_token_signed_response_alg; AccessTokenAlg the
	// algorithm of JWT access tokens.
	IDTokenAlg     *string `json:"id_token_signed_response_alg"`
	AccessTokenAlg *string `json:"access_token_signed_response_alg"`
	// The logout registration (see Logout); each replaces its field.
	PostLogoutRedirectURIs            *[]string `json:"post_logout_redirect_uris"`
	BackchannelLogoutURI              *string   `json:"backchannel_logout_uri"`
	BackchannelLogoutSessionRequired  *bool     `json:"backchannel_logout_session_required"`
	FrontchannelLogoutURI             *string   `json:"frontchannel_logout_uri"`
	FrontchannelLogoutSessionRequired *bool     `json:"frontchannel_logout_session_required"`
	// RequireMFA makes the client's users sign in with a second factor.
	RequireMFA *bool `json:"require_mfa"`
	// Salesforce-compatible password grant responses (see salesforce.go).
	SalesforceCompat *bool   `json:"salesforce_compat"`
	InstanceURL      *string `json:"instance_url"`
	// The client's authentication (see Auth). jwks is a JSON Web Key Set
	// object; the JSON string "" removes it. Moving a client onto
	// private_key_jwt removes its secret; moving it off, its keys (rotate
	// the secret to give it one).
	TokenEndpointAuthMethod     *string          `json:"token_endpoint_auth_method"`
	TokenEndpointAuthSigningAlg *string          `json:"token_endpoint_auth_signing_alg"`
	JWKS                        *json.RawMessage `json:"jwks"`
	JWKSURI                     *string          `json:"jwks_uri"`
	RequirePAR                  *bool            `json:"require_pushed_authorization_requests"`
	RequirePKCE                 *bool            `json:"require_pkce"`
	// LegacyCredentials is what the password grant accepts: "token",
	// "app_password" or "both".
	LegacyCredentials *string `json:"legacy_credentials"`
}

// Create validates in and stores a new client with a random id, writing
// the audit entry in the same transaction. For a confidential client it
// returns the generated secret, which is stored only as its hash and
// cannot be read again; a public client gets none and secret is "".
// Validation failures are *apperr.Error values for their field.
func (s *Service) Create(ctx context.Context, actor string, in NewClient) (c models.Client, secret string, err error) {
	c = models.Client{
		Name:              strings.TrimSpace(in.Name),
		GrantTypes:        cleanList(in.GrantTypes),
		RedirectURIs:      cleanList(in.RedirectURIs),
		Scopes:            cleanList(in.Scopes),
		Audience:          cleanList(in.Audience),
		Public:            in.Public,
		FirstParty:        in.FirstParty,
		AccessTokenFormat: cmp.Or(strings.TrimSpace(in.AccessTokenFormat), oauth.FormatOpaque),
		IDTokenAlg:        cmp.Or(strings.TrimSpace(in.IDTokenAlg), oauth.AlgRS256),
		AccessTokenAlg:    cmp.Or(strings.TrimSpace(in.AccessTokenAlg), oauth.AlgRS256),
		LegacyCredentials: cmp.Or(strings.TrimSpace(in.LegacyCredentials), models.LegacyToken),
	}
	setLogout(&c, in.Logout)
	setAuth(&c, in.Auth)
	if err := validate(c, true); err != nil {
		return models.Client{}, "", err
	}
	c.ResponseTypes = responseTypes(c.GrantTypes)
	c.Scopes = withOfflineAccess(c.GrantTypes, c.Scopes)
	raw, err := randomBytes(16)
	if err != nil {
		return models.Client{}, "", fmt.Errorf("create client: %w", err)
	}
	c.ID = hex.EncodeToString(raw)
	if !c.Public && c.TokenEndpointAuthMethod != oauth.AuthPrivateKeyJWT {
		if secret, c.SecretHash, err = s.newSecret(ctx); err != nil {
			return models.Client{}, "", fmt.Errorf("create client: %w", err)
		}
	}
	c.CreatedAt = s.now()
	c.UpdatedAt = c.CreatedAt
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.CreateClient(ctx, &c); err != nil {
			return err
		}
		return s.store.Audit(ctx, actor, ActionCreate, c.ID, describe(c))
	})
	if err != nil {
		return models.Client{}, "", fmt.Errorf("create client %q: %w", c.Name, err)
	}
	return c, secret, nil
}

// Get returns the client with id, or an error wrapping ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (models.Client, error) {
	c, err := s.store.ClientByID(ctx, id)
	if err != nil {
		return models.Client{}, fmt.Errorf("get client %q: %w", id, notFound(err))
	}
	return c, nil
}

// List returns every client ordered by name, then id.
func (s *Service) List(ctx context.Context) ([]models.Client, error) {
	out, err := s.store.ListClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	if out == nil {
		out = []models.Client{}
	}
	return out, nil
}

// Update changes the fields of up that are not nil, with the same rules as
// Create applied to the resulting client, and records what changed in the
// audit log, in one transaction: an invalid field changes nothing.
// Changing GrantTypes may add or remove the password grant, just as
// SetLegacy does. A protected client (the console's) is ErrProtected.
func (s *Service) Update(ctx context.Context, actor, id string, up ClientUpdate) (models.Client, error) {
	var c models.Client
	err := s.change(ctx, id, &c, func(ctx context.Context) (bool, error) {
		next := c
		if up.Name != nil {
			next.Name = strings.TrimSpace(*up.Name)
		}
		if up.RedirectURIs != nil {
			next.RedirectURIs = cleanList(*up.RedirectURIs)
		}
		if up.Scopes != nil {
			next.Scopes = cleanList(*up.Scopes)
		}
		if up.GrantTypes != nil {
			next.GrantTypes = cleanList(*up.GrantTypes)
			next.ResponseTypes = responseTypes(next.GrantTypes)
		}
		if up.FirstParty != nil {
			next.FirstParty = *up.FirstParty
		}
		if up.AccessTokenFormat != nil {
			next.AccessTokenFormat = cmp.Or(strings.TrimSpace(*up.AccessTokenFormat), oauth.FormatOpaque)
		}
		if up.IDTokenAlg != nil {
			next.IDTokenAlg = cmp.Or(strings.TrimSpace(*up.IDTokenAlg), oauth.AlgRS256)
		}
		if up.AccessTokenAlg != nil {
			next.AccessTokenAlg = cmp.Or(strings.TrimSpace(*up.AccessTokenAlg), oauth.AlgRS256)
		}
		applyLogout(&next, up)
		if up.RequireMFA != nil {
			next.RequireMFA = *up.RequireMFA
		}
		if err := applySalesforce(&next, up); err != nil {
			return false, err
		}
		applyAuth(&next, up)
		if up.LegacyCredentials != nil {
			next.LegacyCredentials = cmp.Or(strings.TrimSpace(*up.LegacyCredentials), models.LegacyToken)
		}
		if err := validate(next, up.GrantTypes != nil); err != nil {
			return false, err
		}
		next.Scopes = withOfflineAccess(next.GrantTypes, next.Scopes)
		changes := diff(c, next)
		if len(changes) == 0 {
			return false, nil
		}
		c = next
		return true, s.store.Audit(ctx, actor, ActionUpdate, c.ID, strings.Join(changes, "; "))
	})
	if err != nil {
		return models.Client{}, wrapUnlessField(err, "update client %q", id)
	}
	return c, nil
}

// Delete removes the client with id together with its stored tokens,
// authorization codes and consents. Its login history stays.
func (s *Service) Delete(ctx context.Context, actor, id string) error {
	if slices.Contains(s.protected, id) {
		return fmt.Errorf("delete client %q: %w", id, ErrProtected)
	}
	defer s.changed(id)
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		c, err := s.store.LockClient(ctx, id)
		if err != nil {
			return notFound(err)
		}
		if err := s.store.DeleteClient(ctx, c.ID); err != nil {
			return notFound(err)
		}
		return s.store.Audit(ctx, actor, ActionDelete, c.ID, fmt.Sprintf("name=%q", c.Name))
	})
	if err != nil {
		return fmt.Errorf("delete client %q: %w", id, err)
	}
	return nil
}

// RotateSecret gives a confidential client a new generated secret and
// returns it; the old secret stops working when the change commits. Tokens
// already issued stay valid. A public client gets ErrPublicClient.
func (s *Service) RotateSecret(ctx context.Context, actor, id string) (string, error) {
	secret, hash, err := s.newSecret(ctx)
	if err != nil {
		return "", fmt.Errorf("rotate secret of client %q: %w", id, err)
	}
	var c models.Client
	err = s.change(ctx, id, &c, func(ctx context.Context) (bool, error) {
		if c.Public {
			return false, ErrPublicClient
		}
		if c.TokenEndpointAuthMethod == oauth.AuthPrivateKeyJWT {
			return false, ErrKeyClient
		}
		c.SecretHash = hash
		return true, s.store.Audit(ctx, actor, ActionRotateSecret, c.ID, "secret replaced")
	})
	if err != nil {
		return "", fmt.Errorf("rotate secret of client %q: %w", id, err)
	}
	return secret, nil
}

// SetLegacy switches the legacy password grant on or off for the client
// with id: the switch is the presence of the password grant type. Enabling
// it for a public client is an apperr field error. Disabling always succeeds, even
// when it leaves the client without any grant type. A call that changes
// nothing writes no audit entry.
func (s *Service) SetLegacy(ctx context.Context, actor, id string, enabled bool) (models.Client, error) {
	var c models.Client
	err := s.change(ctx, id, &c, func(ctx context.Context) (bool, error) {
		has := slices.Contains(c.GrantTypes, GrantPassword)
		if has == enabled {
			return false, nil
		}
		action := ActionLegacyDisable
		if enabled {
			if c.Public {
				return false, apperr.Field("grant_types", "a public client cannot use the legacy password grant: it has no secret to authenticate with")
			}
			c.GrantTypes = append(slices.Clone(c.GrantTypes), GrantPassword)
			action = ActionLegacyEnable
		} else {
			c.GrantTypes = slices.DeleteFunc(slices.Clone(c.GrantTypes), func(g string) bool { return g == GrantPassword })
		}
		return true, s.store.Audit(ctx, actor, action, c.ID, "grant_types="+strings.Join(c.GrantTypes, ","))
	})
	if err != nil {
		return models.Client{}, wrapUnlessField(err, "set legacy grant of client %q", id)
	}
	return c, nil
}

// SetSunset sets the moment the legacy password grant ends for the client
// with id; nil clears it. Setting the first sunset also records now as
// LegacyDeprecatedAt, the moment the deprecation was announced (the
// Deprecation header); clearing the sunset clears both. A change that
// would leave a scheduled brownout at or after the sunset (or without one)
// is refused with ErrBrownoutsBlockSunset. A sunset may be set
// whether or not the grant is enabled, and may lie in the past (the grant
// then ends at once).
func (s *Service) SetSunset(ctx context.Context, actor, id string, at *time.Time) (models.Client, error) {
	var sunset *time.Time
	if at != nil {
		t := at.UTC().Truncate(time.Microsecond)
		sunset = &t
	}
	var c models.Client
	err := s.change(ctx, id, &c, func(ctx context.Context) (bool, error) {
		if sunset == nil && c.LegacySunset == nil || sunset != nil && c.LegacySunset != nil && sunset.Equal(*c.LegacySunset) {
			return false, nil
		}
		if err := s.sunsetKeepsBrownouts(ctx, c.ID, sunset); err != nil {
			return false, err
		}
		c.LegacySunset = sunset
		detail := "sunset cleared"
		if sunset == nil {
			c.LegacyDeprecatedAt = nil
		} else {
			// The deprecation was announced when the first sunset was set;
			// moving the date later does not announce it again.
			if c.LegacyDeprecatedAt == nil {
				now := s.now()
				c.LegacyDeprecatedAt = &now
			}
			detail = "sunset=" + sunset.Format(time.RFC3339)
		}
		return true, s.store.Audit(ctx, actor, ActionLegacySunset, c.ID, detail)
	})
	if err != nil {
		return models.Client{}, fmt.Errorf("set legacy sunset of client %q: %w", id, err)
	}
	return c, nil
}

// change reads the client with id into *c under a row lock, lets fn modify
// it and, if fn reports a change, saves it, all in one transaction. A
// protected client is never changed: authgate maintains it.
func (s *Service) change(ctx context.Context, id string, c *models.Client, fn func(ctx context.Context) (bool, error)) error {
	if slices.Contains(s.protected, id) {
		return ErrProtected
	}
	defer s.changed(id)
	return s.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		if *c, err = s.store.LockClient(ctx, id); err != nil {
			return notFound(err)
		}
		changed, err := fn(ctx)
		if err != nil || !changed {
			return err
		}
		c.UpdatedAt = s.now()
		// SaveClient reads back what the database holds (UpdatedAt in particular).
		return s.store.SaveClient(ctx, c)
	})
}

func (s *Service) changed(id string) {
	if s.onAlter != nil {
		s.onAlter(id)
	}
}

// newSecret draws a secret and hashes it.
func (s *Service) newSecret(ctx context.Context) (secret, hash string, err error) {
	raw, err := randomBytes(SecretBytes)
	if err != nil {
		return "", "", err
	}
	secret = base64.RawURLEncoding.EncodeToString(raw)
	h, err := s.hasher.Hash(ctx, []byte(secret))
	if err != nil {
		return "", "", fmt.Errorf("hash client secret: %w", err)
	}
	return secret, string(h), nil
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("read random bytes: %w", err)
	}
	return b, nil
}

// notFound maps storage's not-found error to ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// wrapUnlessField adds context to err unless it is a field error, which
// already reads well on its own ("redirect_uris: ...").
func wrapUnlessField(err error, format string, args ...any) error {
	if e, ok := apperr.As(err); ok && e.Field != "" {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// describe summarises a client for the audit log; it never includes the
// secret hash.
func describe(c models.Client) string {
	return fmt.Sprintf("name=%q grant_types=%s redirect_uris=%s scopes=%s audience=%s public=%t first_party=%t access_token_format=%s legacy_credentials=%s",
		c.Name, strings.Join(c.GrantTypes, ","), strings.Join(c.RedirectURIs, ","), strings.Join(c.Scopes, ","),
		strings.Join(c.Audience, ","), c.Public, c.FirstParty, c.AccessTokenFormat, c.LegacyCredentials) + describeLogout(c) +
		fmt.Sprintf(" id_token_signed_response_alg=%s access_token_signed_response_alg=%s", c.IDTokenAlg, c.AccessTokenAlg) + describeAuth(c)
}

// diff lists the changes between a and b that Update can make.
func diff(a, b models.Client) []string {
	var out []string
	if a.Name != b.Name {
		out = append(out, fmt.Sprintf("name %q -> %q", a.Name, b.Name))
	}
	for _, f := range []struct {
		name string
		a, b []string
	}{
		{"grant_types", a.GrantTypes, b.GrantTypes},
		{"redirect_uris", a.RedirectURIs, b.RedirectURIs},
		{"scopes", a.Scopes, b.Scopes},
	} {
		if !slices.Equal(f.a, f.b) {
			out = append(out, fmt.Sprintf("%s %s -> %s", f.name, strings.Join(f.a, ","), strings.Join(f.b, ",")))
		}
	}
	if a.FirstParty != b.FirstParty {
		out = append(out, fmt.Sprintf("first_party %t -> %t", a.FirstParty, b.FirstParty))
	}
	if a.AccessTokenFormat != b.AccessTokenFormat {
		out = append(out, fmt.Sprintf("access_token_format %s -> %s", a.AccessTokenFormat, b.AccessTokenFormat))
	}
	if a.IDTokenAlg != b.IDTokenAlg {
		out = append(out, fmt.Sprintf("id_token_signed_response_alg %s -> %s", a.IDTokenAlg, b.IDTokenAlg))
	}
	if a.AccessTokenAlg != b.AccessTokenAlg {
		out = append(out, fmt.Sprintf("access_token_signed_response_alg %s -> %s", a.AccessTokenAlg, b.AccessTokenAlg))
	}
	if a.RequireMFA != b.RequireMFA {
		out = append(out, fmt.Sprintf("require_mfa %t -> %t", a.RequireMFA, b.RequireMFA))
	}
	out = append(out, diffSalesforce(a, b)...)
	if describeAuth(a) != describeAuth(b) || a.JWKS != b.JWKS {
		out = append(out, "auth"+describeAuth(a)+" ->"+describeAuth(b))
	}
	if a.LegacyCredentials != b.LegacyCredentials {
		out = append(out, fmt.Sprintf("legacy_credentials %s -> %s", a.LegacyCredentials, b.LegacyCredentials))
	}
	if describeLogout(a) != describeLogout(b) {
		out = append(out, "logout"+describeLogout(a)+" ->"+describeLogout(b))
	}
	return out
}
