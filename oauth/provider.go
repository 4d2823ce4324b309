package oauth

import (
	"context"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/token/hmac"
	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/authgate/authgate/internal/keyring"
)

// Scopes authgate knows. AdminScope grants the admin API. IntrospectScope
// in a client's registration makes it a resource server: it may introspect
// every token, where other clients see only their own.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeOfflineAccess = "offline_access"
	AdminScope         = "authgate:admin"
	IntrospectScope    = "authgate:introspect"
)

// SupportedScopes lists every scope the server can grant.
var SupportedScopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeOfflineAccess, AdminScope, IntrospectScope}

// Settings are the provider's lifetimes and issuer.
type Settings struct {
	Issuer                string
	AccessTokenLifespan   time.Duration
	RefreshTokenLifespan  time.Duration
	AuthorizeCodeLifespan time.Duration
	IDTokenLifespan       time.Duration
}

// Provider is the assembled fosite provider and the parts the HTTP layer
// needs beside it.
type Provider struct {
	fosite.OAuth2Provider
	Config   *fosite.Config
	Store    *Store
	Keys     *KeyManager
	Strategy *TokenStrategy
	Hasher   *SecretHasher
}

// NewProvider wires fosite explicitly: authorization code with PKCE,
// refresh tokens, client credentials, OpenID Connect, introspection and
// revocation. Each extra constructor builds one more token handler from
// the assembled provider (the legacy password grant uses this); fosite's
// deprecated built-in password handler is never added.
func NewProvider(s Settings, store *Store, keys *KeyManager, keyring *keyring.Keyring, hasher *SecretHasher, extra ...func(*Provider) fosite.TokenEndpointHandler) *Provider {
	cfg := &fosite.Config{
		IDTokenIssuer:                  s.Issuer,
		AccessTokenIssuer:              s.Issuer,
		TokenURL:                       s.Issuer + "/oauth2/token",
		AccessTokenLifespan:            s.AccessTokenLifespan,
		RefreshTokenLifespan:           s.RefreshTokenLifespan,
		AuthorizeCodeLifespan:          s.AuthorizeCodeLifespan,
		IDTokenLifespan:                s.IDTokenLifespan,
		GlobalSecret:                   keyring.Key("fosite-hmac"),
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:       fosite.DefaultAudienceMatchingStrategy,
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		RefreshTokenScopes:             []string{ScopeOfflineAccess},
		SendDebugMessagesToClients:     false,
		ClientSecretsHasher:            hasher,
		MinParameterEntropy:            fosite.MinParameterEntropy,
		AllowedPromptValues:            []string{"login", "none", "consent"},
	}
	hmacStrategy := oauth2.NewHMACSHAStrategy(&hmac.HMACStrategy{Config: cfg}, cfg)
	strategy := NewTokenStrategy(hmacStrategy, keys, s.Issuer)
	signer := &fjwt.DefaultSigner{GetPrivateKey: keys.SigningKey}
	idTokens := &openid.DefaultStrategy{Signer: signer, Config: cfg}
	idHelper := &openid.IDTokenHandleHelper{IDTokenStrategy: idTokens}

	codeHandler := &oauth2.AuthorizeExplicitGrantHandler{
		AccessTokenStrategy:    strategy,
		RefreshTokenStrategy:   strategy,
		AuthorizeCodeStrategy:  strategy,
		CoreStorage:            store,
		TokenRevocationStorage: store,
		Config:                 cfg,
	}
	clientCredentials := &oauth2.ClientCredentialsGrantHandler{
		HandleHelper: &oauth2.HandleHelper{AccessTokenStrategy: strategy, AccessTokenStorage: store, Config: cfg},
		Config:       cfg,
	}
	refresh := &oauth2.RefreshTokenGrantHandler{
		AccessTokenStrategy:    strategy,
		RefreshTokenStrategy:   strategy,
		TokenRevocationStorage: store,
		Config:                 cfg,
	}
	oidcExplicit := &openid.OpenIDConnectExplicitHandler{
		OpenIDConnectRequestStorage:   store,
		IDTokenHandleHelper:           idHelper,
		OpenIDConnectRequestValidator: openid.NewOpenIDConnectRequestValidator(signer, cfg),
		Config:                        cfg,
	}
	oidcRefresh := &openid.OpenIDConnectRefreshHandler{IDTokenHandleHelper: idHelper, Config: cfg}
	pkceHandler := &pkce.Handler{AuthorizeCodeStrategy: strategy, Storage: store, Config: cfg}
	introspector := &oauth2.CoreValidator{CoreStrategy: strategy, CoreStorage: store, Config: cfg}
	revoker := &oauth2.TokenRevocationHandler{
		TokenRevocationStorage: store,
		AccessTokenStrategy:    strategy,
		RefreshTokenStrategy:   strategy,
	}

	cfg.AuthorizeEndpointHandlers = fosite.AuthorizeEndpointHandlers{codeHandler, oidcExplicit, pkceHandler}
	cfg.TokenEndpointHandlers = fosite.TokenEndpointHandlers{codeHandler, clientCredentials, refresh, oidcExplicit, oidcRefresh, pkceHandler}
	cfg.TokenIntrospectionHandlers = fosite.TokenIntrospectionHandlers{introspector}
	cfg.RevocationHandlers = fosite.RevocationHandlers{revoker}

	p := &Provider{
		OAuth2Provider: fosite.NewOAuth2Provider(store, cfg),
		Config:         cfg,
		Store:          store,
		Keys:           keys,
		Strategy:       strategy,
		Hasher:         hasher,
	}
	for _, build := range extra {
		cfg.TokenEndpointHandlers = append(cfg.TokenEndpointHandlers, build(p))
	}
	return p
}

// HandleHelper returns fosite's helper for minting access tokens, for
// token handlers outside this package (the legacy grant).
func (p *Provider) HandleHelper() *oauth2.HandleHelper {
	return &oauth2.HandleHelper{AccessTokenStrategy: p.Strategy, AccessTokenStorage: p.Store, Config: p.Config}
}

// Client returns the registered client id (cached briefly, see
// Store.GetClient).
func (p *Provider) Client(ctx context.Context, id string) (fosite.Client, error) {
	return p.Store.GetClient(ctx, id)
}
