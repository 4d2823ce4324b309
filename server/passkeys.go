package server

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/internal/passkeys"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/models"
)

// Passkeys: /account/passkeys lists a user's passkeys and registers new
// ones; /login offers "Sign in with a passkey" for passkeys the user chose
// to sign in with alone. The ceremonies run in the page's script
// (/static/passkeys.js, served from here: the CSP allows only this
// origin's scripts), which talks to the begin and finish endpoints below
// in JSON. Each begin stores the ceremony (internal/passkeys) and gives
// the browser its key in the webauthn cookie; each finish consumes it.

//go:embed static/passkeys.js
var passkeysJS []byte

// ceremonyCookie holds the key of the browser's passkey ceremony.
const ceremonyCookie = "webauthn"

// Notices of the passkeys page.
const (
	noticePasskeyAdded   = "passkey-added"
	noticePasskeyRenamed = "passkey-renamed"
	noticePasskeyRemoved = "passkey-removed"
	noticePasskeyChanged = "passkey-changed"
)

// passkeysEnabled reports whether this server offers passkeys.
func (s *Server) passkeysEnabled() bool { return s.Passkeys.Enabled() }

// passkeysData is the Data of the passkeys page.
type passkeysData struct {
	Username string
	Enabled  bool
	Passkeys []passkeyRow
}

type passkeyRow struct {
	ID           string
	Name         string
	Kind         string
	Passwordless bool
	Created      time.Time
	LastUsed     *time.Time
}

func passkeyKind(c models.WebAuthnCredential) string {
	if c.BackupEligible {
		return "Synced passkey"
	}
	return "Device-bound security key"
}

// handlePasskeysJS serves the passkey ceremonies' script.
func handlePasskeysJS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(passkeysJS)
	})
}

// setCeremony gives the browser the key of the ceremony it began.
func (s *Server) setCeremony(w http.ResponseWriter, c passkeys.Ceremony) {
	http.SetCookie(w, s.sessions.Cookie(ceremonyCookie, c.Key, int(s.Config.PasskeyTimeout.Seconds())+5))
}

// takeCeremony returns the key of the browser's ceremony and clears the
// cookie: a ceremony is finished once.
func (s *Server) takeCeremony(w http.ResponseWriter, r *http.Request) string {
	key, _ := s.sessions.CookieValue(r, ceremonyCookie)
	http.SetCookie(w, s.sessions.Cookie(ceremonyCookie, "", -1))
	return key
}

// passkeyError answers a JSON endpoint of the passkey ceremonies.
func (s *Server) passkeyError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, desc := classify(r.Context(), err)
	if status >= 500 {
		s.Logger.ErrorContext(r.Context(), "passkey request failed", "request_id", RequestID(r.Context()), "error", err)
		desc = "Passkeys are not available right now. Try again shortly."
	}
	writeJSONError(w, status, code, desc)
}

// readJSON decodes the request's JSON body into v.
func readJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return apperr.New(apperr.Invalid, "the request could not be read")
	}
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return apperr.New(apperr.Invalid, "the request is not valid JSON")
	}
	return nil
}

// jsonUser returns the signed-in user of a JSON request on /account after
// checking its CSRF token (X-CSRF-Token); otherwise it has answered.
func (s *Server) jsonUser(w http.ResponseWriter, r *http.Request) (models.User, bool) {
	if !s.sessions.CheckCSRF(r) {
		writeJSONError(w, http.StatusForbidden, "access_denied", "The page expired or did not come from this site. Reload it and try again.")
		return models.User{}, false
	}
	ls, ok, err := s.sessions.Current(r)
	if err != nil {
		s.passkeyError(w, r, err)
		return models.User{}, false
	}
	if !ok {
		writeJSONError(w, http.StatusUnauthorized, "login_required", "You are signed out. Sign in again.")
		return models.User{}, false
	}
	u, err := s.Users.GetUserByID(r.Context(), ls.UserID)
	if err != nil {
		if errors.Is(err, accounts.ErrNotFound) {
			writeJSONError(w, http.StatusUnauthorized, "login_required", "You are signed out. Sign in again.")
			return models.User{}, false
		}
		s.passkeyError(w, r, err)
		return models.User{}, false
	}
	if !s.passkeysEnabled() {
		s.passkeyError(w, r, passkeys.ErrDisabled)
		return models.User{}, false
	}
	return u, true
}

