package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ory/fosite"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

// The device authorization grant (RFC 8628) on the public listener: the
// device authorization endpoint, where a device starts a request, and the
// verification page /device, where a signed-in person enters the user
// code the device shows and approves or denies the request. The page is
// the target of a known abuse: someone phones a user and talks them into
// entering a code. So it shows where and when the request started and
// says plainly to continue only if the user started it themselves, just
// now; a code from verification_uri_complete is filled in but never
// approved without the click; user codes typed wrong are limited per
// address and per session; and the approval goes through the sign-in
// core, which refuses a user locked out from the address.

// DeviceFlow is what the HTTP layer needs of the device grant
// (oauth.DeviceGrant).
type DeviceFlow interface {
	Authorize(ctx context.Context, client fosite.Client, form url.Values, sourceIP, userAgent string) (oauth.DeviceAuthorization, error)
	Lookup(ctx context.Context, typed string) (oauth.DeviceRequest, error)
	Decide(ctx context.Context, req oauth.DeviceRequest, d storage.DeviceDecision) error
}

var _ DeviceFlow = (*oauth.DeviceGrant)(nil)

func (s *Server) handleDeviceAuthorize() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := r.ParseForm(); err != nil {
			s.writeDeviceError(w, r, fosite.ErrInvalidRequest.WithHint("The request body is not a valid form.").WithWrap(err))
			return
		}
		client, err := s.Provider.AuthenticateClient(ctx, r)
		if err != nil {
			s.writeDeviceError(w, r, err)
			return
		}
		source := ""
		if addr, ok := clientip.FromContext(ctx); ok {
			source = addr.String()
		}
		resp, err := s.Device.Authorize(ctx, client, r.PostForm, source, r.UserAgent())
		if err != nil {
			s.writeDeviceError(w, r, err)
			return
		}
		s.Logger.InfoContext(ctx, "device authorization started", "request_id", RequestID(ctx), "client_id", client.GetID())
		writeJSON(w, http.StatusOK, resp)
	})
}

// writeDeviceError answers a failed device authorization request the way
// the token endpoint answers (RFC 8628 section 3.2 points to RFC 6749
// section 5.2).
func (s *Server) writeDeviceError(w http.ResponseWriter, r *http.Request, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	attrs := []any{"request_id", RequestID(r.Context()), "error", rfc.ErrorField}
	if rfc.CodeField >= 500 {
		s.Logger.ErrorContext(r.Context(), "device authorization failed", append(attrs, "cause", rfc.Cause())...)
	} else {
		s.Logger.InfoContext(r.Context(), "device authorization refused", attrs...)
	}
	if unavailable(r.Context(), err) {
		writeUnavailable(w)
		return
	}
	if rfc.ErrorField == fosite.ErrInvalidClient.ErrorField && r.Header.Get("Authorization") != "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="authgate"`)
	}
	s.Provider.WriteAccessError(r.Context(), w, nil, err)
}

// deviceData is the Data of the device pages.
type deviceData struct {
	// UserCode is what the entry form shows, XXXX-XXXX.
	UserCode string
	Username string
	// The request, on the confirmation page.
	ClientID  string
	SourceIP  string
	UserAgent string
	Started   string
	Ago       string
	Expires   string
}

// deviceSignedIn returns the signed-in user of a /device request. Without
// one it redirects to the login page, which brings the browser back to
// /device with the code it came with, and returns false.
func (s *Server) deviceSignedIn(w http.ResponseWriter, r *http.Request, code string) (models.User, string, bool) {
	h, hasCookie := s.sessions.IDHash(r)
	ls, ok, err := s.sessions.Current(r)
	if err != nil {
		s.renderFailure(w, r, err, false)
		return models.User{}, "", false
	}
	if ok && hasCookie {
		u, err := s.Users.GetUserByID(r.Context(), ls.UserID)
		if err == nil {
			return u, h, true
		}
		if !errors.Is(err, accounts.ErrNotFound) {
			s.renderFailure(w, r, err, false)
			return models.User{}, "", false
		}
		s.endSession(w, r)
	}
	back := "/device"
	if c, ok := oauth.NormalizeUserCode(code); ok {
		back += "?" + url.Values{"user_code": {oauth.FormatUserCode(c)}}.Encode()
	}
	http.Redirect(w, r, "/login?"+url.Values{"return_to": {back}}.Encode(), http.StatusSeeOther)
	return models.User{}, "", false
}

// handleDevicePage shows the code entry form, filled in from
// verification_uri_complete's user_code (a filled-in code still needs
// the person's click).
func (s *Server) handleDevicePage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := r.URL.Query().Get("user_code")
		u, _, ok := s.deviceSignedIn(w, r, code)
		if !ok {
			return
		}
		shown := ""
		if c, ok := oauth.NormalizeUserCode(code); ok {
			shown = oauth.FormatUserCode(c)
		}
		s.renderDeviceEntry(w, r, http.StatusOK, u, shown, "")
	})
}

