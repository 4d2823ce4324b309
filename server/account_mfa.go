package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/internal/mfa"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/models"
)

// The two-step verification page at /account/mfa: set up TOTP (a QR code
// and the key, confirmed by a first code: nothing is a factor before),
// see how many recovery codes are left, remove it with a current code or
// a recovery code. Every code is checked by the sign-in core on the
// FactorCheck channel, so a stolen session cannot guess codes beyond the
// login page's lockout.

// Notices of the two-step verification page.
const (
	noticeMFARemoved = "mfa-removed"
)

// mfaData is the Data of the two-step verification page.
type mfaData struct {
	Factors   mfa.Factors
	Enrolment mfa.Enrolment
	Required  bool
}

// factorCheck is a FactorCheck attempt of the signed-in user u.
func factorCheck(r *http.Request, u models.User, v signin.Verifier) signin.Request {
	req := signin.Request{Channel: signin.FactorCheck, Subject: signin.Subject{UserID: u.ID}, Verifier: v, UserAgent: r.UserAgent()}
	if addr, ok := clientip.FromContext(r.Context()); ok {
		req.SourceIP = addr.String()
	}
	return req
}

func (s *Server) renderMFA(w http.ResponseWriter, r *http.Request, status int, u models.User, errMsg string) {
	ctx := r.Context()
	fs, err := s.MFA.List(ctx, u.ID)
	if err != nil {
		s.renderFailure(w, r, err, true)
		return
	}
	d := &mfaData{Factors: fs, Required: s.MFA.Required(u, false)}
	if fs.Pending {
		if d.Enrolment, _, err = s.MFA.Pending(ctx, u); err != nil {
			s.renderFailure(w, r, err, true)
			return
		}
	}
	p, _ := s.accountPage(w, r, "Two-step verification", u)
	p.Data = d
	p.Error = errMsg
	p.Notice = s.takeNotice(w, r, u)
	s.pages.Render(w, r, status, "account-mfa", p)
}

func (s *Server) handleMFAPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.accountUser(w, r)
		if !ok {
			return
		}
		s.renderMFA(w, r, http.StatusOK, u, "")
	})
}

// handleMFASetup starts (or restarts) a TOTP enrolment with a new secret.
func (s *Server) handleMFASetup() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.accountPost(w, r)
		if !ok {
			return
		}
		if _, err := s.MFA.Begin(r.Context(), u); err != nil {
			if errors.Is(err, mfa.ErrEnrolled) {
				s.renderMFA(w, r, http.StatusConflict, u, "Two-step verification is already on. Remove it first to set up another app.")
				return
			}
			s.renderFailure(w, r, err, true)
			return
		}
		http.Redirect(w, r, "/account/mfa", http.StatusSeeOther)
	})
}

// handleMFAConfirm turns the pending enrolment into a factor with its
// first code, shows the recovery codes once, and records in the session
// that it proved the factor.
func (s *Server) handleMFAConfirm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.accountPost(w, r)
		if !ok {
			return
		}
		conf := s.MFA.Confirmation(r.PostFormValue("code"))
		o, err := s.Users.Attempt(r.Context(), factorCheck(r, u, conf))
		if err != nil {
			s.renderFailure(w, r, err, true)
			return
		}
		s.Metrics.MFA(signin.FactorTOTP, o.Result)
		if !o.OK() {
			s.renderMFA(w, r, http.StatusUnauthorized, u, stepFailure(o))
			return
		}
		if h, ok := s.sessions.IDHash(r); ok {
			if err := s.Steps.SetSessionAMR(r.Context(), h, strings.Join([]string{amrPassword, amrOTP, amrMFA}, " ")); err != nil {
				s.renderFailure(w, r, err, true)
				return
			}
		}
		p, _ := s.accountPage(w, r, "Save your recovery codes", u)
		p.Data = &stepData{Codes: conf.Codes, ReturnTo: "/account/mfa"}
		s.pages.Render(w, r, http.StatusOK, "recovery-codes", p)
	})
}

// handleMFARemove removes TOTP after a current code or a recovery code.
func (s *Server) handleMFARemove() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.accountPost(w, r)
		if !ok {
			return
		}
		o, err := s.Users.Attempt(r.Context(), factorCheck(r, u, s.MFA.CodeVerifier(r.PostFormValue("code"))))
		if err != nil {
			s.renderFailure(w, r, err, true)
			return
		}
		s.Metrics.MFA(o.Factor, o.Result)
		if !o.OK() {
			s.renderMFA(w, r, http.StatusUnauthorized, u, stepFailure(o))
			return
		}
		if _, err := s.MFA.Remove(r.Context(), accounts.UserActor(u.Username), u); err != nil {
			s.renderFailure(w, r, err, true)
			return
		}
		s.setNotice(w, u, noticeMFARemoved)
		http.Redirect(w, r, "/account/mfa", http.StatusSeeOther)
	})
}
