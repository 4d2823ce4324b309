package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/legacy"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

// authorizeParams are the parameters carried from the authorization
// request through the login and consent pages.
var authorizeParams = []string{
	"response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method", "prompt", "max_age", "response_mode",
	"audience", "login_hint", "ui_locales", "display", "acr_values", "id_token_hint",
}

func (s *Server) handleAuthorize() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := s.checkExactRedirect(r); err != nil {
			// Never redirect to an unregistered URI: answer here.
			if wantsHTML(r) {
				s.renderProblem(w, r, http.StatusBadRequest, authorizeProblem(s.Config.Organization, fosite.ErrInvalidRequest.WithHint(err.Error()), false))
				return
			}
			writeJSONError(w, http.StatusBadRequest, "invalid_request", err.Error())
			return
		}
		ar, err := s.Provider.NewAuthorizeRequest(ctx, r)
		if err == nil && parRequired(ar) {
			s.refuseUnpushed(w, r)
			return
		}
		if err == nil {
			// Everything that would refuse the request once the user has
			// signed in and consented refuses it now, before anyone is
			// asked anything.
			err = s.checkAuthorizeRequest(ctx, ar)
		}
		if err != nil {
			s.authorizeError(w, r, ar, err)
			return
		}
		client, _ := oauth.ClientOf(ar.GetClient())
		form := ar.GetRequestForm()
		prompt := strings.Fields(form.Get("prompt"))

		// The session, its user and the user's consent to this client come
		// in one query: this runs on every authorization.
		signed, signedIn, err := s.currentFor(r, client.GetID())
		if err != nil {
			s.Provider.WriteAuthorizeError(ctx, w, ar, fosite.ErrTemporarilyUnavailable.WithWrap(err))
			return
		}
		ls, user := signed.Session, signed.User
		// max_age=0 asks for a fresh login, like prompt=login (OpenID
		// Connect Core 3.1.2.1); a positive max_age accepts a login that
		// recent.
		maxAge, maxAgeErr := strconv.ParseInt(form.Get("max_age"), 10, 64)
		if signedIn && maxAgeErr == nil && maxAge > 0 && time.Since(ls.AuthTime) > time.Duration(maxAge)*time.Second {
			signedIn = false
		}
		if signedIn && !slices.Contains(sessionAMR(ls), amrMFA) {
			// A session without a second factor does not do for a user who
			// has one (enrolled since), must use one, or whose client asks
			// for one: the login page asks for it.
			need, err := s.needsMFA(ctx, user, client.RequireMFA, form.Get("acr_values"))
			if err != nil {
				s.Provider.WriteAuthorizeError(ctx, w, ar, fosite.ErrTemporarilyUnavailable.WithWrap(err))
				return
			}
			signedIn = !need
		}
		// A pushed request is read again after the login it asked for: a
		// sign-in since it was pushed is that login.
		fresh := oauth.Pushed(ar) && signedIn && !ls.AuthTime.Before(ar.GetRequestedAt().Truncate(time.Second))
		if !signedIn || (!fresh && (slices.Contains(prompt, "login") || (maxAgeErr == nil && maxAge == 0))) {
			if slices.Contains(prompt, "none") {
				s.Provider.WriteAuthorizeError(ctx, w, ar, fosite.ErrLoginRequired.WithHint("The user is not signed in."))
				return
			}
			http.Redirect(w, r, "/login?"+url.Values{"return_to": {loginReturnURL(form)}}.Encode(), http.StatusFound)
			return
		}

		requested := ar.GetRequestedScopes()
		consented := false // the user pressed Allow on the consent page
		if r.Method == http.MethodPost && r.PostForm.Has("consent") {
			if !s.sessions.CheckCSRF(r) {
				s.pages.Render(w, r, http.StatusForbidden, "error", s.page(w, r, "Request refused", "The form expired or did not come from this site. Go back and try again.", true))
				return
			}
			if r.PostForm.Get("consent") != "allow" {
				s.Provider.WriteAuthorizeError(ctx, w, ar, fosite.ErrAccessDenied.WithHint("The user denied the request."))
				return
			}
			consented = true
		} else if !client.FirstParty {
			covered := !slices.ContainsFunc(requested, func(scope string) bool { return !slices.Contains(signed.Consented, scope) })
			if !covered || slices.Contains(prompt, "consent") {
				if slices.Contains(prompt, "none") {
					s.Provider.WriteAuthorizeError(ctx, w, ar, fosite.ErrConsentRequired.WithHint("The user has not consented to these scopes."))
					return
				}
				s.renderConsent(w, r, client, user, form)
				return
			}
		}

		for _, scope := range requested {
			if scope == oauth.AdminScope && !user.Admin {
				// Only administrators get the admin scope, whatever the
				// client may request; the others get the rest.
				continue
			}
			ar.GrantScope(scope)
		}
		for _, aud := range ar.GetRequestedAudience() {
			ar.GrantAudience(aud)
		}
		session := oauth.NewSession(user.ID)
		session.Username = user.Username
		session.Origin, session.BeganAt = oauth.OriginCode, ls.AuthTime
		claims := session.Claims
		claims.Issuer = s.Config.Issuer
		claims.AuthTime = ls.AuthTime.UTC()
		claims.AuthenticationMethodsReferences = sessionAMR(ls)
		claims.AuthenticationContextClassReference = acrOf(claims.AuthenticationMethodsReferences)
		claims.RequestedAt = ar.GetRequestedAt().UTC().Truncate(time.Second)
		if claims.RequestedAt.Before(claims.AuthTime) {
			claims.RequestedAt = claims.AuthTime
		}
		for k, v := range userClaims(user, ar.GetGrantedScopes()) {
			if k != "sub" {
				claims.Extra[k] = v
			}
		}
		if ls.SID != "" {
			// The session's public id, so that a relying party can match
			// the logout tokens and front-channel requests of this session.
			claims.Extra["sid"] = ls.SID
		}
		// The consent is remembered in the transaction that issues the
		// code: a refused request leaves no consent behind.
		// The session remembers the client in the same transaction, so
		// that its logout reaches every client it signed in to.
		var remember []func(context.Context) error
		if !signed.ClientRecorded {
			remember = append(remember, func(ctx context.Context) error {
				return s.Store.RecordSessionClient(ctx, ls.SID, user.ID, client.GetID(), s.sessions.Now())
			})
		}
		if consented {
			remember = append(remember, func(ctx context.Context) error {
				return s.rememberConsent(ctx, user.ID, client.GetID(), requested)
			})
		}
		resp, err := s.Provider.Authorize(ctx, ar, session, remember...)
		if err != nil {
			s.Provider.WriteAuthorizeError(ctx, w, ar, err)
			return
		}
		if h, ok := s.sessions.IDHash(r); ok && signed.NeedsTouch(s.sessions.Now()) {
			if err := s.Store.TouchSession(ctx, h, s.sessions.Now()); err != nil {
				s.Logger.WarnContext(ctx, "touch session", "request_id", RequestID(ctx), "error", err)
			}
		}
		s.Provider.WriteAuthorizeResponse(ctx, w, ar, resp)
	})
}