// handlePasskeys shows the user's passkeys and the form that adds one.
func (s *Server) handlePasskeys() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.accountUser(w, r)
		if !ok {
			return
		}
		list, err := s.Passkeys.List(r.Context(), u.ID)
		if err != nil {
			s.renderFailure(w, r, err, true)
			return
		}
		p := s.page(w, r, "Passkeys", "", true)
		p.Username = u.Username
		p.Notice = s.takeNotice(w, r, u)
		d := &passkeysData{Username: u.Username, Enabled: s.passkeysEnabled()}
		for _, c := range list {
			d.Passkeys = append(d.Passkeys, passkeyRow{ID: c.ID, Name: c.Name, Kind: passkeyKind(c), Passwordless: c.Passwordless, Created: c.CreatedAt.UTC(), LastUsed: c.LastUsedAt})
		}
		p.Data = d
		s.pages.Render(w, r, http.StatusOK, "account-passkeys", p)
	})
}

// handlePasskeyRegisterBegin starts adding a passkey to the signed-in
// user, bound to their session.
func (s *Server) handlePasskeyRegisterBegin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.jsonUser(w, r)
		if !ok {
			return
		}
		var in struct {
			Passwordless bool `json:"passwordless"`
		}
		if err := readJSON(r, &in); err != nil {
			s.passkeyError(w, r, err)
			return
		}
		binding, _ := s.sessions.IDHash(r)
		c, err := s.Passkeys.BeginRegistration(r.Context(), u, binding, in.Passwordless)
		if err != nil {
			s.passkeyError(w, r, err)
			return
		}
		s.setCeremony(w, c)
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, c.Options)
	})
}

// handlePasskeyRegisterFinish stores the passkey the browser created.
func (s *Server) handlePasskeyRegisterFinish() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.jsonUser(w, r)
		if !ok {
			return
		}
		var in struct {
			Name       string          `json:"name"`
			Credential json.RawMessage `json:"credential"`
		}
		if err := readJSON(r, &in); err != nil {
			s.passkeyError(w, r, err)
			return
		}
		binding, _ := s.sessions.IDHash(r)
		key := s.takeCeremony(w, r)
		c, err := s.Passkeys.FinishRegistration(r.Context(), u, binding, key, in.Credential, in.Name, accounts.UserActor(u.Username))
		if err != nil {
			if apperr.CodeOf(err) == apperr.Invalid {
				s.Logger.InfoContext(r.Context(), "passkey registration refused", "user_id", u.ID, "error", err)
			}
			s.passkeyError(w, r, err)
			return
		}
		s.Logger.InfoContext(r.Context(), "passkey added", "user_id", u.ID, "passkey_id", c.ID)
		// The browser just proved it holds the passkey: like a confirmed
		// TOTP set-up, the session counts as signed in with both factors,
		// so the account pages (which ask a user with a factor for an MFA
		// session) do not send it back to the login page.
		if ls, ok, err := s.sessions.Current(r); err == nil && ok && binding != "" && !slices.Contains(sessionAMR(ls), amrMFA) {
			if err := s.Steps.SetSessionAMR(r.Context(), binding, strings.Join([]string{amrPassword, passkeys.AMR(c), amrMFA}, " ")); err != nil {
				s.passkeyError(w, r, err)
				return
			}
		}
		s.setNotice(w, u, noticePasskeyAdded)
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]string{"id": c.ID, "redirect": "/account/passkeys"})
	})
}

