package legacy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/authgate/authgate/internal/apppasswords"
	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

// GrantType is the grant this package handles.
const GrantType = "password"

// failureDescription is the one description every credential failure gets.
const failureDescription = "authentication failure"

// Users is what the grant needs of the accounts service: the sign-in core
// decides the attempt; the grant brings its policy (tokenSplit) and
// records the refusals of a client, which are no attempt.
type Users interface {
	Attempt(ctx context.Context, req signin.Request) (signin.Outcome, error)
	TokenMatches(u models.User, candidate string) bool
	RecordLogin(ctx context.Context, e models.LoginEvent) error
}

// TrustedRanges says whether an address is inside a trusted range.
type TrustedRanges interface {
	Contains(ctx context.Context, addr netip.Addr) (bool, error)
}

// Config is what the grant reads of fosite's configuration.
type Config interface {
	fosite.ScopeStrategyProvider
	fosite.AudienceStrategyProvider
	fosite.AccessTokenLifespanProvider
	fosite.RefreshTokenLifespanProvider
}

// PasswordGrant is the legacy password grant as a fosite token handler.
type PasswordGrant struct {
	Helper          *oauth2.HandleHelper
	RefreshStrategy oauth2.RefreshTokenStrategy
	RefreshStorage  oauth2.RefreshTokenStorage
	Config          Config
	Users           Users
	Trusted         TrustedRanges
	// Disabled switches the grant off for every client.
	Disabled bool
	// MigrationURL is where a brownout refusal sends the owners of a
	// client that has no migration guide of its own (empty: none).
	MigrationURL string
	// IsProxy, when set, tells a trusted proxy's own address: a request
	// resolved to it never counts as coming from a trusted range, even if
	// the proxy sits inside one (a malformed X-Forwarded-For stops the
	// walk at the proxy).
	IsProxy func(netip.Addr) bool
	Logger  *slog.Logger
	Now     func() time.Time
	// Observe, when set, is told of every attempt: the client, the
	// login-history result and whether it locked the user (for metrics).
	Observe func(clientID, result string, lockedNow bool)
	// Codes, when set, accepts a user's TOTP code in place of the security
	// token, and holds users and clients that require MFA to it.
	Codes Codes
	// ObserveMFA, when set, is told of every attempt decided by a TOTP
	// code: the factor and the result (for metrics).
	ObserveMFA func(factor, result string)
	// AppPasswords, when set, accepts app passwords for the clients whose
	// legacy credentials allow them.
	AppPasswords AppPasswords
}

var _ fosite.TokenEndpointHandler = (*PasswordGrant)(nil)

// New builds the grant on the provider's parts; it has the shape of an
// oauth.TokenHandlerFactory once users, trusted, disabled and logger are
// bound.
func New(cfg *fosite.Config, store *oauth.Store, strategy *oauth.TokenStrategy, users Users, trusted TrustedRanges, disabled bool, logger *slog.Logger) *PasswordGrant {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &PasswordGrant{
		Helper:          &oauth2.HandleHelper{AccessTokenStrategy: strategy, AccessTokenStorage: store, Config: cfg},
		RefreshStrategy: strategy,
		RefreshStorage:  store,
		Config:          cfg,
		Users:           users,
		Trusted:         trusted,
		Disabled:        disabled,
		Logger:          logger,
		Now:             time.Now,
	}
}

type userAgentKey struct{}

// WithUserAgent carries the request's User-Agent to the grant, which
// records it in the login history.
func WithUserAgent(ctx context.Context, ua string) context.Context {
	return context.WithValue(ctx, userAgentKey{}, ua)
}

// CanHandleTokenEndpointRequest reports whether this is a password grant.
func (g *PasswordGrant) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	return r.GetGrantTypes().ExactOne(GrantType)
}

// CanSkipClientAuth is false: the client always authenticates.
func (g *PasswordGrant) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

// Allowed reports whether client may be issued a new grant at now, and
// the login-history result when it may not.
func (g *PasswordGrant) Allowed(client fosite.Client, now time.Time) (bool, string) {
	return allowed(client, g.Disabled, now, true)
}

