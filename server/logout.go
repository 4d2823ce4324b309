package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/authgate/authgate/internal/logout"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

// The end_session_endpoint (OpenID Connect RP-Initiated Logout 1.0).
//
// A relying party sends the browser here, by GET or POST, with
// id_token_hint, client_id, post_logout_redirect_uri and state. The
// browser goes back to post_logout_redirect_uri only when it is one the
// client registered, exactly; anything else gets a page and no redirect, so
// that the endpoint never becomes an open redirector. The session ends at
// once when the hint names the session's user; otherwise (no hint, or a
// hint of someone else) the user confirms on a page whose form carries the
// CSRF token, so that no other site can sign a user out by linking here.
// Ending the session queues a logout token for every client the session
// signed in to that registered a back-channel URI, and the page that
// follows frames every front-channel URI.

// HintVerifier checks an id_token_hint (logout.Verifier).
type HintVerifier interface {
	Verify(ctx context.Context, raw string) (logout.Hint, error)
}

// logoutRequest is a checked end-session request.
type logoutRequest struct {
	hint     *logout.Hint
	rawHint  string
	clientID string
	client   *oauth.Client
	redirect string // "" or a registered post-logout redirect URI
	state    string
	// fallback is where the browser goes without frames to show or a
	// redirect URI ("" shows the signed-out page).
	fallback string
}

// frame is one front-channel logout iframe.
type frame struct{ URL string }

// logoutData is the Data of the logout pages.
type logoutData struct {
	// Confirmation page
	ClientName string
	Params     []param
	// Signed-out page
	Frames   []frame
	Continue string
}

// The largest parameters the endpoint reads; longer ones are refused.
const (
	maxLogoutParam = 2000
	maxHintLen     = 16 << 10
)

// logoutProblem is the page of a logout request that cannot be followed.
func logoutProblem(org, detail string) problem {
	return problem{
		Title: "This sign-out request cannot be completed",
		Message: "The application that sent you here asked to sign you out of " + org + " in a way it is not allowed to: " +
			"it named an address to send you back to that it has not registered, or sent a request that does not check out. " +
			"You were not sent anywhere. To sign out, use the button on your account page; if this keeps happening, tell the people who run the application.",
		Code:   "invalid_request",
		Detail: detail,
	}
}

// parseLogout checks the request's parameters against the hint and the
// client's registration. Its error is the detail for the page.
func (s *Server) parseLogout(ctx context.Context, form url.Values) (logoutRequest, error) {
	req := logoutRequest{
		rawHint:  form.Get("id_token_hint"),
		clientID: form.Get("client_id"),
		redirect: form.Get("post_logout_redirect_uri"),
		state:    form.Get("state"),
	}
	if len(req.clientID) > 64 || len(req.redirect) > maxLogoutParam || len(req.state) > maxLogoutParam || len(req.rawHint) > maxHintLen {
		return req, errors.New("a parameter is too long")
	}
	if req.rawHint != "" {
		h, err := s.Hints.Verify(ctx, req.rawHint)
		switch {
		case err == nil:
			req.hint = &h
		case errors.Is(err, logout.ErrUnknownKey):
			// Signed by a key that has left the JWKS: it identifies
			// nobody, so the user confirms.
		case errors.Is(err, logout.ErrBadHint):
			return req, err
		default:
			return req, err
		}
	}
	if req.hint != nil {
		if req.clientID == "" {
			req.clientID = req.hint.Client()
		} else if !slices.Contains(req.hint.Audience, req.clientID) {
			return req, errors.New("the client_id is not an audience of the id_token_hint")
		}
	}
	if req.clientID != "" {
		c, err := s.Provider.Client(ctx, req.clientID)
		if err != nil {
			if unavailable(ctx, err) {
				return req, err
			}
			return req, errors.New("the client_id is not a registered client")
		}
		req.client, _ = oauth.ClientOf(c)
	}
	if req.redirect != "" {
		if req.client == nil {
			return req, errors.New("a post_logout_redirect_uri needs the client_id or an id_token_hint that names the client")
		}
		if !slices.Contains(req.client.PostLogoutRedirectURIs, req.redirect) {
			return req, errors.New("the post_logout_redirect_uri is not registered for this client")
		}
	}
	return req, nil
}