// handlePasskeyChange renames, removes or switches passwordless sign-in
// of one of the signed-in user's passkeys (a form POST).
func (s *Server) handlePasskeyChange(action string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.accountPost(w, r)
		if !ok {
			return
		}
		id := r.PathValue("id")
		actor := accounts.UserActor(u.Username)
		var err error
		var notice string
		switch action {
		case "rename":
			err, notice = s.Passkeys.Rename(r.Context(), u, id, r.PostFormValue("name"), actor), noticePasskeyRenamed
		case "passwordless":
			err, notice = s.Passkeys.SetPasswordless(r.Context(), u, id, r.PostFormValue("passwordless") == "on", actor), noticePasskeyChanged
		case "remove":
			notice = noticePasskeyRemoved
			if err = s.keepsAFactor(r.Context(), u); err == nil {
				err = s.Passkeys.Remove(r.Context(), u, id, actor)
			}
		}
		if err != nil {
			if e, ok := apperr.As(err); ok && e.Code != apperr.Internal && e.Code != apperr.Unavailable {
				p := s.page(w, r, "Passkeys", e.Text(), true)
				s.pages.Render(w, r, statusOf(e.Code), "error", p)
				return
			}
			s.renderFailure(w, r, err, true)
			return
		}
		s.setNotice(w, u, notice)
		http.Redirect(w, r, "/account/passkeys", http.StatusSeeOther)
	})
}

// statusOf is the HTTP status of an application error code.
func statusOf(c apperr.Code) int {
	switch c {
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.Forbidden:
		return http.StatusForbidden
	default:
		return http.StatusBadRequest
	}
}

// passkeyNotice is the text of a passkeys page notice, "" if notice is
// none of them.
func passkeyNotice(notice string) string {
	switch notice {
	case noticePasskeyAdded:
		return "Your passkey was added."
	case noticePasskeyRenamed:
		return "Your passkey was renamed."
	case noticePasskeyRemoved:
		return "Your passkey was removed."
	case noticePasskeyChanged:
		return "Your passkey was changed."
	}
	return ""
}

// handlePasskeyLoginBegin starts a passwordless sign-in. The login form's
// CSRF token must come with it (X-CSRF-Token).
func (s *Server) handlePasskeyLoginBegin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.sessions.CheckCSRF(r) {
			writeJSONError(w, http.StatusForbidden, "access_denied", "The page expired or did not come from this site. Reload it and try again.")
			return
		}
		c, err := s.Passkeys.BeginLogin(r.Context(), "")
		if err != nil {
			s.passkeyError(w, r, err)
			return
		}
		s.setCeremony(w, c)
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, c.Options)
	})
}

// handlePasskeyLoginFinish signs in with the passkey the browser
// returned, through the sign-in core: the attempt is counted against the
// user its passkey names, on the login page's counter.
func (s *Server) handlePasskeyLoginFinish() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.sessions.CheckCSRF(r) {
			writeJSONError(w, http.StatusForbidden, "access_denied", "The page expired or did not come from this site. Reload it and try again.")
			return
		}
		if !s.passkeysEnabled() {
			s.passkeyError(w, r, passkeys.ErrDisabled)
			return
		}
		var in struct {
			ReturnTo   string          `json:"return_to"`
			Credential json.RawMessage `json:"credential"`
		}
		if err := readJSON(r, &in); err != nil {
			s.passkeyError(w, r, err)
			return
		}
		key := s.takeCeremony(w, r)
		a, err := passkeys.ParseAssertion(in.Credential)
		if err != nil {
			s.passkeyError(w, r, err)
			return
		}
		handle := a.UserHandle()
		if handle == "" {
			writeJSONError(w, http.StatusBadRequest, "invalid_request", "This passkey cannot sign in without a password. Sign in with your password.")
			return
		}
		returnTo := safeReturn(in.ReturnTo)
		v := s.Passkeys.Verifier(passkeys.Login, "", key, a)
		req := signin.Request{Channel: signin.PasskeyLogin, Subject: signin.Subject{UserID: handle, Claimed: true}, Verifier: v, Factor: signin.FactorPasskey, UserAgent: r.UserAgent()}
		if addr, ok := clientip.FromContext(r.Context()); ok {
			req.SourceIP = addr.String()
		}
		if c, ok := s.authorizeClient(r.Context(), returnTo); ok {
			req.ClientID = c.ID
		}
		o, err := s.Users.Attempt(r.Context(), req)
		if err != nil {
			s.Logger.ErrorContext(r.Context(), "passkey sign-in failed", "request_id", RequestID(r.Context()), "error", err)
			writeJSONError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "Signing in is not possible right now. Try again shortly.")
			return
		}
		s.Metrics.MFA(signin.FactorPasskey, o.Result)
		if !o.OK() {
			writeJSONError(w, http.StatusUnauthorized, "access_denied", "The passkey was not accepted, or the account is locked after too many attempts. Try again, or sign in with your password.")
			return
		}
		// A passkey that signs in alone verified the user (PIN, biometrics)
		// on the device that holds the key: two factors (RFC 8176 "mfa").
		if _, err := s.sessions.StartAMR(r.Context(), w, r, o.User.ID, passkeys.AMR(v.Used)+" "+amrMFA); err != nil {
			s.passkeyError(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]string{"redirect": returnTo})
	})
}

