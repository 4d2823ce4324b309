package server

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/mfa"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/models"
)

// The second step of a sign-in. After the password, a user who has a
// second factor (or must enrol one: see needsMFA) gets no session yet but
// a second step: a row in the database (so any replica can finish it),
// keyed by the keyed hash of a cookie (so it is bound to this browser),
// expiring after Config.MFA.StepLifespan. The step's page offers every
// factor the user has; each kind is a Factor. Every check of a factor is
// an attempt of the sign-in core on the SecondFactor channel: the same
// lockout (per user and source) as the password, the same cost for every
// failure, a row in the login history naming the factor.

// ACR values (OpenID Connect acr): a client asks for MFA with
// acr_values=ACRMFA; ID tokens say which was met.
const (
	ACRPassword = "urn:authgate:pwd"
	ACRMFA      = "urn:authgate:mfa"
)

// AMR values of RFC 8176 this server writes.
const (
	amrPassword = "pwd"
	amrOTP      = "otp"
	amrMFA      = "mfa"
)

// Factor is one kind of second factor the second step offers (TOTP, a
// passkey). The second-step page lists the factors the user has; its form
// posts the kind in the field "factor" and the factor's own fields.
type Factor interface {
	// Kind names the factor in forms and templates ("totp", "passkey").
	Kind() string
	// Enrolled reports whether the user has this factor.
	Enrolled(ctx context.Context, userID string) (bool, error)
	// Verifier builds the sign-in core's Verifier of the second step's
	// form in r (parsed already) for step.
	Verifier(r *http.Request, step models.SecondStep) signin.Verifier
	// AMR lists the RFC 8176 values a success with v (a Verifier this
	// factor built) adds to the session ("otp"; "hwk" or "swk").
	AMR(v signin.Verifier) []string
}

// MFA is what the pages need of the second-factor service (mfa.Service).
type MFA interface {
	Required(u models.User, clientRequires bool) bool
	Enrolled(ctx context.Context, userID string) (bool, error)
	List(ctx context.Context, userID string) (mfa.Factors, error)
	Begin(ctx context.Context, u models.User) (mfa.Enrolment, error)
	Pending(ctx context.Context, u models.User) (mfa.Enrolment, bool, error)
	Confirmation(code string) *mfa.Confirmation
	CodeVerifier(code string) signin.Verifier
	Remove(ctx context.Context, actor string, u models.User) (bool, error)
}

// SecondSteps is what the second step needs of the storage.
type SecondSteps interface {
	CreateSecondStep(ctx context.Context, st models.SecondStep) error
	SecondStep(ctx context.Context, idHash string) (models.SecondStep, bool, error)
	DeleteSecondStep(ctx context.Context, idHash string) (bool, error)
	SetSessionAMR(ctx context.Context, idHash, amr string) error
}

// totpFactor is TOTP (with its recovery codes) as a second-step Factor.
type totpFactor struct{ mfa MFA }

func (f totpFactor) Kind() string { return signin.FactorTOTP }

func (f totpFactor) Enrolled(ctx context.Context, userID string) (bool, error) {
	return f.mfa.Enrolled(ctx, userID)
}

func (f totpFactor) Verifier(r *http.Request, _ models.SecondStep) signin.Verifier {
	return f.mfa.CodeVerifier(r.PostFormValue("code"))
}

func (f totpFactor) AMR(signin.Verifier) []string { return []string{amrOTP} }

// sessionAMR is the amr of a session: "pwd" for one from before MFA.
func sessionAMR(ls models.LoginSession) []string {
	if f := strings.Fields(ls.AMR); len(f) > 0 {
		return f
	}
	return []string{amrPassword}
}

// acrOf is the acr a session meets.
func acrOf(amr []string) string {
	if slices.Contains(amr, amrMFA) {
		return ACRMFA
	}
	return ACRPassword
}

// asksMFA reports whether acr_values (space-separated, in order of
// preference) asks for MFA: when ACRMFA comes before ACRPassword (values
// this server does not know are passed over).
func asksMFA(acrValues string) bool {
	for _, v := range strings.Fields(acrValues) {
		switch v {
		case ACRMFA:
			return true
		case ACRPassword:
			return false
		}
	}
	return false
}

// enrolledFactors lists the factors userID has.
func (s *Server) enrolledFactors(ctx context.Context, userID string) ([]Factor, error) {
	var out []Factor
	for _, f := range s.factors {
		ok, err := f.Enrolled(ctx, userID)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, f)
		}
	}
	return out, nil
}

// needsMFA reports whether u must show a second factor to sign in to the
// client (nil: none) with acr_values: when u has one, when the policy
// requires it of u or of the client, or when the client asks for it.
func (s *Server) needsMFA(ctx context.Context, u models.User, clientRequires bool, acrValues string) (bool, error) {
	if s.MFA == nil {
		return false, nil
	}
	if s.MFA.Required(u, clientRequires) || asksMFA(acrValues) {
		return true, nil
	}
	fs, err := s.enrolledFactors(ctx, u.ID)
	return len(fs) > 0, err
}

