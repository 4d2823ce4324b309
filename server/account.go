package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

// The self-service pages under /account let a signed-in user see their own
// login history, reset their security token and change their password.
// Every change is a POST carrying the CSRF token; each one answers with a
// redirect to /account (post/redirect/get, so reloading the page never
// repeats it), and the outcome travels in a short-lived notice cookie
// rather than in the URL, where anyone could forge a link to it.

// historyRows is how many login events the overview shows.
const historyRows = 20

// noticeCookie carries the outcome of a change to the next /account page.
const noticeCookie = "notice"

// Notices the overview can show, named in the notice cookie.
const (
	noticeTokenReset      = "token-reset"
	noticePasswordChanged = "password-changed"
	noticeSessionEnded    = "session-ended"
	noticeGrantRevoked    = "grant-revoked"

	noticeVerificationSent = "verification-sent"
	noticeEmailChangeSent  = "email-change-sent"
)

// accountData is the Data of the account pages.
type accountData struct {
	Username      string
	Email         string
	EmailVerified bool
	// Links says the email links (verification, email change) are on.
	Links       bool
	MaskedEmail string
	Logins      []loginRow
	Total       int64
	Sessions    []sessionRow
	Grants      []grantRow
}

// sessionRow is one of the user's open browser sessions.
type sessionRow struct {
	SID       string
	UserAgent string
	SourceIP  string
	Started   time.Time
	LastSeen  time.Time
	Current   bool
}

// grantRow is one application the user has allowed.
type grantRow struct {
	ClientID string
	Name     string
	Scopes   []string
	Since    time.Time
	Tokens   int64
}

// loginRow is one line of the login history as the overview shows it.
type loginRow struct {
	Time     time.Time
	Method   string
	Result   string
	SourceIP string
	Client   string
}

// accountUser returns the signed-in user. Without one (no session, an
// expired one, or a deleted user) it redirects to the login page, which
// brings the browser back here, and returns false.
func (s *Server) accountUser(w http.ResponseWriter, r *http.Request) (models.User, bool) {
	ls, ok, err := s.sessions.Current(r)
	if err != nil {
		s.renderFailure(w, r, err, false)
		return models.User{}, false
	}
	if ok {
		u, err := s.Users.GetUserByID(r.Context(), ls.UserID)
		if err == nil {
			// A user with a second factor needs a session that proved it
			// (one from before the enrolment, or from another path, does
			// not do): the login page asks for it.
			if !slices.Contains(sessionAMR(ls), amrMFA) {
				fs, err := s.enrolledFactors(r.Context(), u.ID)
				if err != nil {
					s.renderFailure(w, r, err, false)
					return models.User{}, false
				}
				if len(fs) > 0 {
					http.Redirect(w, r, "/login?"+url.Values{"return_to": {r.URL.Path}}.Encode(), http.StatusSeeOther)
					return models.User{}, false
				}
			}
			return u, true
		}
		if !errors.Is(err, accounts.ErrNotFound) {
			s.renderFailure(w, r, err, false)
			return models.User{}, false
		}
		s.endSession(w, r)
	}
	http.Redirect(w, r, "/login?"+url.Values{"return_to": {r.URL.Path}}.Encode(), http.StatusSeeOther)
	return models.User{}, false
}

// accountPage starts the data of an account page for u.
func (s *Server) accountPage(w http.ResponseWriter, r *http.Request, title string, u models.User) (page, *accountData) {
	p := s.page(w, r, title, "", true)
	p.Username = u.Username
	d := &accountData{Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified, Links: s.Links != nil, MaskedEmail: maskEmail(u.Email)}
	p.Data = d
	return p, d
}

// renderFailure shows a page for an error the user cannot fix, logging it
// when it is the server's fault. Its details never reach the page.
func (s *Server) renderFailure(w http.ResponseWriter, r *http.Request, err error, signedIn bool) {
	status, _, _ := classify(r.Context(), err)
	msg := "The request could not be completed. Go back and try again."
	if status >= 500 {
		s.Logger.ErrorContext(r.Context(), "account page failed", "request_id", RequestID(r.Context()), "error", err)
		msg = "The request could not be completed right now, and nothing was changed. Try again shortly."
	}
	s.pages.Render(w, r, status, "error", s.page(w, r, "Something went wrong", msg, signedIn))
}