// rememberConsent records that the user granted the client scopes, so
// that the next authorization for them skips the consent page. It runs in
// the transaction that issues the authorization response, and only then.
func (s *Server) rememberConsent(ctx context.Context, userID, clientID string, scopes []string) error {
	if err := s.Store.SaveConsent(ctx, userID, clientID, scopes); err != nil {
		return fmt.Errorf("remember consent: %w", err)
	}
	return nil
}

// authorizeError answers a refused authorization request. An error that
// can go to a registered redirect URI goes there (RFC 6749 section
// 4.1.2.1); otherwise a browser gets a page that says what went wrong, and
// an API client fosite's JSON.
func (s *Server) authorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	if (ar != nil && ar.IsRedirectURIValid()) || !wantsHTML(r) {
		s.Provider.WriteAuthorizeError(r.Context(), w, ar, err)
		return
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	if unavailable(r.Context(), err) {
		// fosite calls any failure to load the client an unknown client.
		rfc = fosite.ErrTemporarilyUnavailable
	}
	status := rfc.CodeField
	if status < 400 || status == http.StatusUnauthorized {
		// A page has no credentials to challenge: an unknown client is a
		// bad request.
		status = http.StatusBadRequest
	}
	s.renderProblem(w, r, status, authorizeProblem(s.Config.Organization, rfc, len(r.Form) == 0))
}