// allowed is the one rule of whether client may use the password grant at
// now (disabled is the global switch). issuing is true when a new grant is
// asked for (the grant asks it of every attempt) and false when a grant it
// issued before is used (Guard, of every use of such a token) or swept
// (Revoker).
//
// A brownout refuses new grants only: it is a scheduled warning before the
// sunset, so that owners find their dependencies while there is time, not
// the end itself. Ending the grants it finds would sign every integration
// out for good on the first window, and turning the grant back on never
// brings revoked grants back; so a refresh of a password-born grant keeps
// working through a brownout, and only the sunset ends such grants.
func allowed(client fosite.Client, disabled bool, now time.Time, issuing bool) (bool, string) {
	if disabled || !client.GetGrantTypes().Has(GrantType) || client.IsPublic() {
		return false, signin.ResultDisabled
	}
	c, ok := oauth.ClientOf(client)
	if !ok {
		return true, ""
	}
	if c.LegacySunset != nil && !now.Before(*c.LegacySunset) {
		return false, signin.ResultSunset
	}
	if _, in := c.BrownoutAt(now); in && issuing {
		return false, signin.ResultBrownout
	}
	return true, ""
}

// brownoutHint is the description of a refusal during a brownout: that it
// is scheduled, when it ends, when the sunset is, and where to read how to
// migrate.
func (g *PasswordGrant) brownoutHint(client fosite.Client, now time.Time) string {
	c, _ := oauth.ClientOf(client)
	b, _ := c.BrownoutAt(now)
	msg := fmt.Sprintf("The legacy password grant is refused during a scheduled brownout until %s; it ends for this client for good at its sunset, %s.",
		b.End.UTC().Format(time.RFC3339), c.LegacySunset.UTC().Format(time.RFC3339))
	guide := c.LegacyMigrationURL
	if guide == "" {
		guide = g.MigrationURL
	}
	if guide != "" {
		return msg + " How to migrate: " + guide
	}
	return msg + " Move to the OAuth 2.0 device authorization grant or authorization code flow, or ask your administrator for an app password."
}