// accountPost starts a POST to an account page: it reads the form and
// checks its CSRF token before anything else, so that a forged request
// changes nothing whoever is signed in, then returns the signed-in user as
// accountUser does. On failure it has answered (403 for a bad token) and
// returns false.
func (s *Server) accountPost(w http.ResponseWriter, r *http.Request) (models.User, bool) {
	if err := r.ParseForm(); err != nil {
		s.pages.Render(w, r, http.StatusBadRequest, "error", s.page(w, r, "Request refused", "The form could not be read, and nothing was changed. Go back and try again.", s.signedIn(r)))
		return models.User{}, false
	}
	if !s.sessions.CheckCSRF(r) {
		s.pages.Render(w, r, http.StatusForbidden, "error", s.page(w, r, "Request refused", "The form expired or did not come from this site, so nothing was changed. Go back, reload the page and try again.", s.signedIn(r)))
		return models.User{}, false
	}
	return s.accountUser(w, r)
}

// accountDone ends a change to an account: the overview shows the notice.
func (s *Server) accountDone(w http.ResponseWriter, r *http.Request, u models.User, notice string) {
	s.setNotice(w, u, notice)
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

// accountGone answers a change to the account of a user deleted meanwhile:
// it ends the session and sends the browser to the login page.
func (s *Server) accountGone(w http.ResponseWriter, r *http.Request) {
	s.endSession(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// handleAccountForm shows the account page template tmpl, titled title,
// to the signed-in user.
func (s *Server) handleAccountForm(title, tmpl string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.accountUser(w, r)
		if !ok {
			return
		}
		p, _ := s.accountPage(w, r, title, u)
		s.pages.Render(w, r, http.StatusOK, tmpl, p)
	})
}

// signedIn reports whether the request has a live session; a page that
// only decides whether to show the sign-out link can ignore errors.
func (s *Server) signedIn(r *http.Request) bool {
	_, ok, _ := s.sessions.Current(r)
	return ok
}

// setNotice makes the next /account page of user u show notice.
func (s *Server) setNotice(w http.ResponseWriter, u models.User, notice string) {
	http.SetCookie(w, s.sessions.Cookie(noticeCookie, notice+"."+u.ID, 300))
}

// takeNotice returns the text of the notice left for u, if any, and
// clears it. A notice left for another user (who signed out before
// seeing it) is dropped.
func (s *Server) takeNotice(w http.ResponseWriter, r *http.Request, u models.User) string {
	c, err := r.Cookie(s.sessions.CookieName(noticeCookie))
	if err != nil {
		return ""
	}
	http.SetCookie(w, s.sessions.Cookie(noticeCookie, "", -1))
	notice, userID, ok := strings.Cut(c.Value, ".")
	if !ok || userID != u.ID {
		return ""
	}
	switch notice {
	case noticeTokenReset:
		return "Your security token was reset. A new security token was emailed to " + maskEmail(u.Email) + "."
	case noticePasswordChanged:
		return "Your password was changed. A new security token was emailed to " + maskEmail(u.Email) + "."
	case noticeSessionEnded:
		return "The session was ended: that browser is signed out, and the applications it signed in to were told."
	case noticeGrantRevoked:
		return "The application's access was revoked: its tokens no longer work, and it will ask for your consent again."
	case noticeVerificationSent:
		return "A link to verify your address was emailed to " + maskEmail(u.Email) + "."
	case noticeEmailChangeSent:
		return "A link to confirm the new address was emailed to it. Your address changes when you open that link; until then it stays " + maskEmail(u.Email) + "."
	}
	if notice == noticeAppPasswordRevoked {
		return "The app password was revoked: it no longer works, and the applications that signed in with it are signed out."
	}
	if notice == noticeMFARemoved {
		return "Two-step verification is off. An email was sent to " + maskEmail(u.Email) + "."
	}
	return passkeyNotice(notice)
}

// handleAccount shows the overview: who is signed in, the recent login
// history, and the actions.
func (s *Server) handleAccount() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.accountUser(w, r)
		if !ok {
			return
		}
		events, total, err := s.Users.ListLogins(r.Context(), accounts.LoginFilter{UserID: u.ID, Limit: historyRows})
		if err != nil {
			s.renderFailure(w, r, err, true)
			return
		}
		p, d := s.accountPage(w, r, "Your account", u)
		p.Notice = s.takeNotice(w, r, u)
		d.Total = total
		d.Logins = s.loginRows(r, events)
		if err := s.sessionsAndGrants(r, u, d); err != nil {
			s.renderFailure(w, r, err, true)
			return
		}
		s.pages.Render(w, r, http.StatusOK, "account", p)
	})
}