// stepHash is the stored key of a second-step cookie.
func (s *Server) stepHash(raw string) string { return s.Keys.MAC("second-step", []byte(raw)) }

// beginSecondStep starts the second step of u in this browser and sends
// it to the step's page.
func (s *Server) beginSecondStep(w http.ResponseWriter, r *http.Request, u models.User, clientID, returnTo string) {
	fs, err := s.enrolledFactors(r.Context(), u.ID)
	if err != nil {
		s.renderFailure(w, r, err, false)
		return
	}
	raw, err := keyring.RandomString(32)
	if err != nil {
		s.renderFailure(w, r, err, false)
		return
	}
	now := s.sessions.Now().UTC()
	life := cmp.Or(s.Config.MFA.StepLifespan, 5*time.Minute)
	st := models.SecondStep{
		IDHash: s.stepHash(raw), UserID: u.ID, ClientID: clientID, ReturnTo: returnTo,
		Enrol: len(fs) == 0, CreatedAt: now, ExpiresAt: now.Add(life),
	}
	if err := s.Steps.CreateSecondStep(r.Context(), st); err != nil {
		s.renderFailure(w, r, err, false)
		return
	}
	// A browser that starts a second step leaves any session it had.
	s.endSession(w, r)
	http.SetCookie(w, s.sessions.Cookie("step", raw, int(life.Seconds())))
	http.Redirect(w, r, "/login/verify", http.StatusSeeOther)
}

// errNoStep is a second step that is gone: never started in this browser,
// finished, or removed.
var errNoStep = errors.New("no second step")

// currentStep returns the browser's second step. An expired one is
// counted as a failed attempt (the lockout and the login history see it)
// and ended; then, like a missing one, errNoStep.
func (s *Server) currentStep(w http.ResponseWriter, r *http.Request, count bool) (models.SecondStep, string, error) {
	raw, ok := s.sessions.CookieValue(r, "step")
	if !ok || len(raw) > 128 {
		return models.SecondStep{}, "", errNoStep
	}
	h := s.stepHash(raw)
	st, ok, err := s.Steps.SecondStep(r.Context(), h)
	if err != nil {
		return models.SecondStep{}, "", err
	}
	if !ok {
		http.SetCookie(w, s.sessions.Cookie("step", "", -1))
		return models.SecondStep{}, "", errNoStep
	}
	if !s.sessions.Now().Before(st.ExpiresAt) {
		if count {
			if _, err := s.Users.Attempt(r.Context(), s.stepRequest(r, st, expiredStep{}, "")); err != nil {
				return models.SecondStep{}, "", err
			}
		}
		if _, err := s.Steps.DeleteSecondStep(r.Context(), h); err != nil {
			return models.SecondStep{}, "", err
		}
		http.SetCookie(w, s.sessions.Cookie("step", "", -1))
		return models.SecondStep{}, "", errNoStep
	}
	return st, h, nil
}

// expiredStep is the Verifier of a second step completed after its
// expiry: always a failure, at the cost of any other.
type expiredStep struct{}

func (expiredStep) Cost() int { return 1 }
func (expiredStep) Verify(context.Context, models.User, string, signin.Check) (string, error) {
	return signin.ResultSecondStepExpired, nil
}

// stepRequest is the sign-in core's request for a check in step st.
func (s *Server) stepRequest(r *http.Request, st models.SecondStep, v signin.Verifier, factor string) signin.Request {
	req := signin.Request{
		Channel: signin.SecondFactor, Subject: signin.Subject{UserID: st.UserID},
		Verifier: v, Factor: factor, ClientID: st.ClientID, UserAgent: r.UserAgent(),
	}
	if addr, ok := clientip.FromContext(r.Context()); ok {
		req.SourceIP = addr.String()
	}
	return req
}

// stepData is the Data of the second-step pages.
type stepData struct {
	// Factors are the kinds the user can answer with, in order.
	Factors []string
	// Enrol is set when the user has no factor yet and must set one up.
	Enrol     bool
	Enrolment mfa.Enrolment
	// Codes are recovery codes to show once, after an enrolment.
	Codes    []string
	ReturnTo string
	// State is a factor's data for the page (a WebAuthn challenge).
	State string
}

// stepGone answers a second step that is missing or expired.
func (s *Server) stepGone(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, r, http.StatusUnauthorized, "/account", "", "Your sign-in took too long or started in another browser. Sign in again.")
}