// HandleTokenEndpointRequest authenticates the user.
func (g *PasswordGrant) HandleTokenEndpointRequest(ctx context.Context, r fosite.AccessRequester) error {
	if !g.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	client := r.GetClient()
	form := r.GetRequestForm()
	username, sent := form.Get("username"), form.Get("password")
	// The credentials must not travel further with the request: fosite
	// stores the request with the tokens it issues.
	form.Del("password")

	event := models.LoginEvent{
		Time:     g.Now().UTC(),
		Username: username,
		ClientID: client.GetID(),
		Method:   signin.MethodPasswordGrant,
	}
	addr, _ := clientip.FromContext(ctx)
	if addr.IsValid() {
		event.SourceIP = addr.String()
	}
	event.UserAgent, _ = ctx.Value(userAgentKey{}).(string)

	if ok, result := g.Allowed(client, event.Time); !ok {
		event.Result = result
		g.refuse(ctx, event)
		switch result {
		case signin.ResultSunset:
			return fosite.ErrUnauthorizedClient.WithHint("The legacy password grant has ended for this client; use OAuth 2.0 authorization code flow.")
		case signin.ResultBrownout:
			return fosite.ErrUnauthorizedClient.WithHint(g.brownoutHint(client, event.Time))
		}
		return fosite.ErrUnauthorizedClient.WithHint("The client is not allowed to use the password grant.")
	}
	for _, scope := range r.GetRequestedScopes() {
		if scope == oauth.AdminScope {
			// A password (and a security token) never reaches the admin
			// API: administrators sign in through the console.
			return fosite.ErrInvalidScope.WithHintf("The scope '%s' is never granted through the password grant.", scope)
		}
		if !g.Config.GetScopeStrategy(ctx)(client.GetScopes(), scope) {
			return fosite.ErrInvalidScope.WithHintf("The client is not allowed to request scope '%s'.", scope)
		}
	}
	if err := g.Config.GetAudienceStrategy(ctx)(client.GetAudience(), r.GetRequestedAudience()); err != nil {
		return err
	}
	if username == "" || sent == "" {
		return fosite.ErrInvalidRequest.WithHint("The username and password parameters are required.")
	}

	trusted := false
	if addr.IsValid() && (g.IsProxy == nil || !g.IsProxy(addr)) {
		var err error
		if trusted, err = g.Trusted.Contains(ctx, addr); err != nil {
			return fosite.ErrServerError.WithWrap(err)
		}
	}
	var admitted admission
	var factor string
	var used models.AppPassword
	channel, verifier, refusedHint := g.policy(ctx, client, sent, r.GetRequestedScopes(), trusted, &admitted, &factor, &used)
	o, err := g.Users.Attempt(ctx, signin.Request{
		Channel:   channel,
		Subject:   signin.Subject{Username: username},
		Secret:    sent,
		Verifier:  verifier,
		ClientID:  event.ClientID,
		SourceIP:  event.SourceIP,
		UserAgent: event.UserAgent,
	})
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	if g.Observe != nil {
		g.Observe(event.ClientID, o.Result, o.LockedNow)
	}
	if g.ObserveMFA != nil && o.Factor == signin.FactorTOTP {
		g.ObserveMFA(o.Factor, o.Result)
	}
	if !o.OK() {
		return fosite.ErrInvalidGrant.WithDescription(failureHint(o.Result, refusedHint)).WithWrap(errors.New(o.Result))
	}
	user := o.User
	if channel == signin.AppPasswordGrant {
		if err := g.AppPasswords.Used(ctx, used.ID, event.ClientID, event.SourceIP); err != nil {
			// The history has the use; the grant stands.
			g.Logger.ErrorContext(ctx, "record app password use", "error", err, "client_id", event.ClientID)
		}
	}

	for _, scope := range r.GetRequestedScopes() {
		r.GrantScope(scope)
	}
	for _, aud := range r.GetRequestedAudience() {
		r.GrantAudience(aud)
	}
	if g.issuesRefresh(client) && (channel != signin.AppPasswordGrant || slices.Contains(used.Scopes, oauth.ScopeOfflineAccess)) {
		r.GrantScope(oauth.ScopeOfflineAccess)
	}
	now := g.Now().UTC()
	sess := r.GetSession()
	if ds, ok := sess.(*oauth.Session); ok {
		ds.Subject = user.ID
		ds.Username = user.Username
		// How the grant began rides with every token it yields, so that
		// Guard can end it with the credentials that admitted it.
		ds.Origin, ds.BeganAt = oauth.OriginPasswordToken, now
		switch admitted {
		case viaTrustedRange:
			ds.Origin = oauth.OriginPasswordTrusted
		case viaCode:
			ds.Origin = oauth.OriginPasswordTOTP
		}
		if channel == signin.AppPasswordGrant {
			// The app password, not the password, admitted the grant: it
			// ends with the app password (Guard), not with the password.
			ds.Origin, ds.AppPasswordID = oauth.OriginAppPassword, used.ID
		}
		if ds.Claims != nil {
			ds.Claims.Subject = user.ID
			// auth_time is when the password was checked; a refresh keeps
			// it, so a relying party enforcing max_age sees a stale login
			// as stale.
			ds.Claims.AuthTime = now.Truncate(time.Second)
		}
	}
	atLife := fosite.GetEffectiveLifespan(client, fosite.GrantTypePassword, fosite.AccessToken, g.Config.GetAccessTokenLifespan(ctx))
	sess.SetExpiresAt(fosite.AccessToken, now.Add(atLife).Round(time.Second))
	rtLife := fosite.GetEffectiveLifespan(client, fosite.GrantTypePassword, fosite.RefreshToken, g.Config.GetRefreshTokenLifespan(ctx))
	if rtLife > -1 {
		sess.SetExpiresAt(fosite.RefreshToken, now.Add(rtLife).Round(time.Second))
	}
	return nil
}