// authorizeProblem says in words why an authorization request that cannot
// be sent back to its client was refused. empty is a request without any
// parameter.
func authorizeProblem(org string, rfc *fosite.RFC6749Error, empty bool) problem {
	p := problem{Code: rfc.ErrorField, Detail: rfc.GetDescription()}
	switch {
	case empty:
		p.Title = "Nothing to sign in to"
		p.Message = "This address is where applications send you to sign in with " + org + ", but no application sent this request. Start from the application you want to use, or go to your account page."
		p.Detail = ""
	case rfc.ErrorField == fosite.ErrInvalidClient.ErrorField:
		p.Title = "Unknown application"
		p.Message = "The application that sent you here is not registered with " + org + ", so you cannot sign in to it. Go back to the application and try again; if this keeps happening, tell the people who run it."
		p.Detail = "" // fosite's text speaks of client authentication, which means nothing here
	case rfc.ErrorField == fosite.ErrTemporarilyUnavailable.ErrorField || rfc.CodeField >= 500:
		p.Title = "Try again shortly"
		p.Message = "Signing in is not possible right now. Go back to the application and try again in a moment."
		p.Detail = ""
	default:
		p.Title = "This sign-in request cannot be completed"
		p.Message = "The application that sent you here made a request " + org + " cannot accept: it is incomplete, or asks to send you back to an address the application has not registered. Nothing was shared with it. Go back to the application and try again; if this keeps happening, tell the people who run it."
	}
	return p
}

// checkAuthorizeRequest refuses, before the user is asked anything, what
// would be refused once they signed in and consented: fosite's handlers'
// rules (oauth.Provider.CheckAuthorizeRequest) and authgate's own.
func (s *Server) checkAuthorizeRequest(ctx context.Context, ar fosite.AuthorizeRequester) error {
	if err := s.Provider.CheckAuthorizeRequest(ctx, ar); err != nil {
		return err
	}
	prompt := strings.Fields(ar.GetRequestForm().Get("prompt"))
	if slices.Contains(prompt, "none") && ar.GetRequestedScopes().Has(oauth.AdminScope) {
		// The admin scope is never handed out silently: whoever asks for
		// it goes through a page the administrator sees.
		return fosite.ErrInteractionRequired.WithHint("The admin scope is never granted without user interaction.")
	}
	return nil
}

// checkExactRedirect holds confidential clients to an exact match of the
// redirect URI. fosite also lets a loopback redirect URI change its port,
// as RFC 8252 section 7.3 asks for native apps; native apps are public
// clients, so that latitude stays for them alone.
func (s *Server) checkExactRedirect(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return nil // fosite answers a bad form itself
	}
	redirect := r.Form.Get("redirect_uri")
	if redirect == "" {
		return nil
	}
	c, err := s.Provider.Client(r.Context(), r.Form.Get("client_id"))
	if err != nil || c.IsPublic() {
		return nil // fosite answers an unknown client itself
	}
	if slices.Contains(c.GetRedirectURIs(), redirect) {
		return nil
	}
	//lint:ignore ST1005 the text is the error_description the client reads, written like fosite's
	return errors.New("The redirect_uri does not exactly match a redirect URI registered for this client.")
}

// loginReturnURL is where the login page sends the browser back to: the
// same authorization request, without prompt=login or max_age=0 (the user
// is about to log in afresh, which is what they asked for).
func loginReturnURL(form url.Values) string {
	if oauth.PushedForm(form) {
		return "/oauth2/authorize?" + pushedParams(form).Encode()
	}
	q := url.Values{}
	for _, k := range authorizeParams {
		if v := form.Get(k); v != "" {
			q.Set(k, v)
		}
	}
	if q.Get("max_age") == "0" {
		q.Del("max_age")
	}
	if p := strings.Fields(q.Get("prompt")); slices.Contains(p, "login") {
		p = slices.DeleteFunc(p, func(s string) bool { return s == "login" })
		if len(p) == 0 {
			q.Del("prompt")
		} else {
			q.Set("prompt", strings.Join(p, " "))
		}
	}
	return "/oauth2/authorize?" + q.Encode()
}

func (s *Server) renderConsent(w http.ResponseWriter, r *http.Request, client *oauth.Client, user models.User, form url.Values) {
	p := s.page(w, r, "Allow access", "", true)
	p.ClientName = client.Name
	p.Username = user.Username
	for _, scope := range strings.Fields(form.Get("scope")) {
		p.Scopes = append(p.Scopes, scopeDescription(scope))
	}
	keys := authorizeParams
	if oauth.PushedForm(form) {
		form, keys = pushedParams(form), []string{"client_id", "request_uri"}
	}
	for _, k := range keys {
		if v := form.Get(k); v != "" {
			p.Params = append(p.Params, param{k, v})
		}
	}
	s.pages.Render(w, r, http.StatusOK, "consent", p)
}