func (s *Server) renderDeviceEntry(w http.ResponseWriter, r *http.Request, status int, u models.User, code, errMsg string) {
	p := s.page(w, r, "Connect a device", "", true)
	p.Username = u.Username
	p.Error = errMsg
	p.Data = deviceData{UserCode: code, Username: u.Username}
	s.pages.Render(w, r, status, "device", p)
}

// handleDeviceForm takes the forms of /device: a user code entered
// (action "continue"), then the decision on the request it names
// ("approve" or "deny"). Every POST carries the CSRF token.
func (s *Server) handleDeviceForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := r.ParseForm(); err != nil {
			s.renderProblem(w, r, http.StatusBadRequest, problem{Title: "Request refused", Message: "The form could not be read. Go back and try again.", Code: "invalid_request"})
			return
		}
		if !s.sessions.CheckCSRF(r) {
			s.renderProblem(w, r, http.StatusForbidden, problem{Title: "Request refused", Message: "The form expired or did not come from this site, so nothing was approved. Go back, reload the page and enter the code again.", Code: "invalid_request"})
			return
		}
		typed := r.PostForm.Get("user_code")
		u, sessionKey, ok := s.deviceSignedIn(w, r, typed)
		if !ok {
			return
		}
		if s.deviceStrikes.blocked(sessionKey) {
			s.renderProblem(w, r, http.StatusTooManyRequests, problem{
				Title:   "Too many wrong codes",
				Message: "Too many codes entered in this browser did not match a request. Start again on your device to get a new code, and come back later.",
				Code:    "too_many_attempts",
			})
			return
		}
		req, err := s.Device.Lookup(ctx, typed)
		switch {
		case errors.Is(err, oauth.ErrUnknownUserCode):
			s.deviceStrikes.add(sessionKey)
			s.renderDeviceEntry(w, r, http.StatusBadRequest, u, "", "That code does not match a waiting request. Check the code your device shows (it has eight letters, like BCDF-GHJK); if it has expired, start again on the device.")
			return
		case errors.Is(err, oauth.ErrDecided):
			s.renderProblem(w, r, http.StatusConflict, deviceDecided)
			return
		case err != nil:
			s.renderFailure(w, r, err, true)
			return
		}
		switch r.PostForm.Get("action") {
		case "approve":
			s.deviceApprove(w, r, u, req)
		case "deny":
			s.deviceDeny(w, r, u, req)
		default:
			s.renderDeviceConfirm(w, r, u, req)
		}
	})
}

// deviceDecided is the page of a request approved or denied already.
var deviceDecided = problem{
	Title:   "This code was used already",
	Message: "The request with this code was approved or denied already, and cannot be decided again. If you did not do that, tell your administrator; to connect a device, start again on the device.",
	Code:    "already_decided",
}

func (s *Server) renderDeviceConfirm(w http.ResponseWriter, r *http.Request, u models.User, req oauth.DeviceRequest) {
	p := s.page(w, r, "Approve this device?", "", true)
	p.Username = u.Username
	p.ClientName = req.ClientName
	if p.ClientName == "" {
		p.ClientName = req.ClientID
	}
	for _, scope := range req.Scopes {
		p.Scopes = append(p.Scopes, scopeDescription(scope))
	}
	now := time.Now()
	p.Data = deviceData{
		UserCode:  oauth.FormatUserCode(req.UserCode),
		Username:  u.Username,
		ClientID:  req.ClientID,
		SourceIP:  orUnknown(req.SourceIP),
		UserAgent: orUnknown(req.UserAgent),
		Started:   req.CreatedAt.UTC().Format("2006-01-02 15:04:05 MST"),
		Ago:       ago(now.Sub(req.CreatedAt)),
		Expires:   ago(req.ExpiresAt.Sub(now)),
	}
	s.pages.Render(w, r, http.StatusOK, "device-confirm", p)
}

func orUnknown(s string) string {
	if strings.TrimSpace(s) == "" {
		return "unknown"
	}
	return s
}

// ago says a duration in words, to the minute.
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < 2*time.Minute:
		return "1 minute"
	default:
		return fmt.Sprintf("%d minutes", int(d/time.Minute))
	}
}