// policy chooses what the password field is taken for, from its shape
// and the client's legacy credentials: an app password (the
// AppPasswordGrant channel), a password and security token (tokenSplit),
// or nothing (a client that accepts only app passwords). hint, when set,
// is the description every failure of the attempt gets: it says only what
// the request itself shows (the value's shape, the client's policy), so
// it tells nothing of the user.
func (g *PasswordGrant) policy(ctx context.Context, client fosite.Client, sent string, scopes []string, trusted bool,
	admitted *admission, factor *string, used *models.AppPassword) (signin.Channel, signin.Verifier, string) {
	c, _ := oauth.ClientOf(client)
	acceptsApp := c.AcceptsAppPasswords() && g.AppPasswords != nil
	shaped := apppasswords.LooksLike(sent)
	// A value with the prefix but a wrong checksum is a mistyped app
	// password where the client takes nothing else, or where it has an
	// app password's exact length (a password + token of that length
	// that starts with the prefix is the price of a clear answer).
	malformed := !shaped && acceptsApp && strings.HasPrefix(sent, apppasswords.Prefix) &&
		(!c.AcceptsToken() || len(sent) == apppasswords.Length)
	switch {
	case shaped || malformed:
		v := appPasswordCheck{passwords: g.AppPasswords, clientID: client.GetID(), accepted: acceptsApp,
			malformed: malformed, scopes: scopes, now: g.Now().UTC(), used: used}
		hint := ""
		switch {
		case !acceptsApp:
			hint = "This client does not accept app passwords."
		case malformed:
			hint = "The app password is malformed (its checksum does not match): check that it was copied whole."
		}
		return signin.AppPasswordGrant, v, hint
	case !c.AcceptsToken():
		return signin.PasswordGrant, refusal(signin.ResultAppPasswordRequired),
			"This client accepts only app passwords: create one at your account page and send it as the password."
	}
	split := tokenSplit{tokens: g.Users, trusted: trusted, admitted: admitted, factor: factor, codes: g.Codes}
	split.clientRequires = c.RequireMFA
	return signin.PasswordGrant, split, ""
}

// failureHint is the description of a failed attempt: hint when the
// request itself showed what is wrong; for an app password that was the
// user's, what ended it (the value proves its holder, so this tells an
// attacker nothing); otherwise the one description of every failure.
func failureHint(result, hint string) string {
	if hint != "" {
		return hint
	}
	switch result {
	case signin.ResultAppPasswordRevoked:
		return "The app password was revoked."
	case signin.ResultAppPasswordExpired:
		return "The app password has expired."
	case signin.ResultAppPasswordWrongClient:
		return "The app password is not valid for this client."
	case signin.ResultAppPasswordScope:
		return "The app password does not hold every requested scope."
	}
	return failureDescription
}

// issuesRefresh reports whether a successful grant also returns a refresh
// token: when the client has the refresh_token grant and may hold
// offline_access, which fosite's refresh handler requires.
func (g *PasswordGrant) issuesRefresh(c fosite.Client) bool {
	return c.GetGrantTypes().Has("refresh_token") && fosite.Arguments(c.GetScopes()).Has(oauth.ScopeOfflineAccess)
}

// refuse records a refusal of the client: no attempt, so nothing is
// verified or counted.
func (g *PasswordGrant) refuse(ctx context.Context, e models.LoginEvent) {
	if g.Observe != nil {
		g.Observe(e.ClientID, e.Result, false)
	}
	if err := g.Users.RecordLogin(ctx, e); err != nil {
		g.Logger.ErrorContext(ctx, "record login history", "error", err, "client_id", e.ClientID)
	}
}

// PopulateTokenEndpointResponse issues the access token, and a refresh
// token when the client may have one.
func (g *PasswordGrant) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !g.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	atLife := fosite.GetEffectiveLifespan(r.GetClient(), fosite.GrantTypePassword, fosite.AccessToken, g.Config.GetAccessTokenLifespan(ctx))
	accessSig, err := g.Helper.IssueAccessToken(ctx, atLife, r, resp)
	if err != nil {
		return err
	}
	// offline_access was granted when the client may have a refresh
	// token (and an app password, when one admitted the grant, holds it).
	if !g.issuesRefresh(r.GetClient()) || !r.GetGrantedScopes().Has(oauth.ScopeOfflineAccess) {
		return nil
	}
	refresh, refreshSig, err := g.RefreshStrategy.GenerateRefreshToken(ctx, r)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	if err := g.RefreshStorage.CreateRefreshTokenSession(ctx, refreshSig, accessSig, r.Sanitize(nil)); err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	resp.SetExtra("refresh_token", refresh)
	return nil
}
