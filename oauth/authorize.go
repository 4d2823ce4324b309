package oauth

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/ory/fosite"
)

// CheckAuthorizeRequest applies to an authorization request that fosite's
// NewAuthorizeRequest accepted the rules that the authorization handlers
// wired in NewProvider (code, PKCE, OpenID Connect) would apply only when
// the response is issued: a redirect URI over a secure channel, PKCE for
// public clients and S256 only, redirect_uri and known prompt values for
// OpenID Connect. The HTTP layer calls it before the user is asked to sign
// in or consent, so that a request that will be refused is refused up
// front. The rules that depend on who signed in (prompt and max_age
// against the session, id_token_hint) stay with Authorize.
func (p *Provider) CheckAuthorizeRequest(ctx context.Context, ar fosite.AuthorizeRequester) error {
	cfg := p.fosite.Config
	form := ar.GetRequestForm()
	prompt := fosite.RemoveEmpty(strings.Split(form.Get("prompt"), " "))
	secure := cfg.GetRedirectSecureChecker(ctx)
	if secure == nil {
		secure = fosite.IsRedirectURISecure
	}
	code := ar.GetResponseTypes().ExactOne("code")
	if code && !secure(ctx, ar.GetRedirectURI()) {
		return fosite.ErrInvalidRequest.WithHint("Redirect URL is using an insecure protocol, http is only allowed for hosts with suffix 'localhost', for example: http://myapp.localhost/.")
	}
	if ar.GetResponseTypes().Has("code") {
		if err := checkPKCE(ctx, cfg, form, ar.GetClient()); err != nil {
			return err
		}
	}
	if !code || !ar.GetRequestedScopes().Has(ScopeOpenID) {
		return nil
	}
	if form.Get("redirect_uri") == "" {
		return fosite.ErrInvalidRequest.WithHint("The 'redirect_uri' parameter is required when using OpenID Connect 1.0.")
	}
	if ar.GetClient().IsPublic() && slices.Contains(prompt, "none") && !secure(ctx, ar.GetRedirectURI()) {
		return fosite.ErrConsentRequired.WithHint(`OAuth 2.0 Client is marked public and redirect uri is not considered secure (https missing), but "prompt=none" was requested.`)
	}
	for _, v := range prompt {
		if !slices.Contains(cfg.GetAllowedPrompts(ctx), v) {
			return fosite.ErrInvalidRequest.WithHintf("Used unknown value '%s' for prompt parameter", prompt)
		}
	}
	if slices.Contains(prompt, "none") && len(prompt) > 1 {
		return fosite.ErrInvalidRequest.WithHint("Parameter 'prompt' was set to 'none', but contains other values as well which is not allowed.")
	}
	return nil
}

// checkPKCE is fosite's PKCE rule at the authorization endpoint
// (handler/pkce): a challenge where PKCE is enforced (and for a client
// that requires it: fosite's handler then holds the token request to the
// challenge), and S256 unless plain is enabled.
func checkPKCE(ctx context.Context, cfg fosite.Configurator, form url.Values, client fosite.Client) error {
	challenge, method := form.Get("code_challenge"), form.Get("code_challenge_method")
	if challenge == "" {
		c, _ := ClientOf(client)
		if cfg.GetEnforcePKCE(ctx) || (cfg.GetEnforcePKCEForPublicClients(ctx) && client.IsPublic()) || (c != nil && c.RequirePKCE) {
			return fosite.ErrInvalidRequest.WithHint("This client must include a code_challenge when performing the authorize code flow, but it is missing.")
		}
		return nil
	}
	switch method {
	case "S256":
		return nil
	case "plain", "":
		if cfg.GetEnablePKCEPlainChallengeMethod(ctx) {
			return nil
		}
		return fosite.ErrInvalidRequest.WithHint("Clients must use code_challenge_method=S256, plain is not allowed.")
	default:
		return fosite.ErrInvalidRequest.WithHint("The code_challenge_method is not supported, use S256 instead.")
	}
}
