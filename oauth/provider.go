package oauth

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/par"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/token/hmac"

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
	// ClientJWKS tunes the fetching of private_key_jwt clients' jwks_uri.
	ClientJWKS JWKSOptions
	// PARLifetime is how long a pushed authorization request can be used;
	// default DefaultPARLifetime.
	PARLifetime time.Duration
}

// providerConfig is fosite's configuration with the audiences a client
// assertion may name: the token endpoint (RFC 7523), the issuer (which
// OpenID Connect client libraries send) and the PAR endpoint (RFC 9126
// section 2).
type providerConfig struct {
	*fosite.Config
	audiences []string
}

// GetTokenURLs returns the audiences a client assertion may name.
func (c *providerConfig) GetTokenURLs(context.Context) []string { return c.audiences }

// Provider is the assembled fosite provider. It keeps its parts (store,
// strategy, configuration) to itself: the HTTP layer gets the narrow
// methods below, which hold the transactions a request needs, so that no
// caller drives a store transaction.
type Provider struct {
	fosite   *fosite.Fosite
	store    *Store
	keys     *KeyManager
	strategy *TokenStrategy
}

// TokenHandlerFactory builds one more token endpoint handler from the
// provider's parts, the way fosite's compose factories do, but typed: the
// legacy password grant is built this way.
type TokenHandlerFactory func(cfg *fosite.Config, store *Store, strategy *TokenStrategy) fosite.TokenEndpointHandler

// NewProvider wires fosite explicitly: authorization code with PKCE,
// refresh tokens, client credentials, OpenID Connect, introspection and
// revocation, then one handler from each extra factory (the legacy
// password grant); fosite's deprecated built-in password handler is never
// added.
func NewProvider(s Settings, store *Store, keys *KeyManager, keyring *keyring.Keyring, hasher *SecretHasher, extra ...TokenHandlerFactory) *Provider {
	cfg := &fosite.Config{
		IDTokenIssuer:                   s.Issuer,
		AccessTokenIssuer:               s.Issuer,
		TokenURL:                        s.Issuer + "/oauth2/token",
		AccessTokenLifespan:             s.AccessTokenLifespan,
		RefreshTokenLifespan:            s.RefreshTokenLifespan,
		AuthorizeCodeLifespan:           s.AuthorizeCodeLifespan,
		IDTokenLifespan:                 s.IDTokenLifespan,
		GlobalSecret:                    keyring.Key("fosite-hmac"),
		ScopeStrategy:                   fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:        fosite.DefaultAudienceMatchingStrategy,
		EnforcePKCEForPublicClients:     true,
		EnablePKCEPlainChallengeMethod:  false,
		RefreshTokenScopes:              []string{ScopeOfflineAccess},
		SendDebugMessagesToClients:      false,
		ClientSecretsHasher:             hasher,
		MinParameterEntropy:             fosite.MinParameterEntropy,
		AllowedPromptValues:             []string{"login", "none", "consent"},
		JWKSFetcherStrategy:             NewJWKSFetcher(s.ClientJWKS),
		PushedAuthorizeRequestURIPrefix: PARPrefix,
		PushedAuthorizeContextLifespan:  cmp.Or(s.PARLifetime, DefaultPARLifetime),
	}
	hmacStrategy := oauth2.NewHMACSHAStrategy(&hmac.HMACStrategy{Config: cfg}, cfg)
	strategy := NewTokenStrategy(hmacStrategy, keys, s.Issuer)
	store.codeSignature = strategy.AuthorizeCodeSignature
	signer := keys.Signer()
	idHelper := newIDTokenHelper(keys, cfg)

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
	cfg.TokenEndpointHandlers = gateTokenHandlers(codeHandler, clientCredentials, refresh, oidcExplicit, oidcRefresh, pkceHandler)
	cfg.TokenIntrospectionHandlers = fosite.TokenIntrospectionHandlers{introspector}
	cfg.RevocationHandlers = fosite.RevocationHandlers{revoker}
	cfg.PushedAuthorizeEndpointHandlers = fosite.PushedAuthorizeEndpointHandlers{&par.PushedAuthorizeHandler{Storage: store, Config: cfg}}

	f := fosite.NewOAuth2Provider(store, &providerConfig{Config: cfg, audiences: []string{cfg.TokenURL, s.Issuer, s.Issuer + "/oauth2/par"}})
	// A client authenticated before the exchange's transaction began is
	// not authenticated again inside it (see Token).
	cfg.ClientAuthenticationStrategy = func(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
		if c, ok := ctx.Value(authenticatedClientKey{}).(fosite.Client); ok {
			return c, nil
		}
		assertion := form.Get("client_assertion_type") != ""
		if assertion {
			if err := checkAssertionTimes(form.Get("client_assertion"), time.Now()); err != nil {
				return nil, err
			}
		}
		c, err := f.DefaultClientAuthenticationStrategy(ctx, r, form)
		var rfc *fosite.RFC6749Error
		if err != nil && assertion && !errors.As(err, &rfc) {
			// fosite passes some failures to verify an assertion on bare.
			return nil, fosite.ErrInvalidClient.WithHint("The client assertion could not be verified.").WithDebug(err.Error())
		}
		if err == nil && !assertion {
			if _, keys := c.(keyClient); keys {
				// fosite would take a private_key_jwt client's missing
				// secret as a wrong one; say what is wrong.
				return nil, fosite.ErrInvalidClient.WithHint("This client authenticates with private_key_jwt: send a client_assertion.")
			}
		}
		return c, err
	}
	for _, build := range extra {
		cfg.TokenEndpointHandlers = append(cfg.TokenEndpointHandlers, build(cfg, store, strategy))
	}
	return &Provider{fosite: f, store: store, keys: keys, strategy: strategy}
}

