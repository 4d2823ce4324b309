package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/oauth"
)

// handleLogin starts a sign-in: it keeps state, nonce and the PKCE
// verifier in a sealed cookie and sends the browser to the issuer.
// ?next=/admin/... says where to go afterwards; ?prompt=login makes the
// issuer ask for the password even when its own session is live (to sign
// in as someone else).
func (c *console) handleLogin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	forceLogin := q.Get("prompt") == "login"
	if !forceLogin {
		if _, ok, err := c.currentSession(r); err == nil && ok {
			http.Redirect(w, r, cmpOr(safeNext(q.Get("next")), "/admin/"), http.StatusFound)
			return
		}
	}
	state, err := keyring.RandomString(24)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	nonce, err := keyring.RandomString(24)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	st := loginState{
		State:    state,
		Nonce:    nonce,
		Verifier: oauth2.GenerateVerifier(),
		Next:     safeNext(q.Get("next")),
		Expires:  c.Now().Add(loginLifespan),
	}
	if err := c.setLoginState(w, st); err != nil {
		c.fail(w, r, err)
		return
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(st.Verifier), oidc.Nonce(st.Nonce)}
	if forceLogin {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"))
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, c.oauth.AuthCodeURL(st.State, opts...), http.StatusFound)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// signInAgain is the link shown when a sign-in attempt fails.
const signInAgain = "/admin/login"

// handleCallback finishes a sign-in: it checks state, exchanges the code
// with the PKCE verifier, verifies the ID token and its nonce, asks the
// userinfo endpoint who the token belongs to, and admits only an
// administrator.
func (c *console) handleCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	w.Header().Set("Cache-Control", "no-store")
	st, ok := c.takeLoginState(w, r)
	if !ok {
		c.showMessage(w, r, http.StatusBadRequest, "Sign-in expired",
			message{Text: "This sign-in expired or was started in another browser. Nothing was signed in. Start again.", SignIn: signInAgain})
		return
	}
	if got := q.Get("state"); got == "" || !keyring.Equal(got, st.State) {
		c.Logger.WarnContext(ctx, "console sign-in refused: state does not match")
		c.showMessage(w, r, http.StatusBadRequest, "Sign-in refused",
			message{Text: "Sign-in refused: the answer from the sign-in page does not belong to the sign-in this browser started. Nothing was signed in. Start again.", SignIn: signInAgain})
		return
	}
	if code := q.Get("error"); code != "" {
		c.Logger.InfoContext(ctx, "console sign-in ended with an error", "error", code)
		c.showMessage(w, r, http.StatusForbidden, "Sign-in did not complete",
			message{Text: authorizeErrorText(code, q.Get("error_description")), SignIn: signInAgain})
		return
	}
	code := q.Get("code")
	if code == "" {
		c.showMessage(w, r, http.StatusBadRequest, "Sign-in refused",
			message{Text: "Sign-in refused: the sign-in page sent no authorization code. Start again.", SignIn: signInAgain})
		return
	}

	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.http)
	tok, err := c.oauth.Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			c.Logger.WarnContext(ctx, "console sign-in: code exchange refused", "error", re.ErrorCode)
			c.showMessage(w, r, http.StatusBadRequest, "Sign-in refused",
				message{Text: "Sign-in refused: the authorization code was rejected (it may have expired or been used already). Start again.", SignIn: signInAgain})
			return
		}
		c.Logger.ErrorContext(ctx, "console sign-in: code exchange failed", "error", err)
		c.showMessage(w, r, http.StatusBadGateway, "Sign-in failed",
			message{Text: "The console could not reach the token endpoint to finish the sign-in. Try again in a moment.", SignIn: signInAgain})
		return
	}
	defer c.revoke(ctx, tok.AccessToken)

	rawID, _ := tok.Extra("id_token").(string)
	idt, err := c.verifier.Verify(ctx, rawID)
	if err != nil {
		c.Logger.WarnContext(ctx, "console sign-in: ID token refused", "error", err)
		c.showMessage(w, r, http.StatusBadRequest, "Sign-in refused",
			message{Text: "Sign-in refused: the ID token did not verify. Start again.", SignIn: signInAgain})
		return
	}
	if !keyring.Equal(idt.Nonce, st.Nonce) {
		c.Logger.WarnContext(ctx, "console sign-in refused: nonce does not match")
		c.showMessage(w, r, http.StatusBadRequest, "Sign-in refused",
			message{Text: "Sign-in refused: the ID token belongs to another sign-in (nonce mismatch). Start again.", SignIn: signInAgain})
		return
	}
	scope, _ := tok.Extra("scope").(string)
	if !slices.Contains(strings.Fields(scope), oauth.AdminScope) {
		c.Logger.WarnContext(ctx, "console sign-in refused: admin scope not granted", "scope", scope)
		c.forbidden(w, r, "")
		return
	}
	sub, err := c.userinfo(ctx, tok.AccessToken)
	if err != nil {
		c.Logger.ErrorContext(ctx, "console sign-in: userinfo failed", "error", err)
		c.showMessage(w, r, http.StatusBadGateway, "Sign-in failed",
			message{Text: "The console could not read who signed in from the userinfo endpoint. Try again in a moment.", SignIn: signInAgain})
		return
	}
	if sub != idt.Subject {
		c.Logger.WarnContext(ctx, "console sign-in refused: userinfo subject differs from the ID token's")
		c.showMessage(w, r, http.StatusBadRequest, "Sign-in refused",
			message{Text: "Sign-in refused: the access token and the ID token name different users. Start again.", SignIn: signInAgain})
		return
	}
	u, err := c.Accounts.GetUserByID(ctx, sub)
	if errors.Is(err, accounts.ErrNotFound) {
		c.forbidden(w, r, "")
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if !u.Admin {
		c.Logger.InfoContext(ctx, "console sign-in refused: not an administrator", "user_id", u.ID, "username", u.Username)
		c.forbidden(w, r, u.Username)
		return
	}
	if err := c.startSession(r.Context(), w, r, u.ID); err != nil {
		c.fail(w, r, err)
		return
	}
	c.setHint(w, rawID)
	c.Logger.InfoContext(ctx, "console sign-in", "user_id", u.ID, "username", u.Username)
	http.Redirect(w, r, cmpOr(st.Next, "/admin/"), http.StatusSeeOther)
}