// loginRows turns events into table rows, naming each client once.
func (s *Server) loginRows(r *http.Request, events []models.LoginEvent) []loginRow {
	names := map[string]string{}
	clientName := func(id string) string {
		if id == "" {
			return ""
		}
		if n, ok := names[id]; ok {
			return n
		}
		n := id
		if c, err := s.Provider.Client(r.Context(), id); err == nil {
			if ac, ok := oauth.ClientOf(c); ok && ac.Name != "" {
				n = ac.Name + " (" + id + ")"
			}
		}
		names[id] = n
		return n
	}
	rows := make([]loginRow, 0, len(events))
	for _, e := range events {
		rows = append(rows, loginRow{
			Time:     e.Time.UTC(),
			Method:   methodLabel(e.Method),
			Result:   e.Result,
			SourceIP: e.SourceIP,
			Client:   clientName(e.ClientID),
		})
	}
	return rows
}

func methodLabel(m string) string {
	switch m {
	case accounts.MethodLoginPage:
		return "Sign-in page"
	case accounts.MethodPasswordGrant:
		return "Password and security token (legacy)"
	case accounts.MethodPasswordGrantRefresh:
		return "Refresh of a legacy password sign-in"
	case accounts.MethodPasskey:
		return "Passkey, without password"
	}
	return m
}

// handleTokenForm explains the security token and asks for confirmation.
func (s *Server) handleTokenForm() http.Handler {
	return s.handleAccountForm("Reset my security token", "account-token")
}

// handleTokenReset gives the user a new security token, which goes only
// to their email address: no page ever shows it. A reset beyond the
// limits (accounts.TokenResetInterval, TokenResetsPerDay) shows the form
// again with a 429 that says when a reset is possible.
func (s *Server) handleTokenReset() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.accountPost(w, r)
		if !ok {
			return
		}
		err := s.Users.ResetToken(r.Context(), accounts.UserActor(u.Username), u.Username, true)
		if errors.Is(err, accounts.ErrNotFound) {
			s.accountGone(w, r)
			return
		}
		if e, ok := apperr.As(err); ok && errors.Is(err, accounts.ErrTooManyResets) {
			p, _ := s.accountPage(w, r, "Reset my security token", u)
			p.Error = "Your security token was not reset: " + e.Text() + "."
			s.pages.Render(w, r, http.StatusTooManyRequests, "account-token", p)
			return
		}
		if err != nil {
			s.renderFailure(w, r, err, true)
			return
		}
		s.accountDone(w, r, u, noticeTokenReset)
	})
}

// handlePasswordForm shows the change-password form.
func (s *Server) handlePasswordForm() http.Handler {
	return s.handleAccountForm("Change my password", "account-password")
}

// handlePasswordChange changes the password after checking the current
// one; the accounts service also issues and emails a new security token.
// It then signs out every other browser of the user, since whoever knew
// the old password may have signed in with it, and gives this browser a
// fresh session.
func (s *Server) handlePasswordChange() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.accountPost(w, r)
		if !ok {
			return
		}
		retry := s.accountRetry(w, r, u, "Change my password", "account-password")
		current := r.PostFormValue("current_password")
		next := r.PostFormValue("new_password")
		switch {
		case current == "" || next == "":
			retry(http.StatusBadRequest, "Enter your current password and a new password. Nothing was changed.")
			return
		case next != r.PostFormValue("confirm_password"):
			retry(http.StatusBadRequest, "The new password and its confirmation do not match. Nothing was changed.")
			return
		}
		// Every session of the user ends with the change, this one
		// included: a fresh one is started below, so that the session
		// id changes with the password.
		err := s.Users.ChangeOwnPassword(r.Context(), u.ID, "", current, next)
		fe, isApp := apperr.As(err)
		status, msg, refused := currentPasswordRefusal(err)
		switch {
		case err == nil:
		case refused:
			retry(status, msg)
			return
		case isApp && fe.Code == apperr.Invalid && fe.Field != "":
			retry(http.StatusBadRequest, fieldMessage(fe))
			return
		case errors.Is(err, accounts.ErrNotFound):
			s.accountGone(w, r)
			return
		default:
			s.renderFailure(w, r, err, true)
			return
		}
		if _, err := s.sessions.Start(r.Context(), w, r, u.ID); err != nil {
			s.Logger.ErrorContext(r.Context(), "new session after password change", "request_id", RequestID(r.Context()), "user_id", u.ID, "error", err)
		}
		s.accountDone(w, r, u, noticePasswordChanged)
	})
}

