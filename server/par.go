package server

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/ory/fosite"

	"github.com/authgate/authgate/oauth"
)

// handlePAR is the pushed authorization request endpoint (RFC 9126): an
// authenticated client posts an authorization request and gets a
// request_uri, short-lived and good for one authorization response, to
// send the browser to /oauth2/authorize with. The pushed request is
// validated as /oauth2/authorize validates one, and stored in the
// database, so that any replica can take it.
func (s *Server) handlePAR() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := r.ParseForm(); err != nil {
			s.Provider.WritePushedAuthorizeError(ctx, w, nil, fosite.ErrInvalidRequest.WithHint("The request body is not a valid form.").WithWrap(err))
			return
		}
		ar, err := s.Provider.NewPushedAuthorizeRequest(ctx, r)
		if err == nil {
			err = s.checkAuthorizeRequest(ctx, ar)
		}
		if err == nil && !ar.GetClient().IsPublic() && r.PostForm.Get("redirect_uri") != "" &&
			!slices.Contains(ar.GetClient().GetRedirectURIs(), r.PostForm.Get("redirect_uri")) {
			err = fosite.ErrInvalidRequest.WithHint("The redirect_uri does not exactly match a redirect URI registered for this client.")
		}
		if err != nil {
			s.Provider.WritePushedAuthorizeError(ctx, w, ar, err)
			return
		}
		resp, err := s.Provider.PushAuthorizeRequest(ctx, ar)
		if err != nil {
			s.Provider.WritePushedAuthorizeError(ctx, w, ar, err)
			return
		}
		s.Provider.WritePushedAuthorizeResponse(ctx, w, ar, resp)
	})
}

// parRequired reports whether ar is a plain authorization request of a
// client that must push its requests first.
func parRequired(ar fosite.AuthorizeRequester) bool {
	c, ok := oauth.ClientOf(ar.GetClient())
	return ok && c.RequirePAR && !oauth.Pushed(ar)
}

// refuseUnpushed answers a plain authorization request of a client that
// must push its requests. Nothing in such a request can be trusted, its
// redirect URI included: the answer is given here, a page for a person.
func (s *Server) refuseUnpushed(w http.ResponseWriter, r *http.Request) {
	const hint = "This client must push its authorization requests to the pushed_authorization_request_endpoint first (RFC 9126), then send the request_uri it gets."
	if !wantsHTML(r) {
		writeJSONError(w, http.StatusBadRequest, fosite.ErrInvalidRequest.ErrorField, hint)
		return
	}
	s.renderProblem(w, r, http.StatusBadRequest, problem{
		Title: "This sign-in request cannot be completed",
		Message: "The application that sent you here has to announce its sign-in requests to " + s.Config.Organization +
			" ahead, and did not announce this one, so it cannot go on. Nothing was shared with it. Go back to the application and try again; if this keeps happening, tell the people who run it.",
		Code:   fosite.ErrInvalidRequest.ErrorField,
		Detail: hint,
	})
}

// pushedParams are the parameters that carry a pushed request through the
// login and consent pages: the client and the request_uri, nothing else.
func pushedParams(form url.Values) url.Values {
	return url.Values{"client_id": {form.Get("client_id")}, "request_uri": {form.Get("request_uri")}}
}