// deviceApprove approves req for u. The approval is an attempt of the
// sign-in core (DeviceApproval channel): a user locked out from this
// address is refused, the same as at the login page, and the history
// records it with the device method.
func (s *Server) deviceApprove(w http.ResponseWriter, r *http.Request, u models.User, req oauth.DeviceRequest) {
	ctx := r.Context()
	ls, ok, err := s.sessions.Current(r)
	if err != nil || !ok {
		s.renderFailure(w, r, cmpErr(err, errors.New("session ended")), true)
		return
	}
	attempt := signin.Request{
		Channel: signin.DeviceApproval, Subject: signin.Subject{UserID: u.ID}, Verifier: signin.DeviceApprove{},
		ClientID: req.ClientID, UserAgent: r.UserAgent(),
	}
	if addr, ok := clientip.FromContext(ctx); ok {
		attempt.SourceIP = addr.String()
	}
	o, err := s.Users.Attempt(ctx, attempt)
	if err != nil {
		s.renderFailure(w, r, err, true)
		return
	}
	if !o.OK() {
		s.Logger.WarnContext(ctx, "device approval refused", "request_id", RequestID(ctx), "user_id", u.ID, "client_id", req.ClientID, "result", o.Result)
		s.renderProblem(w, r, http.StatusForbidden, problem{
			Title:   "Approval refused",
			Message: "Your account cannot approve devices right now: it is locked after too many failed sign-ins, or signing in from this network is paused. Nothing was approved. Try again later, or ask your administrator.",
			Code:    "access_denied",
		})
		return
	}
	err = s.Device.Decide(ctx, req, storage.DeviceDecision{Approve: true, UserID: u.ID, AuthTime: ls.AuthTime, ApproverIP: attempt.SourceIP})
	if s.deviceDecideFailed(w, r, err) {
		return
	}
	s.Logger.InfoContext(ctx, "device request approved", "request_id", RequestID(ctx), "user_id", u.ID, "client_id", req.ClientID)
	p := s.page(w, r, "Device connected", "You approved the request. Go back to your device: it continues by itself. You can close this page.", true)
	p.Notice = "Approved."
	s.pages.Render(w, r, http.StatusOK, "error", p)
}

// deviceDeny denies req. Anyone signed in may deny, locked out or not.
func (s *Server) deviceDeny(w http.ResponseWriter, r *http.Request, u models.User, req oauth.DeviceRequest) {
	ctx := r.Context()
	source := ""
	if addr, ok := clientip.FromContext(ctx); ok {
		source = addr.String()
	}
	err := s.Device.Decide(ctx, req, storage.DeviceDecision{Approve: false, UserID: u.ID, AuthTime: time.Now(), ApproverIP: source})
	if s.deviceDecideFailed(w, r, err) {
		return
	}
	e := models.LoginEvent{
		UserID: u.ID, Username: u.Username, ClientID: req.ClientID, SourceIP: source, UserAgent: r.UserAgent(),
		Method: signin.MethodDevice, Result: signin.ResultDeviceDenied,
	}
	if err := s.Users.RecordLogin(ctx, e); err != nil {
		s.Logger.ErrorContext(ctx, "record device denial", "request_id", RequestID(ctx), "error", err)
	}
	s.Logger.InfoContext(ctx, "device request denied", "request_id", RequestID(ctx), "user_id", u.ID, "client_id", req.ClientID)
	s.pages.Render(w, r, http.StatusOK, "error", s.page(w, r, "Request denied",
		"The device gets nothing. If someone asked you to enter this code, they were trying to get into your account: tell your administrator.", true))
}

// deviceDecideFailed answers a decision that could not be recorded and
// reports whether it did.
func (s *Server) deviceDecideFailed(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, oauth.ErrDecided):
		s.renderProblem(w, r, http.StatusConflict, deviceDecided)
	case errors.Is(err, oauth.ErrUnknownUserCode):
		s.renderProblem(w, r, http.StatusGone, problem{
			Title:   "This code has expired",
			Message: "The request expired before it was approved, so nothing was approved. Start again on your device to get a new code.",
			Code:    "expired_token",
		})
	default:
		s.renderFailure(w, r, err, true)
	}
	return true
}

func cmpErr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

// strikes counts, per browser session, the user codes entered that
// matched no request: past max within window, the session is refused.
// It is per process, like the per-source rate limits beside it; the
// number of sessions remembered is bounded.
type strikes struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	m      map[string]strike
}

type strike struct {
	n     int
	since time.Time
}

// maxStrikeSessions bounds the sessions strikes remembers.
const maxStrikeSessions = 100_000

func newStrikes(max int, window time.Duration, now func() time.Time) *strikes {
	if now == nil {
		now = time.Now
	}
	if max < 1 {
		max = 1
	}
	return &strikes{max: max, window: window, now: now, m: map[string]strike{}}
}

// blocked reports whether key has used up its wrong codes.
func (s *strikes) blocked(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[key]
	if !ok {
		return false
	}
	if s.now().Sub(st.since) >= s.window {
		delete(s.m, key)
		return false
	}
	return st.n >= s.max
}

// add counts one wrong code for key.
func (s *strikes) add(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	st, ok := s.m[key]
	if !ok || now.Sub(st.since) >= s.window {
		st = strike{since: now}
	}
	st.n++
	if !ok && len(s.m) >= maxStrikeSessions {
		for k, v := range s.m {
			if now.Sub(v.since) >= s.window {
				delete(s.m, k)
			}
		}
		if len(s.m) >= maxStrikeSessions {
			clear(s.m) // a flood of sessions: start over rather than grow
		}
	}
	s.m[key] = st
}