// passkeyFactor is a passkey as a factor of the login page's second step:
// the step's page begins a ceremony bound to the step
// (handlePasskeyStepBegin) and posts the assertion in the field
// "credential"; the sign-in core decides it with the passkey Verifier on
// the SecondFactor channel.
type passkeyFactor struct{ s *Server }

func (f passkeyFactor) Kind() string { return signin.FactorPasskey }

func (f passkeyFactor) Enrolled(ctx context.Context, userID string) (bool, error) {
	if !f.s.passkeysEnabled() {
		return false, nil
	}
	list, err := f.s.Passkeys.List(ctx, userID)
	return len(list) > 0, err
}

// Verifier checks the posted assertion against the ceremony of the
// browser's cookie, bound to step. A response that cannot be read is a
// failure like any other (counted).
func (f passkeyFactor) Verifier(r *http.Request, step models.SecondStep) signin.Verifier {
	key, _ := f.s.sessions.CookieValue(r, ceremonyCookie)
	a, err := passkeys.ParseAssertion([]byte(r.PostFormValue("credential")))
	if err != nil {
		a = nil
	}
	return f.s.Passkeys.Verifier(passkeys.Second, step.IDHash, key, a)
}

// AMR is "hwk" or "swk", by the passkey that passed.
func (f passkeyFactor) AMR(v signin.Verifier) []string {
	if pv, ok := v.(*passkeys.Verifier); ok && pv.Used.ID != "" {
		return []string{passkeys.AMR(pv.Used)}
	}
	return nil
}

// handlePasskeyStepBegin begins a passkey ceremony for the browser's
// second step: only the step's user's passkeys are offered and accepted,
// and only this step can finish it.
func (s *Server) handlePasskeyStepBegin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.sessions.CheckCSRF(r) {
			writeJSONError(w, http.StatusForbidden, "access_denied", "The page expired or did not come from this site. Sign in again.")
			return
		}
		st, _, err := s.currentStep(w, r, false)
		if errors.Is(err, errNoStep) {
			writeJSONError(w, http.StatusUnauthorized, "login_required", "Your sign-in took too long or started in another browser. Sign in again.")
			return
		}
		if err != nil {
			s.passkeyError(w, r, err)
			return
		}
		u, err := s.Users.GetUserByID(r.Context(), st.UserID)
		if err != nil {
			s.passkeyError(w, r, err)
			return
		}
		c, err := s.Passkeys.BeginSecond(r.Context(), u, st.IDHash)
		if err != nil {
			s.passkeyError(w, r, err)
			return
		}
		s.setCeremony(w, c)
		writeJSON(w, http.StatusOK, c.Options)
	})
}

// errLastFactor refuses removing the last second factor of a user the MFA
// policy requires it of: they could not sign in again.
var errLastFactor = apperr.New(apperr.Conflict, "this is your last second factor and your account requires one: add another passkey or an authenticator app first")

// keepsAFactor checks that removing one of u's passkeys leaves u a second
// factor when the policy requires one of u.
func (s *Server) keepsAFactor(ctx context.Context, u models.User) error {
	if s.MFA == nil || !s.MFA.Required(u, false) {
		return nil
	}
	fs, err := s.enrolledFactors(ctx, u.ID)
	if err != nil {
		return err
	}
	if len(fs) > 1 {
		return nil
	}
	list, err := s.Passkeys.List(ctx, u.ID)
	if err != nil {
		return err
	}
	if len(list) > 1 {
		return nil
	}
	return errLastFactor
}