// accountRetry returns the function that shows the account form tmpl,
// titled title, again to u with an error and a status.
func (s *Server) accountRetry(w http.ResponseWriter, r *http.Request, u models.User, title, tmpl string) func(status int, msg string) {
	return func(status int, msg string) {
		p, _ := s.accountPage(w, r, title, u)
		p.Error = msg
		s.pages.Render(w, r, status, tmpl, p)
	}
}

// currentPasswordRefusal is the status and message of a change refused
// because the current password was wrong or its check is locked, and
// false for any other error.
func currentPasswordRefusal(err error) (int, string, bool) {
	switch {
	case errors.Is(err, accounts.ErrLocked):
		return http.StatusForbidden, "Too many wrong passwords: signing in and changes to your account are locked for a while. Nothing was changed. Try again later or ask an administrator to unlock your account.", true
	case errors.Is(err, accounts.ErrBadCredentials):
		return http.StatusBadRequest, "The current password is incorrect. Nothing was changed.", true
	}
	return 0, "", false
}

// fieldMessage turns a validation error into a sentence for the
// change-password form. The only field the form sends is the new password.
func fieldMessage(fe *apperr.Error) string {
	field := fe.Field
	if field == "password" {
		field = "The new password"
	}
	return fmt.Sprintf("%s %s. Nothing was changed.", field, fe.Message)
}

// maskEmail hides most of an address while leaving enough for its owner
// to recognise it: "alice@example.com" becomes "a***@example.com".
func maskEmail(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "your email address"
	}
	first, _ := utf8.DecodeRuneInString(addr)
	return string(first) + "***" + addr[at:]
}

// sessionsAndGrants fills in the user's open sessions (the current one
// marked) and the applications they have allowed.
func (s *Server) sessionsAndGrants(r *http.Request, u models.User, d *accountData) error {
	now := s.sessions.Now()
	sessions, err := s.Store.UserSessions(r.Context(), u.ID, sessionSurface, now)
	if err != nil {
		return err
	}
	current, _, _ := s.sessions.Current(r)
	for _, ls := range sessions {
		if ls.SID == "" {
			continue // begun before sessions had public ids; it expires on its own
		}
		row := sessionRow{SID: ls.SID, UserAgent: ls.UserAgent, SourceIP: ls.SourceIP, Started: ls.CreatedAt.UTC(), Current: ls.SID == current.SID}
		if ls.LastSeenAt != nil {
			row.LastSeen = ls.LastSeenAt.UTC()
		}
		d.Sessions = append(d.Sessions, row)
	}
	grants, err := s.Store.UserGrants(r.Context(), u.ID, now)
	if err != nil {
		return err
	}
	for _, g := range grants {
		d.Grants = append(d.Grants, grantRow{ClientID: g.Client.ID, Name: g.Client.Name, Scopes: g.Scopes, Since: g.Since.UTC(), Tokens: g.Tokens})
	}
	return nil
}

// handleEndSessionOf ends one of the user's sessions, named by its public
// id; the user's own sessions only. Ending the current one signs this
// browser out.
func (s *Server) handleEndSessionOf() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.accountPost(w, r)
		if !ok {
			return
		}
		current, _, _ := s.sessions.Current(r)
		sid := r.PostFormValue("sid")
		_, found, err := s.Store.EndUserSession(r.Context(), u.ID, sid, s.sessions.Now())
		if err != nil {
			s.renderFailure(w, r, err, true)
			return
		}
		if !found {
			// Already ended, or not this user's: nothing to report.
			http.Redirect(w, r, "/account", http.StatusSeeOther)
			return
		}
		s.logoutQueued()
		if sid == current.SID {
			http.SetCookie(w, s.sessions.Cookie("session", "", -1))
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		s.accountDone(w, r, u, noticeSessionEnded)
	})
}

// handleRevokeGrant revokes what the user granted one application: its
// tokens and codes and the consent.
func (s *Server) handleRevokeGrant() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.accountPost(w, r)
		if !ok {
			return
		}
		clientID := r.PostFormValue("client_id")
		if _, err := s.Store.RevokeGrant(r.Context(), u.ID, clientID); err != nil {
			s.renderFailure(w, r, err, true)
			return
		}
		s.Logger.InfoContext(r.Context(), "grant revoked by its user", "request_id", RequestID(r.Context()), "user_id", u.ID, "client_id", clientID)
		s.accountDone(w, r, u, noticeGrantRevoked)
	})
}
