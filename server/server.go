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
	ResetToken(ctx context.Context, actor, username string, byUser bool) error
	// ChangeOwnPassword ends the user's browser sessions but
	// exceptSession (a session's IDHash; empty ends them all).
	ChangeOwnPassword(ctx context.Context, userID, exceptSession, current, newPassword string) error
}

// Deps are the parts the public server is built from.
type Deps struct {
	Logger   *slog.Logger
	Config   config.Config
	Store    Store
	Keys     *keyring.Keyring
	Provider *oauth.Provider
	Users    Users
	ClientIP *clientip.Resolver
	// Ready reports whether the server can serve (the database answers).
	Ready func(ctx context.Context) error
	// Metrics counts requests and grants; optional.
	Metrics *metrics.Metrics
	// TokenResponseHook may add headers to a successful token response
	// (the legacy grant's Deprecation and Sunset headers); optional.
	TokenResponseHook func(w http.ResponseWriter, ar fosite.AccessRequester)
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
		limits:   newLimits(d.Config.RateLimit),
	}
	if err := s.buildDiscovery(); err != nil {
		return nil, fmt.Errorf("build discovery documents: %w", err)
	}
	return s.routes(), nil
}