// forbidden tells a signed-in user without the admin role that the console
// is not for them, and offers to sign in as someone else.
func (c *console) forbidden(w http.ResponseWriter, r *http.Request, username string) {
	text := "Only administrators can use the console."
	if username != "" {
		text = fmt.Sprintf("Only administrators can use the console. You signed in as %s, who does not have the admin role. Ask an administrator for it, or sign in as a different user.", username)
	}
	c.showMessage(w, r, http.StatusForbidden, "Only administrators can use the console",
		message{Text: text, SignIn: "/admin/login?prompt=login"})
}

// authorizeErrorText explains an error the authorization endpoint sent
// back.
func authorizeErrorText(code, description string) string {
	var text string
	switch code {
	case "access_denied":
		text = "Sign-in did not complete: access was denied."
	case "login_required", "interaction_required", "consent_required":
		text = "Sign-in did not complete: the sign-in page needs you to sign in again."
	case "invalid_scope", "unauthorized_client", "invalid_request", "unsupported_response_type":
		text = "Sign-in did not complete: the console's OAuth client is misconfigured (" + code + "). Restart authgate to repair it, or check admin_url."
	case "temporarily_unavailable", "server_error":
		text = "Sign-in did not complete: the sign-in service is unavailable. Try again in a moment."
	default:
		text = "Sign-in did not complete (" + code + ")."
	}
	if description != "" && len(description) < 300 {
		text += " The sign-in service said: " + description
	}
	return text
}

// userinfo returns the subject the access token belongs to.
func (c *console) userinfo(ctx context.Context, accessToken string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.Config.Issuer, "/")+"/userinfo", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("userinfo: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("userinfo: status %d", resp.StatusCode)
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&claims); err != nil {
		return "", fmt.Errorf("userinfo: %w", err)
	}
	if claims.Sub == "" {
		return "", errors.New("userinfo: no subject")
	}
	return claims.Sub, nil
}

// revoke gives the access token back: the console needed it only to learn
// who signed in, and it carries the admin scope. Failure is only logged;
// the token then expires on its own.
func (c *console) revoke(ctx context.Context, accessToken string) {
	if accessToken == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	form := url.Values{"token": {accessToken}, "token_type_hint": {"access_token"}, "client_id": {ClientID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.Config.Issuer, "/")+"/oauth2/revoke", strings.NewReader(form.Encode()))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.http.Do(req)
	if err != nil {
		c.Logger.WarnContext(ctx, "console sign-in: revoking the access token failed", "error", err)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		c.Logger.WarnContext(ctx, "console sign-in: revoking the access token was refused", "status", resp.StatusCode)
	}
}

// handleLogoutForm offers the choice: the console only, or everywhere.
func (c *console) handleLogoutForm(w http.ResponseWriter, r *http.Request, a admin) {
	p, err := c.page(w, r, a, "Sign out", "")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.pages.Render(w, r, http.StatusOK, "signout", p)
}

// stateEverywhere is the state the console sends to the
// end_session_endpoint, which hands it back to /admin/signed-out.
const stateEverywhere = "everywhere"

// handleLogout ends the console session and, with scope=everywhere, sends
// the browser to authgate's end_session_endpoint with the sign-in's ID
// token as the hint, which ends authgate's session (and tells the
// applications it signed in to) and comes back to /admin/signed-out.
func (c *console) handleLogout(w http.ResponseWriter, r *http.Request, a admin) {
	hint := c.takeHint(w, r)
	c.endSession(r.Context(), w, r)
	if r.PostFormValue("scope") != stateEverywhere {
		c.Logger.InfoContext(r.Context(), "console sign-out", "username", a.User.Username)
		http.Redirect(w, r, "/admin/signed-out", http.StatusSeeOther)
		return
	}
	c.Logger.InfoContext(r.Context(), "console sign-out everywhere", "username", a.User.Username)
	q := url.Values{
		"client_id":                {ClientID},
		"post_logout_redirect_uri": {strings.TrimRight(c.Config.AdminURL, "/") + signedOutPath},
		"state":                    {stateEverywhere},
	}
	if hint != "" {
		q.Set("id_token_hint", hint)
	}
	http.Redirect(w, r, strings.TrimRight(c.Config.Issuer, "/")+"/oauth2/logout?"+q.Encode(), http.StatusSeeOther)
}

func (c *console) handleSignedOut(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("state") == stateEverywhere {
		c.showMessage(w, r, http.StatusOK, "Signed out", message{
			Text:   "You have signed out of the admin console, of " + c.Config.Organization + " and of the applications you signed in to with it in this browser.",
			SignIn: "/admin/login?prompt=login",
		})
		return
	}
	c.showMessage(w, r, http.StatusOK, "Signed out", message{
		Text: "You have signed out of the admin console. On a shared computer, also sign out of " +
			c.Config.Organization + " itself at " + strings.TrimRight(c.Config.Issuer, "/") + "/account.",
		SignIn: "/admin/login?prompt=login",
	})
}
