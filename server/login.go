package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// page starts the data of a page with what every page shows, including
// the CSRF token its forms must carry.
func (s *Server) page(w http.ResponseWriter, r *http.Request, title, message string, signedIn bool) page {
	p := page{Title: title, Organization: s.Config.Organization, SignedIn: signedIn}
	if csrf, err := s.sessions.CSRFToken(w, r); err == nil {
		p.CSRF = csrf
	}
	if message != "" {
		p.Data = message
	}
	return p
}

// safeReturn accepts only local paths, so the login page cannot be used to
// redirect anywhere else.
func safeReturn(raw string) string {
	if raw == "" || !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") || strings.Contains(raw, `\`) {
		return "/account"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return "/account"
	}
	return raw
}

// authorizeClient returns the client of the authorization request that
// returnTo names, when it is one this server would answer: a path of
// /oauth2/authorize whose client_id is a registered client and whose
// redirect_uri is one of that client's registered URIs exactly (or, left
// out, the client has exactly one). return_to comes from whoever sent the
// form, so anything else names no client: the login history and the page
// never take a client from it unchecked.
func (s *Server) authorizeClient(ctx context.Context, returnTo string) (*oauth.Client, bool) {
	u, err := url.Parse(returnTo)
	if err != nil || u.Path != "/oauth2/authorize" {
		return nil, false
	}
	q := u.Query()
	id := q.Get("client_id")
	if id == "" {
		return nil, false
	}
	c, err := s.Provider.Client(ctx, id)
	if err != nil {
		return nil, false
	}
	ac, ok := oauth.ClientOf(c)
	if !ok {
		return nil, false
	}
	uris := ac.RedirectURIs
	if redirect := q.Get("redirect_uri"); redirect != "" {
		if !slices.Contains(uris, redirect) {
			return nil, false
		}
	} else if len(uris) != 1 {
		return nil, false
	}
	return ac, true
}

// clientNameFor names the client an authorization request came from.
func (s *Server) clientNameFor(r *http.Request, returnTo string) string {
	if c, ok := s.authorizeClient(r.Context(), returnTo); ok {
		return c.Name
	}
	return ""
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, returnTo, username, errMsg string) {
	p := s.page(w, r, "Sign in", "", false)
	p.ReturnTo = returnTo
	p.Username = username
	p.Error = errMsg
	p.ClientName = s.clientNameFor(r, returnTo)
	p.Passkeys = s.passkeysEnabled()
	s.pages.Render(w, r, status, "login", p)
}

func (s *Server) handleLoginForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderLogin(w, r, http.StatusOK, safeReturn(r.URL.Query().Get("return_to")), "", "")
	})
}

func (s *Server) handleLogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			s.renderLogin(w, r, http.StatusBadRequest, "/account", "", "The form could not be read. Try again.")
			return
		}
		returnTo := safeReturn(r.PostFormValue("return_to"))
		username := strings.TrimSpace(r.PostFormValue("username"))
		if !s.sessions.CheckCSRF(r) {
			s.renderLogin(w, r, http.StatusForbidden, returnTo, username, "The form expired or did not come from this site. Sign in again.")
			return
		}
		pw := r.PostFormValue("password")
		if username == "" || pw == "" {
			s.renderLogin(w, r, http.StatusBadRequest, returnTo, username, "Enter your username and password.")
			return
		}
		req := signin.Request{Channel: signin.LoginPage, Subject: signin.Subject{Username: username}, Secret: pw, UserAgent: r.UserAgent()}
		if addr, ok := clientip.FromContext(r.Context()); ok {
			req.SourceIP = addr.String()
		}
		clientRequires := false
		if c, ok := s.authorizeClient(r.Context(), returnTo); ok {
			req.ClientID = c.ID
			clientRequires = c.RequireMFA
		}
		if s.MFA != nil {
			acr := loginACR(returnTo)
			req.Verifier = passwordStep{needs: func(ctx context.Context, u models.User) (bool, error) {
				return s.needsMFA(ctx, u, clientRequires, acr)
			}}
		}
		o, err := s.Users.Attempt(r.Context(), req)
		if err != nil {
			status, _, _ := classify(r.Context(), err)
			s.Logger.ErrorContext(r.Context(), "login failed", "request_id", RequestID(r.Context()), "error", err)
			s.renderLogin(w, r, status, returnTo, username, "Signing in is not possible right now. Try again shortly.")
			return
		}
		if o.Pending() {
			s.beginSecondStep(w, r, o.User, req.ClientID, returnTo)
			return
		}
		if !o.OK() {
			s.renderLogin(w, r, http.StatusUnauthorized, returnTo, username, "The username or password is incorrect, or the account is locked after too many attempts.")
			return
		}
		user := o.User
		if _, err := s.sessions.StartAMR(r.Context(), w, r, user.ID, amrPassword); err != nil {
			s.renderFailure(w, r, err, false)
			return
		}
		http.Redirect(w, r, returnTo, http.StatusSeeOther)
	})
}

// passwordStep is the login page's Verifier when second factors are on:
// the password, and then, for a user who owes a second factor, not a
// success but signin.ResultSecondFactorPending.
type passwordStep struct {
	needs func(ctx context.Context, u models.User) (bool, error)
}

func (passwordStep) Cost() int { return 1 }

func (v passwordStep) Verify(ctx context.Context, u models.User, secret string, check signin.Check) (string, error) {
	res, err := signin.Password{}.Verify(ctx, u, secret, check)
	if err != nil || res != signin.ResultSuccess {
		return res, err
	}
	need, err := v.needs(ctx, u)
	if err != nil {
		return "", err
	}
	if need {
		return signin.ResultSecondFactorPending, nil
	}
	return signin.ResultSuccess, nil
}

func (s *Server) handleLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.sessions.CheckCSRF(r) {
			s.pages.Render(w, r, http.StatusForbidden, "error", s.page(w, r, "Request refused", "The form expired or did not come from this site.", false))
			return
		}
		// The same ending as the end_session_endpoint's: the clients the
		// session signed in to are told, through both channels.
		ended, err := s.endBrowserSession(w, r)
		if err != nil {
			s.Logger.ErrorContext(r.Context(), "end session", "request_id", RequestID(r.Context()), "error", err)
		}
		s.afterLogout(w, r, logoutRequest{fallback: "/login"}, ended)
	})
}

func (s *Server) handleAlive() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

func (s *Server) handleReady() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Ready != nil {
			if err := s.Ready(r.Context()); err != nil {
				s.Logger.WarnContext(r.Context(), "not ready", "error", err)
				body := map[string]string{"status": "unavailable", "database": "unreachable"}
				switch {
				case errors.Is(err, oauth.ErrKeySecret):
					body["database"], body["signing_key"] = "ok", oauth.ErrKeySecret.Error()
				case errors.Is(err, oauth.ErrNoSigningKey):
					body["database"], body["signing_key"] = "ok", oauth.ErrNoSigningKey.Error()
				}
				writeJSON(w, http.StatusServiceUnavailable, body)
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "database": "ok", "signing_key": "ok"})
	})
}

func (s *Server) handleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			http.Redirect(w, r, "/account", http.StatusFound)
			return
		}
		if wantsHTML(r) {
			s.renderProblem(w, r, http.StatusNotFound, notFound)
			return
		}
		writeJSONError(w, http.StatusNotFound, "not_found", "No such endpoint.")
	})
}