// renderStep shows the second step of st.
func (s *Server) renderStep(w http.ResponseWriter, r *http.Request, status int, st models.SecondStep, errMsg string) {
	u, err := s.Users.GetUserByID(r.Context(), st.UserID)
	if err != nil {
		s.renderFailure(w, r, err, false)
		return
	}
	d := &stepData{Enrol: st.Enrol, ReturnTo: st.ReturnTo, State: st.State}
	if st.Enrol {
		e, ok, err := s.MFA.Pending(r.Context(), u)
		if err == nil && !ok {
			e, err = s.MFA.Begin(r.Context(), u)
		}
		if err != nil {
			s.renderFailure(w, r, err, false)
			return
		}
		d.Enrolment = e
	} else {
		fs, err := s.enrolledFactors(r.Context(), u.ID)
		if err != nil {
			s.renderFailure(w, r, err, false)
			return
		}
		for _, f := range fs {
			d.Factors = append(d.Factors, f.Kind())
		}
	}
	title := "Two-step verification"
	if st.Enrol {
		title = "Set up two-step verification"
	}
	p := s.page(w, r, title, "", false)
	p.Data = d
	p.Error = errMsg
	p.Username = u.Username
	p.ClientName = s.clientNameFor(r, st.ReturnTo)
	s.pages.Render(w, r, status, "second-step", p)
}

func (s *Server) handleStepForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, _, err := s.currentStep(w, r, false)
		if errors.Is(err, errNoStep) {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if err != nil {
			s.renderFailure(w, r, err, false)
			return
		}
		s.renderStep(w, r, http.StatusOK, st, "")
	})
}

// stepFailure is what a failed second step says.
func stepFailure(o signin.Outcome) string {
	switch o.Result {
	case signin.ResultLockout, signin.ResultThrottled:
		return "Too many attempts. Wait a few minutes and sign in again."
	case signin.ResultCodeReused:
		return "That code was already used. Wait for the next code from your app, or use another recovery code."
	}
	return "The code is not correct. Try again with the current code from your app, or a recovery code."
}

func (s *Server) handleStep() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			s.stepGone(w, r)
			return
		}
		if !s.sessions.CheckCSRF(r) {
			s.renderLogin(w, r, http.StatusForbidden, "/account", "", "The form expired or did not come from this site. Sign in again.")
			return
		}
		st, h, err := s.currentStep(w, r, true)
		if errors.Is(err, errNoStep) {
			s.stepGone(w, r)
			return
		}
		if err != nil {
			s.renderFailure(w, r, err, false)
			return
		}
		ctx := r.Context()
		var (
			v      signin.Verifier
			amr    []string
			conf   *mfa.Confirmation
			factor Factor
		)
		if st.Enrol {
			conf = s.MFA.Confirmation(r.PostFormValue("code"))
			v, amr = conf, []string{amrOTP}
		} else {
			kind := r.PostFormValue("factor")
			fs, err := s.enrolledFactors(ctx, st.UserID)
			if err != nil {
				s.renderFailure(w, r, err, false)
				return
			}
			i := slices.IndexFunc(fs, func(f Factor) bool { return f.Kind() == kind })
			if i < 0 {
				s.renderStep(w, r, http.StatusBadRequest, st, "Choose how to confirm it is you.")
				return
			}
			factor = fs[i]
			v = factor.Verifier(r, st)
		}
		o, err := s.Users.Attempt(ctx, s.stepRequest(r, st, v, ""))
		if err != nil {
			s.Logger.ErrorContext(ctx, "second step failed", "request_id", RequestID(ctx), "error", err)
			s.renderFailure(w, r, err, false)
			return
		}
		s.Metrics.MFA(o.Factor, o.Result)
		if !o.OK() {
			s.renderStep(w, r, http.StatusUnauthorized, st, stepFailure(o))
			return
		}
		if factor != nil {
			amr = factor.AMR(v)
		}
		// Of two parallel completions, one signs in.
		if won, err := s.Steps.DeleteSecondStep(ctx, h); err != nil || !won {
			if err != nil {
				s.renderFailure(w, r, err, false)
				return
			}
			s.stepGone(w, r)
			return
		}
		http.SetCookie(w, s.sessions.Cookie("step", "", -1))
		full := append([]string{amrPassword}, amr...)
		full = append(full, amrMFA)
		if _, err := s.sessions.StartAMR(ctx, w, r, st.UserID, strings.Join(full, " ")); err != nil {
			s.renderFailure(w, r, err, false)
			return
		}
		if conf != nil {
			// The recovery codes are shown once, now.
			p := s.page(w, r, "Save your recovery codes", "", true)
			p.Data = &stepData{Codes: conf.Codes, ReturnTo: st.ReturnTo}
			s.pages.Render(w, r, http.StatusOK, "recovery-codes", p)
			return
		}
		http.Redirect(w, r, st.ReturnTo, http.StatusSeeOther)
	})
}

// loginACR returns the acr_values of the authorization request returnTo
// names ("" for none).
func loginACR(returnTo string) string {
	u, err := url.Parse(returnTo)
	if err != nil || u.Path != "/oauth2/authorize" {
		return ""
	}
	return u.Query().Get("acr_values")
}