// JWKS returns the encoded public signing keys and an ETag for them, from
// memory.
func (p *Provider) JWKS(ctx context.Context) ([]byte, string, error) {
	return p.keys.JWKSWithETag(ctx)
}

// NewAuthorizeRequest parses and checks an authorization request. A
// request that names a pushed request's request_uri is that request:
// every other parameter but client_id is ignored (RFC 9126 section 4).
// Request objects are not supported.
func (p *Provider) NewAuthorizeRequest(ctx context.Context, r *http.Request) (fosite.AuthorizeRequester, error) {
	if err := r.ParseForm(); err == nil {
		if uri := r.Form.Get("request_uri"); strings.HasPrefix(uri, PARPrefix) {
			r.Form = url.Values{"client_id": {r.Form.Get("client_id")}, "request_uri": {uri}}
		} else if r.Form.Get("request") != "" {
			ar := fosite.NewAuthorizeRequest()
			ar.Form = r.Form
			return ar, fosite.ErrRequestNotSupported.WithHint("Request objects are not supported.")
		}
	}
	return p.fosite.NewAuthorizeRequest(ctx, r)
}

// WriteAuthorizeError answers a failed authorization request.
func (p *Provider) WriteAuthorizeError(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, err error) {
	p.fosite.WriteAuthorizeError(ctx, w, ar, err)
}

// WriteAuthorizeResponse answers an approved authorization request.
func (p *Provider) WriteAuthorizeResponse(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, resp fosite.AuthorizeResponder) {
	p.fosite.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// WriteAccessError answers a failed token request (RFC 6749 section 5.2).
func (p *Provider) WriteAccessError(ctx context.Context, w http.ResponseWriter, ar fosite.AccessRequester, err error) {
	p.fosite.WriteAccessError(ctx, w, ar, err)
}

// WriteAccessResponse answers a token request with its tokens.
func (p *Provider) WriteAccessResponse(ctx context.Context, w http.ResponseWriter, ar fosite.AccessRequester, resp fosite.AccessResponder) {
	p.fosite.WriteAccessResponse(ctx, w, ar, resp)
}

// NewIntrospectionRequest answers an RFC 7662 introspection request.
func (p *Provider) NewIntrospectionRequest(ctx context.Context, r *http.Request, session fosite.Session) (fosite.IntrospectionResponder, error) {
	return p.fosite.NewIntrospectionRequest(ctx, r, session)
}

// WriteIntrospectionError answers a failed introspection request.
func (p *Provider) WriteIntrospectionError(ctx context.Context, w http.ResponseWriter, err error) {
	p.fosite.WriteIntrospectionError(ctx, w, err)
}

// WriteIntrospectionResponse answers an introspection request.
func (p *Provider) WriteIntrospectionResponse(ctx context.Context, w http.ResponseWriter, resp fosite.IntrospectionResponder) {
	p.fosite.WriteIntrospectionResponse(ctx, w, resp)
}

// NewRevocationRequest handles an RFC 7009 revocation request.
func (p *Provider) NewRevocationRequest(ctx context.Context, r *http.Request) error {
	return p.fosite.NewRevocationRequest(ctx, r)
}

// WriteRevocationResponse answers a revocation request.
func (p *Provider) WriteRevocationResponse(ctx context.Context, w http.ResponseWriter, err error) {
	p.fosite.WriteRevocationResponse(ctx, w, err)
}

// IntrospectToken checks a token of the given type and returns its use and
// its request (client, scopes, session).
func (p *Provider) IntrospectToken(ctx context.Context, token string, use fosite.TokenType, session fosite.Session, scopes ...string) (fosite.TokenUse, fosite.AccessRequester, error) {
	return p.fosite.IntrospectToken(ctx, token, use, session, scopes...)
}

// AuthenticateClient authenticates the client of a request whose form is
// parsed, as the token endpoint does (a public client names itself with
// client_id).
func (p *Provider) AuthenticateClient(ctx context.Context, r *http.Request) (fosite.Client, error) {
	return p.fosite.AuthenticateClient(ctx, r, r.PostForm)
}

// Client returns the registered client id (cached briefly, see
// Store.GetClient).
func (p *Provider) Client(ctx context.Context, id string) (fosite.Client, error) {
	return p.store.GetClient(ctx, id)
}

// authenticatedClientKey carries a client Token authenticated before its
// transaction began.
type authenticatedClientKey struct{}

// Token answers a token request: it returns the access request and the
// response to write, or the error to write (with the access request when
// there is one). r's form must be parsed.
//
// An authorization code exchange writes several rows (the code marked
// used, PKCE and OpenID Connect sessions removed, tokens stored): one
// transaction makes them one commit, and fosite's own transactions nest
// inside it. The client is authenticated before the transaction begins,
// so that a bad client never holds a connection (on SQLite, the write
// lock) while it is refused. The transaction is committed on failure too,
// unless a step rolled back, so that what fosite does on a replayed code
// (revoke the tokens it issued) stays done.
func (p *Provider) Token(ctx context.Context, r *http.Request, session fosite.Session) (fosite.AccessRequester, fosite.AccessResponder, error) {
	if r.PostForm.Get("grant_type") != "authorization_code" {
		return p.token(ctx, r, session)
	}
	client, err := p.fosite.AuthenticateClient(ctx, r, r.PostForm)
	if err != nil {
		return nil, nil, err
	}
	ctx = context.WithValue(ctx, authenticatedClientKey{}, client)
	txCtx, err := p.store.BeginTX(ctx)
	if err != nil {
		return nil, nil, fosite.ErrServerError.WithWrap(err)
	}
	done := false
	defer func() {
		if !done { // a handler panicked
			_ = p.store.Rollback(txCtx)
		}
	}()
	ar, resp, err := p.token(txCtx, r, session)
	done = true
	if cErr := p.store.Commit(txCtx); cErr != nil && err == nil {
		return ar, nil, fosite.ErrServerError.WithWrap(cErr)
	}
	return ar, resp, err
}

func (p *Provider) token(ctx context.Context, r *http.Request, session fosite.Session) (fosite.AccessRequester, fosite.AccessResponder, error) {
	ar, err := p.fosite.NewAccessRequest(ctx, r, session)
	if ar == nil && errors.Is(err, fosite.ErrInvalidRequest) {
		// fosite's answer when no handler takes the grant type; RFC 6749
		// section 5.2 calls it unsupported_grant_type.
		return nil, nil, fosite.ErrUnsupportedGrantType.WithWrap(err)
	}
	if err != nil {
		return ar, nil, err
	}
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		for _, scope := range ar.GetRequestedScopes() {
			ar.GrantScope(scope)
		}
		for _, aud := range ar.GetRequestedAudience() {
			ar.GrantAudience(aud)
		}
	}
	resp, err := p.fosite.NewAccessResponse(ctx, ar)
	return ar, resp, err
}