// handleEndSession serves the end_session_endpoint, GET and POST.
func (s *Server) handleEndSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := r.ParseForm(); err != nil {
			s.renderProblem(w, r, http.StatusBadRequest, logoutProblem(s.Config.Organization, "the request could not be read"))
			return
		}
		confirmed := r.Method == http.MethodPost && r.PostForm.Get("confirm") == "yes"
		if confirmed && !s.sessions.CheckCSRF(r) {
			s.pages.Render(w, r, http.StatusForbidden, "error", s.page(w, r, "Request refused",
				"The form expired or did not come from this site, so you are still signed in. Go back, reload the page and try again.", s.signedIn(r)))
			return
		}
		req, err := s.parseLogout(ctx, r.Form)
		if err != nil {
			if unavailable(ctx, err) || !errors.Is(err, logout.ErrBadHint) && errors.Unwrap(err) != nil {
				s.renderFailure(w, r, err, false)
				return
			}
			s.renderProblem(w, r, http.StatusBadRequest, logoutProblem(s.Config.Organization, err.Error()))
			return
		}
		ls, signedIn, err := s.sessions.Current(r)
		if err != nil {
			s.renderFailure(w, r, err, false)
			return
		}
		if !signedIn {
			// Nothing to end here; the relying party still gets its
			// browser back.
			s.afterLogout(w, r, req, storage.EndedSession{})
			return
		}
		tied := req.hint != nil && req.hint.Subject == ls.UserID
		if !tied && !confirmed {
			s.renderLogoutConfirm(w, r, req)
			return
		}
		ended, err := s.endBrowserSession(w, r)
		if err != nil {
			s.renderFailure(w, r, err, true)
			return
		}
		s.Logger.InfoContext(ctx, "signed out", "request_id", RequestID(ctx), "user_id", ls.UserID, "client_id", req.clientID)
		s.afterLogout(w, r, req, ended)
	})
}

// endBrowserSession ends the browser's session with storage's cascade
// (its clients' back-channel logout tokens are queued) and clears its
// cookie; it returns what ended (nothing without a session cookie).
func (s *Server) endBrowserSession(w http.ResponseWriter, r *http.Request) (storage.EndedSession, error) {
	idHash, ok := s.sessions.IDHash(r)
	if !ok {
		return storage.EndedSession{}, nil
	}
	http.SetCookie(w, s.sessions.Cookie("session", "", -1))
	ended, _, err := s.Store.EndSession(r.Context(), idHash, s.sessions.Now())
	if err != nil {
		return storage.EndedSession{}, err
	}
	s.logoutQueued()
	return ended, nil
}

// logoutQueued wakes the back-channel sender, if there is one.
func (s *Server) logoutQueued() {
	if s.LogoutQueued != nil {
		s.LogoutQueued()
	}
}

// renderLogoutConfirm asks the user whether to sign out.
func (s *Server) renderLogoutConfirm(w http.ResponseWriter, r *http.Request, req logoutRequest) {
	p := s.page(w, r, "Sign out?", "", true)
	d := &logoutData{}
	if req.client != nil {
		d.ClientName = req.client.Name
	}
	for _, kv := range []param{
		{"id_token_hint", req.rawHint}, {"client_id", req.clientID},
		{"post_logout_redirect_uri", req.redirect}, {"state", req.state},
	} {
		if kv.Value != "" {
			d.Params = append(d.Params, kv)
		}
	}
	p.Data = d
	s.pages.Render(w, r, http.StatusOK, "logout-confirm", p)
}

// afterLogout sends the browser on: to the relying party's registered
// post-logout redirect URI (with its state), through a page framing the
// front-channel logout URIs of the clients the session had signed in to
// when there are any.
func (s *Server) afterLogout(w http.ResponseWriter, r *http.Request, req logoutRequest, ended storage.EndedSession) {
	target := ""
	if req.redirect != "" {
		u, _ := url.Parse(req.redirect) // registered URIs parse
		if req.state != "" {
			q := u.Query()
			q.Set("state", req.state)
			u.RawQuery = q.Encode()
		}
		target = u.String()
	}
	frames, sources := s.frontChannelFrames(ended.Clients, ended.Session.SID)
	if len(frames) == 0 && target == "" {
		target = req.fallback
	}
	if len(frames) == 0 && target != "" {
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	if len(sources) > 0 {
		// The page may frame exactly these URIs, nothing else.
		w.Header().Set("Content-Security-Policy", w.Header().Get("Content-Security-Policy")+"; frame-src "+strings.Join(sources, " "))
	}
	p := s.page(w, r, "You are signed out", "", false)
	p.Data = &logoutData{Frames: frames, Continue: target}
	s.pages.Render(w, r, http.StatusOK, "signed-out", p)
}

// frontChannelFrames returns the iframes of the clients' front-channel
// logout URIs (with iss and sid when the client asked for them) and the
// CSP sources that allow them.
func (s *Server) frontChannelFrames(clients []models.Client, sid string) (frames []frame, sources []string) {
	for _, c := range clients {
		if c.FrontchannelLogoutURI == "" || strings.ContainsAny(c.FrontchannelLogoutURI, "; ,\t\r\n'\"") {
			continue
		}
		u, err := url.Parse(c.FrontchannelLogoutURI)
		if err != nil {
			continue
		}
		src := *u
		src.RawQuery, src.Fragment = "", ""
		if c.FrontchannelLogoutSessionRequired {
			q := u.Query()
			q.Set("iss", s.Config.Issuer)
			q.Set("sid", sid)
			u.RawQuery = q.Encode()
		}
		frames = append(frames, frame{URL: u.String()})
		if src := src.String(); !slices.Contains(sources, src) {
			sources = append(sources, src)
		}
	}
	return frames, sources
}