func scopeDescription(scope string) string {
	switch scope {
	case oauth.ScopeOpenID:
		return "Confirm who you are (openid)"
	case oauth.ScopeProfile:
		return "See your name and username (profile)"
	case oauth.ScopeEmail:
		return "See your email address (email)"
	case oauth.ScopeOfflineAccess:
		return "Stay connected when you are not using it (offline_access)"
	case oauth.AdminScope:
		return "Administer this authgate server (authgate:admin)"
	}
	return scope
}

// userClaims are the user's claims released for the granted scopes.
func userClaims(u models.User, granted fosite.Arguments) map[string]any {
	return oauth.UserClaims(u, granted)
}

func (s *Server) handleToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := legacy.WithUserAgent(r.Context(), r.UserAgent())
		// fosite goes on with whatever part of a bad form parsed: net/http
		// reports a urlencoded body's error only after the multipart check
		// that fosite stops at.
		if err := r.ParseForm(); err != nil {
			s.writeTokenError(w, r, nil, fosite.ErrInvalidRequest.WithHint("The request body is not a valid form.").WithWrap(err))
			return
		}
		// The password grant is the one grant anyone can try credentials
		// on: its own per-source limit, before any work.
		if r.PostForm.Get("grant_type") == legacy.GrantType && !s.admit(w, r, s.limits.passwordGrant, "password_grant", refuseJSON) {
			return
		}
		ar, resp, err := s.Provider.Token(ctx, r, oauth.NewSession(""))
		if err != nil {
			s.writeTokenError(w, r, ar, err)
			return
		}
		if s.TokenResponseHook != nil {
			s.TokenResponseHook(w, ar)
		}
		s.addSalesforceFields(r, ar, resp, time.Now())
		s.recordLegacyRefresh(ctx, r, ar)
		s.Metrics.Token(r.PostFormValue("grant_type"), "ok")
		s.Provider.WriteAccessResponse(ctx, w, ar, resp)
	})
}

// recordLegacyRefresh writes a successful refresh of a grant the password
// grant began to the login history, as legacy use of the client
// (accounts.MethodPasswordGrantRefresh): the migration report and
// dashboard then see a client that only refreshes. A failure to record is
// logged; the client has its tokens.
func (s *Server) recordLegacyRefresh(ctx context.Context, r *http.Request, ar fosite.AccessRequester) {
	if !ar.GetGrantTypes().ExactOne("refresh_token") {
		return
	}
	sess, ok := ar.GetSession().(*oauth.Session)
	if !ok || !oauth.IsPasswordOrigin(sess.Origin) {
		return
	}
	e := models.LoginEvent{
		UserID: sess.Subject, Username: sess.Username, ClientID: ar.GetClient().GetID(),
		UserAgent: r.UserAgent(), Method: accounts.MethodPasswordGrantRefresh, Result: accounts.ResultSuccess,
	}
	if addr, ok := clientip.FromContext(ctx); ok {
		e.SourceIP = addr.String()
	}
	if err := s.Users.RecordLogin(ctx, e); err != nil {
		s.Logger.ErrorContext(ctx, "record legacy refresh", "request_id", RequestID(ctx), "client_id", e.ClientID, "error", err)
	}
}

// writeTokenError answers a failed token request: 503 when the database
// is unreachable (the client should retry), otherwise fosite's RFC 6749
// error.
func (s *Server) writeTokenError(w http.ResponseWriter, r *http.Request, ar fosite.AccessRequester, err error) {
	s.logTokenError(r, ar, err)
	s.Metrics.Token(r.PostFormValue("grant_type"), fosite.ErrorToRFC6749Error(err).ErrorField)
	if unavailable(r.Context(), err) {
		writeUnavailable(w)
		return
	}
	// RFC 6749 section 5.2: a client that authenticated with the
	// Authorization header is challenged for its scheme.
	if fosite.ErrorToRFC6749Error(err).ErrorField == fosite.ErrInvalidClient.ErrorField && r.Header.Get("Authorization") != "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="authgate"`)
	}
	s.Provider.WriteAccessError(r.Context(), w, ar, err)
}

