package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/models"
)

// The pages that emailed links open, and the forgotten-password form.
// A link's GET only shows a page: what the link does happens on the POST
// of that page's form, so that a mail scanner that fetches every link
// cannot use one up.

// Links is what these pages need of the accounts service.
type Links interface {
	RequestPasswordReset(ctx context.Context, login, sourceIP string) error
	CheckResetLink(ctx context.Context, token string) error
	ResetPassword(ctx context.Context, token, newPassword string) error
	SendVerification(ctx context.Context, userID string) error
	VerifyEmail(ctx context.Context, token string) (models.User, error)
	RequestEmailChange(ctx context.Context, userID, current, newEmail string) error
	ConfirmEmailChange(ctx context.Context, token string) (models.User, error)
}

// linkData is the Data of the link pages.
type linkData struct {
	// Token is the link's token, carried to the form's POST.
	Token string
	// Done says the action happened; the page says what follows.
	Done bool
	// Action is where the form posts (the email link pages).
	Action string
	// Email is the address a page names.
	Email string
}

// linkWork bounds the forgotten-password requests handled at once off the
// request path.
const linkWork = 4

// linkWorkTimeout bounds one such request.
const linkWorkTimeout = 30 * time.Second

// handleForgotForm asks for the username or email of a forgotten password.
func (s *Server) handleForgotForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := s.page(w, r, "Forgot your password?", "", s.signedIn(r))
		p.Data = linkData{}
		s.pages.Render(w, r, http.StatusOK, "password-forgot", p)
	})
}

// handleForgot answers every request the same way, at the same cost,
// whether or not an account matches: the lookup and the email happen
// after the answer, off the request path (at most linkWork at once), so
// neither the page nor its timing says whether the account exists.
func (s *Server) handleForgot() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || !s.sessions.CheckCSRF(r) {
			p := s.page(w, r, "Forgot your password?", "", false)
			p.Error = "The form expired or did not come from this site. Try again."
			p.Data = linkData{}
			s.pages.Render(w, r, http.StatusForbidden, "password-forgot", p)
			return
		}
		login := r.PostFormValue("login")
		var source string
		if addr, ok := clientip.FromContext(r.Context()); ok {
			source = addr.String()
		}
		if login != "" {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), linkWorkTimeout)
			go func() {
				defer cancel()
				select {
				case s.linkSlots <- struct{}{}:
					defer func() { <-s.linkSlots }()
				case <-ctx.Done():
					s.Logger.WarnContext(ctx, "password reset request dropped: too many at once", "source_ip", source)
					return
				}
				if err := s.Links.RequestPasswordReset(ctx, login, source); err != nil {
					s.Logger.ErrorContext(ctx, "password reset request", "request_id", RequestID(ctx), "error", err)
				}
			}()
		}
		p := s.page(w, r, "Check your email", "", false)
		p.Data = linkData{Done: true}
		s.pages.Render(w, r, http.StatusOK, "password-forgot", p)
	})
}

// linkFailure shows why a link does not work, in words, with what to do.
func (s *Server) linkFailure(w http.ResponseWriter, r *http.Request, err error, again string) {
	var status int
	var title, msg string
	switch {
	case errors.Is(err, accounts.ErrLinkUsed):
		status, title = http.StatusGone, "This link was already used"
		msg = "Each link works once. " + again
	case errors.Is(err, accounts.ErrLinkExpired):
		status, title = http.StatusGone, "This link has expired"
		msg = "Links work for a limited time. " + again
	case errors.Is(err, accounts.ErrLinkInvalid):
		status, title = http.StatusNotFound, "This link is not valid"
		msg = "It may have been cut short when it was copied: open it from the email again. " + again
	default:
		if e, ok := apperr.As(err); ok && e.Code == apperr.Conflict {
			status, title, msg = http.StatusConflict, "This link no longer applies", e.Text()+". "+again
			break
		}
		s.renderFailure(w, r, err, s.signedIn(r))
		return
	}
	pg := s.page(w, r, title, msg, s.signedIn(r))
	pg.Code = "invalid_link"
	s.pages.Render(w, r, status, "error", pg)
}

const resetAgain = "Ask for a new one on the sign-in page (\"Forgot your password?\")."

// handleResetForm shows the new-password form of a reset link that still
// works, and otherwise says why it does not.
func (s *Server) handleResetForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.URL.Query().Get("token")
		if err := s.Links.CheckResetLink(r.Context(), token); err != nil {
			s.linkFailure(w, r, err, resetAgain)
			return
		}
		p := s.page(w, r, "Choose a new password", "", false)
		p.Data = linkData{Token: token}
		s.pages.Render(w, r, http.StatusOK, "password-reset", p)
	})
}

