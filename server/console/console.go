package console

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/mfa"
	"github.com/authgate/authgate/internal/trustedips"
	"github.com/authgate/authgate/internal/workbench"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
	"github.com/authgate/authgate/server/web"
)

// ClientID is the OAuth client the console signs in as.
const ClientID = "authgate-admin-console"

// clientName is the console client's display name on the login page.
const clientName = "authgate admin console"

// CallbackPath is where the issuer sends the browser back after sign-in.
const CallbackPath = "/admin/callback"

// signedOutPath is where the end_session_endpoint sends the browser back
// to after a sign-out everywhere: the console client's one registered
// post-logout redirect URI.
const signedOutPath = "/admin/signed-out"

// maxSession caps a console session whatever Config.SessionLifespan says:
// administrators sign in again at least once a working day.
const maxSession = 8 * time.Hour

// Deps are what the console is built from.
type Deps struct {
	Logger   *slog.Logger
	Config   config.Config
	Store    web.SessionStore
	Keys     *keyring.Keyring
	Accounts *accounts.Service
	Clients  *clients.Service
	Trust    *trustedips.Ranges
	// AuditLog is the audit log the console shows; nil means Store, when
	// it is one (*storage.Store is).
	AuditLog AuditLog
	// TokenTransport carries the console's requests to the issuer's token,
	// userinfo and JWKS endpoints. The issuer URL may not be reachable from
	// the server itself, so the caller may route them in-process. Nil means
	// http.DefaultTransport.
	TokenTransport http.RoundTripper
	// Workbench and WorkbenchActor are the migration workbench and its
	// actions; without them the console has no workbench page.
	Workbench      *workbench.Service
	WorkbenchActor *workbench.Actor
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// MFA lists and resets users' second factors; nil hides them.
	MFA MFA
	// AppPasswords lists and revokes users' app passwords; nil hides them.
	AppPasswords AppPasswords
}

// AppPasswords is what the console needs of the app passwords
// (apppasswords.Service).
type AppPasswords interface {
	List(ctx context.Context, userID string, withRevoked bool) ([]models.AppPassword, error)
	Revoke(ctx context.Context, actor, userID, id string) error
}

// MFA is what the console needs of the second factors (mfa.Service).
type MFA interface {
	List(ctx context.Context, userID string) (mfa.Factors, error)
	Reset(ctx context.Context, actor string, u models.User) (bool, error)
}

// console serves the pages. Its fields are fixed at New.
type console struct {
	Deps
	pages    *web.Renderer[page]
	oauth    *oauth2.Config
	http     *http.Client
	verifier *oidc.IDTokenVerifier
	sessions *web.Sessions
	lifespan time.Duration
}

// New returns the console's handler. It serves every path under /admin/
// (mount it at "/admin/"; a more specific mount such as "/admin/api/"
// takes precedence in an http.ServeMux). Call EnsureClient before serving,
// so the console's OAuth client exists.
func New(d Deps) (http.Handler, error) {
	switch {
	case d.Store == nil || d.Keys == nil || d.Accounts == nil || d.Clients == nil || d.Trust == nil:
		return nil, errors.New("console: Store, Keys, Accounts, Clients and Trust are required")
	case d.Config.Issuer == "" || d.Config.AdminURL == "":
		return nil, errors.New("console: Config.Issuer and Config.AdminURL are required")
	}
	if d.AuditLog == nil {
		al, ok := d.Store.(AuditLog)
		if !ok {
			return nil, errors.New("console: AuditLog is required when Store cannot list the audit log")
		}
		d.AuditLog = al
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	transport := d.TokenTransport
	if transport == nil {
		transport = http.DefaultTransport
	}
	pages, err := newRenderer(d.Logger)
	if err != nil {
		return nil, err
	}
	issuer := strings.TrimRight(d.Config.Issuer, "/")
	adminURL := strings.TrimRight(d.Config.AdminURL, "/")
	httpClient := &http.Client{Transport: transport, Timeout: 15 * time.Second}
	lifespan := d.Config.SessionLifespan
	if lifespan <= 0 || lifespan > maxSession {
		lifespan = maxSession
	}
	c := &console{
		Deps:  d,
		pages: pages,
		oauth: &oauth2.Config{
			ClientID:     ClientID,
			ClientSecret: clientSecret(d.Keys),
			Endpoint: oauth2.Endpoint{
				AuthURL:   issuer + "/oauth2/authorize",
				TokenURL:  issuer + "/oauth2/token",
				AuthStyle: oauth2.AuthStyleInHeader,
			},
			RedirectURL: adminURL + CallbackPath,
			Scopes:      consoleScopes(),
		},
		http: httpClient,
		// The key set fetches the JWKS through the same transport when it
		// first verifies an ID token.
		verifier: oidc.NewVerifier(issuer,
			oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), httpClient), issuer+"/.well-known/jwks.json"),
			&oidc.Config{ClientID: ClientID, Now: d.Now}),
		sessions: newSessions(d.Store, d.Keys, adminURL, lifespan, d.Now),
		lifespan: lifespan,
	}
	return c.routes(), nil
}

func consoleScopes() []string {
	return []string{oauth.ScopeOpenID, oauth.ScopeProfile, oauth.AdminScope}
}

// clientSecret is the console client's secret. It is derived from the
// system secret, so every replica knows it without storing it, and it never
// leaves the process: the console redeems its codes in-process.
func clientSecret(keys *keyring.Keyring) string {
	return base64.RawURLEncoding.EncodeToString(keys.Key("console-client-secret"))
}

// ClientUpserter writes the console's client; *storage.Store is one.
type ClientUpserter interface {
	UpsertClient(ctx context.Context, c *models.Client) error
}

// EnsureClient creates the console's OAuth client, or brings it back to
// what the console needs when it exists: a confidential, first-party client
// whose only redirect URI is adminURL + "/admin/callback", matched exactly.
// It is confidential so that a code obtained for it (a process listening on
// the administrator's machine, a leaked URL) cannot be redeemed by anyone
// but the console. It is one upsert, so replicas starting together do not
// race.
func EnsureClient(ctx context.Context, store ClientUpserter, keys *keyring.Keyring, adminURL string) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	hash, err := (&oauth.SecretHasher{Keys: keys}).Hash(ctx, []byte(clientSecret(keys)))
	if err != nil {
		return fmt.Errorf("ensure console client: %w", err)
	}
	c := models.Client{
		ID:                     ClientID,
		Name:                   clientName,
		SecretHash:             string(hash),
		Public:                 false,
		FirstParty:             true,
		GrantTypes:             []string{clients.GrantAuthorizationCode},
		ResponseTypes:          []string{"code"},
		RedirectURIs:           []string{strings.TrimRight(adminURL, "/") + CallbackPath},
		PostLogoutRedirectURIs: []string{strings.TrimRight(adminURL, "/") + signedOutPath},
		Scopes:                 consoleScopes(),
		Audience:               []string{},
		AccessTokenFormat:      oauth.FormatOpaque,
		CreatedAt:              now,
		UpdatedAt:              now,
	}
	if err := store.UpsertClient(ctx, &c); err != nil {
		return fmt.Errorf("ensure console client: %w", err)
	}
	return nil
}