// logTokenError logs a refused token request with the client and grant,
// never a credential. Server faults are errors; client mistakes are info.
func (s *Server) logTokenError(r *http.Request, ar fosite.AccessRequester, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	attrs := []any{"request_id", RequestID(r.Context()), "error", rfc.ErrorField, "grant_type", r.PostFormValue("grant_type")}
	if ar != nil && ar.GetClient() != nil {
		attrs = append(attrs, "client_id", ar.GetClient().GetID())
	}
	if rfc.CodeField >= 500 {
		s.Logger.ErrorContext(r.Context(), "token request failed", append(attrs, "cause", rfc.Cause())...)
		return
	}
	s.Logger.InfoContext(r.Context(), "token request refused", attrs...)
}

func (s *Server) handleIntrospect() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		// Only a client authenticated with HTTP Basic may introspect:
		// fosite would also accept any access token as the credential
		// (a Bearer header or an access_token parameter), which lets
		// anyone holding any token read another client's tokens.
		caller, _, basic := r.BasicAuth()
		if !basic || r.URL.Query().Has("access_token") || (r.ParseForm() == nil && r.PostForm.Has("access_token")) {
			s.Provider.WriteIntrospectionError(ctx, w, fosite.ErrRequestUnauthorized.WithHint("Authenticate the client with HTTP Basic."))
			return
		}
		resp, err := s.Provider.NewIntrospectionRequest(ctx, r, oauth.NewSession(""))
		if unavailable(r.Context(), err) {
			writeUnavailable(w)
			return
		}
		if err != nil {
			s.Provider.WriteIntrospectionError(ctx, w, err)
			return
		}
		// fosite has authenticated caller; it may see the token only if the
		// token is its own, names it as an audience, or an administrator
		// made it a resource server. Anyone else learns nothing, not even
		// that the token exists (RFC 7662 section 4).
		caller, _ = url.QueryUnescape(caller)
		if !s.mayIntrospect(ctx, caller, resp.GetAccessRequester()) {
			s.Provider.WriteIntrospectionResponse(ctx, w, &fosite.IntrospectionResponse{Active: false})
			return
		}
		s.Provider.WriteIntrospectionResponse(ctx, w, resp)
	})
}

// mayIntrospect reports whether the client callerID may see the details
// of the token behind ar.
func (s *Server) mayIntrospect(ctx context.Context, callerID string, ar fosite.AccessRequester) bool {
	if ar == nil || ar.GetClient() == nil {
		return false
	}
	if ar.GetClient().GetID() == callerID || slices.Contains(ar.GetGrantedAudience(), callerID) {
		return true
	}
	caller, err := s.Provider.Client(ctx, callerID)
	return err == nil && slices.Contains(caller.GetScopes(), oauth.IntrospectScope)
}

func (s *Server) handleRevoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		err := s.Provider.NewRevocationRequest(ctx, r)
		if unavailable(r.Context(), err) {
			writeUnavailable(w)
			return
		}
		s.Provider.WriteRevocationResponse(ctx, w, err)
	})
}

func (s *Server) handleUserinfo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		token := fosite.AccessTokenFromRequest(r)
		if token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="authgate"`)
			writeJSONError(w, http.StatusUnauthorized, "invalid_token", "An access token is required.")
			return
		}
		_, ar, err := s.Provider.IntrospectToken(ctx, token, fosite.AccessToken, oauth.NewSession(""))
		if err != nil {
			rfc := fosite.ErrorToRFC6749Error(err)
			if rfc.CodeField >= 500 {
				writeError(w, r, s.Logger, err)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="authgate", error="invalid_token"`)
			writeJSONError(w, http.StatusUnauthorized, "invalid_token", "The access token is invalid, expired or revoked.")
			return
		}
		if !ar.GetGrantedScopes().Has(oauth.ScopeOpenID) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="authgate", error="insufficient_scope", scope="openid"`)
			writeJSONError(w, http.StatusForbidden, "insufficient_scope", "The access token was not granted the openid scope.")
			return
		}
		user, err := s.Users.GetUserByID(ctx, ar.GetSession().GetSubject())
		if err != nil {
			if errors.Is(err, accounts.ErrNotFound) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="authgate", error="invalid_token"`)
				writeJSONError(w, http.StatusUnauthorized, "invalid_token", "The token's user no longer exists.")
				return
			}
			writeError(w, r, s.Logger, err)
			return
		}
		writeJSON(w, http.StatusOK, userClaims(user, ar.GetGrantedScopes()))
	})
}
