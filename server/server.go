package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/ory/fosite"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/metrics"
	"github.com/authgate/authgate/internal/passkeys"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
	"github.com/authgate/authgate/server/web"
)

// Users is what the HTTP layer needs of the accounts service.
type Users interface {
	GetUserByID(ctx context.Context, id string) (models.User, error)
	Attempt(ctx context.Context, req signin.Request) (signin.Outcome, error)
	ListLogins(ctx context.Context, f accounts.LoginFilter) ([]models.LoginEvent, int64, error)
	RecordLogin(ctx context.Context, e models.LoginEvent) error
	ResetToken(ctx context.Context, actor, username string, byUser bool) error
	// ChangeOwnPassword ends the user's browser sessions but
	// exceptSession (a session's IDHash; empty ends them all).
	ChangeOwnPassword(ctx context.Context, userID, exceptSession, current, newPassword string) error
}

// Provider is what the HTTP layer needs of the OAuth provider
// (oauth.Provider). Its methods hold the transactions a request needs; the
// HTTP layer never sees the store.
type Provider interface {
	NewAuthorizeRequest(ctx context.Context, r *http.Request) (fosite.AuthorizeRequester, error)
	CheckAuthorizeRequest(ctx context.Context, ar fosite.AuthorizeRequester) error
	Authorize(ctx context.Context, ar fosite.AuthorizeRequester, session fosite.Session, also ...func(ctx context.Context) error) (fosite.AuthorizeResponder, error)
	WriteAuthorizeError(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, err error)
	WriteAuthorizeResponse(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, resp fosite.AuthorizeResponder)
	Token(ctx context.Context, r *http.Request, session fosite.Session) (fosite.AccessRequester, fosite.AccessResponder, error)
	WriteAccessError(ctx context.Context, w http.ResponseWriter, ar fosite.AccessRequester, err error)
	WriteAccessResponse(ctx context.Context, w http.ResponseWriter, ar fosite.AccessRequester, resp fosite.AccessResponder)
	NewIntrospectionRequest(ctx context.Context, r *http.Request, session fosite.Session) (fosite.IntrospectionResponder, error)
	WriteIntrospectionError(ctx context.Context, w http.ResponseWriter, err error)
	WriteIntrospectionResponse(ctx context.Context, w http.ResponseWriter, resp fosite.IntrospectionResponder)
	NewRevocationRequest(ctx context.Context, r *http.Request) error
	WriteRevocationResponse(ctx context.Context, w http.ResponseWriter, err error)
	IntrospectToken(ctx context.Context, token string, use fosite.TokenType, session fosite.Session, scopes ...string) (fosite.TokenUse, fosite.AccessRequester, error)
	Client(ctx context.Context, id string) (fosite.Client, error)
	AuthenticateClient(ctx context.Context, r *http.Request) (fosite.Client, error)
	JWKS(ctx context.Context) ([]byte, string, error)
	NewPushedAuthorizeRequest(ctx context.Context, r *http.Request) (fosite.AuthorizeRequester, error)
	PushAuthorizeRequest(ctx context.Context, ar fosite.AuthorizeRequester) (fosite.PushedAuthorizeResponder, error)
	WritePushedAuthorizeResponse(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, resp fosite.PushedAuthorizeResponder)
	WritePushedAuthorizeError(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, err error)
}

var _ Provider = (*oauth.Provider)(nil)

// Deps are the parts the public server is built from.
type Deps struct {
	Logger   *slog.Logger
	Config   config.Config
	Store    Store
	Keys     *keyring.Keyring
	Provider Provider
	Users    Users
	ClientIP *clientip.Resolver
	// Ready reports whether the server can serve: the database answers and
	// the system secret opens the current signing key (oauth.ErrKeySecret
	// and oauth.ErrNoSigningKey are told apart from an unreachable database).
	Ready func(ctx context.Context) error
	// Metrics counts requests and grants; optional.
	Metrics *metrics.Metrics
	// Device is the device authorization grant; optional (without it
	// the device endpoints are not served).
	Device DeviceFlow
	// TokenResponseHook may add headers to a successful token response
	// (the legacy grant's Deprecation and Sunset headers); optional.
	TokenResponseHook func(w http.ResponseWriter, ar fosite.AccessRequester)
	// Hints checks the end_session_endpoint's id_token_hint.
	Hints HintVerifier
	// LogoutQueued is called after a session ended with back-channel
	// logout tokens queued (it wakes the sender); optional.
	LogoutQueued func()
	// Passkeys registers passkeys and checks their assertions; nil, or
	// disabled, offers none.
	Passkeys *passkeys.Service
	// MFA is the second-factor service; nil turns the second step off.
	MFA MFA
	// Steps stores second steps; required with MFA.
	Steps SecondSteps
	// Links sends and follows the links in emails (forgotten password,
	// email verification and change); nil serves none of their pages.
	Links Links
	// AppPasswords serves /account/app-passwords; nil serves no such page.
	AppPasswords AppPasswords
	// Factors are second-factor kinds beyond TOTP (which MFA brings) that
	// the second step offers: a passkey.
	Factors []Factor
}

// Server is the public listener's handler.
type Server struct {
	Deps
	sessions  *web.Sessions
	pages     *web.Renderer[page]
	discovery []byte
	asMeta    []byte
	discETag  string
	asETag    string
	limits    limits
	// factors are the second-factor kinds, TOTP first.
	factors []Factor
	// deviceStrikes counts wrong user codes per browser session.
	deviceStrikes *strikes
	// linkSlots bounds the forgotten-password requests handled at once.
	linkSlots chan struct{}
}

// New builds the public HTTP handler: OAuth 2.0 and OpenID Connect
// endpoints, login, consent and self-service account pages, health checks.
func New(d Deps) (http.Handler, error) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	pages, err := newRenderer(d.Logger)
	if err != nil {
		return nil, err
	}
	s := &Server{
		Deps:     d,
		pages:    pages,
		sessions: newSessions(d),
		limits:   newLimits(d.Config.RateLimit, d.Config.Links),

		linkSlots: make(chan struct{}, linkWork),
	}
	if d.MFA != nil {
		s.factors = append([]Factor{totpFactor{mfa: d.MFA}}, d.Factors...)
		if d.Passkeys.Enabled() {
			s.factors = append(s.factors, passkeyFactor{s: s})
		}
	}
	s.deviceStrikes = newStrikes(d.Config.Device.MaxCodeAttempts, d.Config.Device.CodeLifespan, nil)
	if err := s.buildDiscovery(); err != nil {
		return nil, fmt.Errorf("build discovery documents: %w", err)
	}
	return s.routes(), nil
}