// handleReset sets the new password of a reset link.
func (s *Server) handleReset() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			s.linkFailure(w, r, accounts.ErrLinkInvalid, resetAgain)
			return
		}
		token := r.PostFormValue("token")
		retry := func(status int, msg string) {
			p := s.page(w, r, "Choose a new password", "", false)
			p.Error = msg
			p.Data = linkData{Token: token}
			s.pages.Render(w, r, status, "password-reset", p)
		}
		if !s.sessions.CheckCSRF(r) {
			retry(http.StatusForbidden, "The form expired or did not come from this site, so nothing was changed. Try again.")
			return
		}
		next := r.PostFormValue("new_password")
		if next == "" || next != r.PostFormValue("confirm_password") {
			retry(http.StatusBadRequest, "Enter the new password twice, the same both times. Nothing was changed.")
			return
		}
		err := s.Links.ResetPassword(r.Context(), token, next)
		if fe, ok := apperr.As(err); ok && fe.Code == apperr.Invalid && fe.Field != "" {
			retry(http.StatusBadRequest, fieldMessage(fe))
			return
		}
		if err != nil {
			s.linkFailure(w, r, err, resetAgain)
			return
		}
		// The reset ended every session of the user, this browser's too.
		http.SetCookie(w, s.sessions.Cookie("session", "", -1))
		p := s.page(w, r, "Your password was changed", "", false)
		p.Data = linkData{Done: true}
		s.pages.Render(w, r, http.StatusOK, "password-reset", p)
	})
}

const verifyAgain = "Send a new one from your account page."

// handleLinkForm shows the confirmation page of a verification or email
// change link: one button, which posts the token to action.
func (s *Server) handleLinkForm(title, action string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := s.page(w, r, title, "", s.signedIn(r))
		p.Data = linkData{Token: r.URL.Query().Get("token"), Action: action}
		s.pages.Render(w, r, http.StatusOK, "email-link", p)
	})
}

// handleLinkPost follows a verification or email change link with use.
func (s *Server) handleLinkPost(title, action string, use func(ctx context.Context, token string) (models.User, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			s.linkFailure(w, r, accounts.ErrLinkInvalid, verifyAgain)
			return
		}
		token := r.PostFormValue("token")
		if !s.sessions.CheckCSRF(r) {
			p := s.page(w, r, title, "", s.signedIn(r))
			p.Error = "The form expired or did not come from this site, so nothing was changed. Try again."
			p.Data = linkData{Token: token, Action: action}
			s.pages.Render(w, r, http.StatusForbidden, "email-link", p)
			return
		}
		u, err := use(r.Context(), token)
		if err != nil {
			s.linkFailure(w, r, err, verifyAgain)
			return
		}
		p := s.page(w, r, "Email address confirmed", "", s.signedIn(r))
		p.Data = linkData{Done: true, Email: u.Email}
		s.pages.Render(w, r, http.StatusOK, "email-link", p)
	})
}

// handleSendVerification emails the signed-in user a verification link.
func (s *Server) handleSendVerification() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.accountPost(w, r)
		if !ok {
			return
		}
		err := s.Links.SendVerification(r.Context(), u.ID)
		switch {
		case errors.Is(err, accounts.ErrNotFound):
			s.accountGone(w, r)
		case errors.Is(err, accounts.ErrTooManyLinks):
			s.pages.Render(w, r, http.StatusTooManyRequests, "error", s.page(w, r, "Not sent",
				"Too many emails with links were sent to your account in the last hour. Try again later.", true))
		case err != nil:
			s.renderFailure(w, r, err, true)
		default:
			s.accountDone(w, r, u, noticeVerificationSent)
		}
	})
}

// handleEmailForm shows the change-email form.
func (s *Server) handleEmailForm() http.Handler {
	return s.handleAccountForm("Change my email address", "account-email")
}

// handleEmailChange starts an email change: the new address gets a link
// to confirm it, the old one is told; nothing changes until the link is
// followed.
func (s *Server) handleEmailChange() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.accountPost(w, r)
		if !ok {
			return
		}
		retry := s.accountRetry(w, r, u, "Change my email address", "account-email")
		err := s.Links.RequestEmailChange(r.Context(), u.ID, r.PostFormValue("current_password"), r.PostFormValue("email"))
		fe, isApp := apperr.As(err)
		status, msg, refused := currentPasswordRefusal(err)
		switch {
		case err == nil:
			s.accountDone(w, r, u, noticeEmailChangeSent)
		case refused:
			retry(status, msg)
		case errors.Is(err, accounts.ErrTooManyLinks):
			retry(http.StatusTooManyRequests, "Too many emails with links were sent to your account in the last hour. Nothing was changed. Try again later.")
		case isApp && fe.Code == apperr.Invalid && fe.Field != "":
			retry(http.StatusBadRequest, "The new email address "+fe.Message+". Nothing was changed.")
		case errors.Is(err, accounts.ErrNotFound):
			s.accountGone(w, r)
		default:
			s.renderFailure(w, r, err, true)
		}
	})
}