// Authorize issues the authorization response for a request the user
// approved. The code, its PKCE challenge and its OpenID Connect session
// are stored together with what each of also records (the user's consent)
// in its context: one commit, and nothing of it when any step fails.
func (p *Provider) Authorize(ctx context.Context, ar fosite.AuthorizeRequester, session fosite.Session, also ...func(ctx context.Context) error) (fosite.AuthorizeResponder, error) {
	txCtx, err := p.store.BeginTX(ctx)
	if err != nil {
		return nil, fosite.ErrTemporarilyUnavailable.WithWrap(err)
	}
	var resp fosite.AuthorizeResponder
	if Pushed(ar) {
		// The response uses the pushed request up, in this transaction:
		// a request_uri gives one response, on whichever replica.
		err = p.store.usePARSession(txCtx, ar.GetRequestForm().Get("request_uri"))
	}
	if err == nil {
		resp, err = p.fosite.NewAuthorizeResponse(txCtx, ar, session)
	}
	for _, fn := range also {
		if err == nil {
			err = fn(txCtx)
		}
	}
	if err != nil {
		if rbErr := p.store.Rollback(txCtx); rbErr != nil {
			return nil, errors.Join(err, rbErr)
		}
		return nil, err
	}
	if err := p.store.Commit(txCtx); err != nil {
		return nil, err
	}
	return resp, nil
}

// gateTokenHandlers wraps fosite's token endpoint handlers so that a
// handler is asked to populate a response only for a request it can
// handle. fosite asks every handler; each that cannot answers
// errorsx.WithStack(ErrUnknownRequest), and capturing those stack traces
// was about 8% of the server's CPU on a client-credentials token. The
// answer fosite sees is the same (ErrUnknownRequest, which it skips).
func gateTokenHandlers(hs ...fosite.TokenEndpointHandler) fosite.TokenEndpointHandlers {
	out := make(fosite.TokenEndpointHandlers, len(hs))
	for i, h := range hs {
		out[i] = gatedTokenHandler{h}
	}
	return out
}

type gatedTokenHandler struct{ fosite.TokenEndpointHandler }

func (h gatedTokenHandler) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	return h.TokenEndpointHandler.PopulateTokenEndpointResponse(ctx, r, resp)
}

func (h gatedTokenHandler) HandleTokenEndpointRequest(ctx context.Context, r fosite.AccessRequester) error {
	if !h.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	return h.TokenEndpointHandler.HandleTokenEndpointRequest(ctx, r)
}
