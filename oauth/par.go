package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// PARPrefix starts every request_uri the PAR endpoint hands out.
const PARPrefix = "urn:ietf:params:oauth:request_uri:"

// DefaultPARLifetime is how long a pushed authorization request can be
// used: long enough for the user to sign in and consent, since the
// request_uri is carried through those pages and used up only when the
// authorization response is issued.
const DefaultPARLifetime = 5 * time.Minute

// parFormKeys are the parameters kept with a pushed request: those of an
// authorization request, never the client's credentials.
var parFormKeys = append(slices.Clone(storedFormKeys), "client_id", "response_mode", "id_token_hint")

var _ fosite.PARStorage = (*Store)(nil)

// pushedRequest is the JSON form of a pushed authorization request.
type pushedRequest struct {
	ID                string     `json:"id"`
	RequestedAt       time.Time  `json:"requested_at"`
	ClientID          string     `json:"client_id"`
	RequestedScope    []string   `json:"requested_scope"`
	RequestedAudience []string   `json:"requested_audience"`
	Form              url.Values `json:"form"`
	RedirectURI       string     `json:"redirect_uri"`
	ResponseTypes     []string   `json:"response_types"`
	ResponseMode      string     `json:"response_mode"`
	State             string     `json:"state"`
}

func (s *Store) parKey(requestURI string) string {
	return s.keys.MAC("par-request-uri", []byte(requestURI))
}

// CreatePARSession stores a pushed authorization request that fosite
// validated, under the keyed hash of its request_uri.
func (s *Store) CreatePARSession(ctx context.Context, requestURI string, r fosite.AuthorizeRequester) error {
	form := url.Values{}
	for _, k := range parFormKeys {
		if v, ok := r.GetRequestForm()[k]; ok {
			form[k] = v
		}
	}
	d := pushedRequest{
		ID: r.GetID(), RequestedAt: r.GetRequestedAt(), ClientID: r.GetClient().GetID(),
		RequestedScope: r.GetRequestedScopes(), RequestedAudience: r.GetRequestedAudience(),
		Form: form, ResponseTypes: r.GetResponseTypes(), State: r.GetState(),
		ResponseMode: string(r.GetResponseMode()),
	}
	if d.ResponseMode == string(fosite.ResponseModeDefault) {
		d.ResponseMode = string(r.GetDefaultResponseMode())
	}
	if u := r.GetRedirectURI(); u != nil {
		d.RedirectURI = u.String()
	}
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode pushed request: %w", err)
	}
	now := time.Now().UTC()
	expires := now.Add(DefaultPARLifetime)
	if sess := r.GetSession(); sess != nil && !sess.GetExpiresAt(fosite.PushedAuthorizeRequestContext).IsZero() {
		expires = sess.GetExpiresAt(fosite.PushedAuthorizeRequestContext)
	}
	return s.st.CreatePushedAuthRequest(ctx, &models.PushedAuthRequest{
		RequestURIHash: s.parKey(requestURI), ClientID: d.ClientID, Data: data, CreatedAt: now, ExpiresAt: expires,
	})
}

// GetPARSession returns the pushed request with requestURI while it has
// not expired nor been used. Reading it does not use it up (the login and
// consent pages carry the request_uri); Provider.Authorize does.
func (s *Store) GetPARSession(ctx context.Context, requestURI string) (fosite.AuthorizeRequester, error) {
	p, err := s.st.PushedAuthRequest(ctx, s.parKey(requestURI), time.Now())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fosite.ErrNotFound.WithWrap(err)
	}
	if err != nil {
		return nil, err
	}
	var d pushedRequest
	if err := json.Unmarshal(p.Data, &d); err != nil {
		return nil, fmt.Errorf("decode pushed request: %w", err)
	}
	client, err := s.GetClient(ctx, d.ClientID)
	if err != nil {
		return nil, err
	}
	ar := fosite.NewAuthorizeRequest()
	ar.ID, ar.RequestedAt, ar.Client = d.ID, d.RequestedAt, client
	ar.RequestedScope, ar.RequestedAudience = d.RequestedScope, d.RequestedAudience
	ar.Form = d.Form
	ar.ResponseTypes, ar.State = d.ResponseTypes, d.State
	ar.ResponseMode = fosite.ResponseModeType(d.ResponseMode)
	ar.DefaultResponseMode = ar.ResponseMode
	if d.RedirectURI != "" {
		if ar.RedirectURI, err = url.Parse(d.RedirectURI); err != nil {
			return nil, fmt.Errorf("decode pushed request: %w", err)
		}
	}
	return ar, nil
}

// DeletePARSession does nothing: fosite calls it when the authorization
// endpoint reads the request, but the request_uri is used up only when the
// response is issued (usePARSession).
func (s *Store) DeletePARSession(context.Context, string) error { return nil }

// usePARSession uses up the pushed request with requestURI: of calls at
// once on any replica, one succeeds.
func (s *Store) usePARSession(ctx context.Context, requestURI string) error {
	err := s.st.ConsumePushedAuthRequest(ctx, s.parKey(requestURI), time.Now())
	if errors.Is(err, storage.ErrNotFound) {
		return fosite.ErrInvalidRequestURI.WithHint("The request_uri was used already or has expired.")
	}
	return err
}

// Pushed reports whether ar names a pushed request.
func Pushed(ar fosite.AuthorizeRequester) bool { return PushedForm(ar.GetRequestForm()) }

// PushedForm reports whether an authorization request's form names a
// pushed request.
func PushedForm(form url.Values) bool { return strings.HasPrefix(form.Get("request_uri"), PARPrefix) }

// NewPushedAuthorizeRequest authenticates the client of a pushed
// authorization request (RFC 9126) and parses the request as the
// authorization endpoint does (CheckAuthorizeRequest applies the rest).
func (p *Provider) NewPushedAuthorizeRequest(ctx context.Context, r *http.Request) (fosite.AuthorizeRequester, error) {
	if err := r.ParseForm(); err == nil && r.Form.Get("request") != "" {
		return nil, fosite.ErrRequestNotSupported.WithHint("Request objects are not supported.")
	}
	return p.fosite.NewPushedAuthorizeRequest(ctx, r)
}

// PushAuthorizeRequest stores a validated pushed request and returns the
// response that names its request_uri.
func (p *Provider) PushAuthorizeRequest(ctx context.Context, ar fosite.AuthorizeRequester) (fosite.PushedAuthorizeResponder, error) {
	return p.fosite.NewPushedAuthorizeResponse(ctx, ar, NewSession(""))
}

// WritePushedAuthorizeResponse answers a pushed request with its
// request_uri (201 Created).
func (p *Provider) WritePushedAuthorizeResponse(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, resp fosite.PushedAuthorizeResponder) {
	p.fosite.WritePushedAuthorizeResponse(ctx, w, ar, resp)
}

// WritePushedAuthorizeError answers a refused pushed request.
func (p *Provider) WritePushedAuthorizeError(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, err error) {
	p.fosite.WritePushedAuthorizeError(ctx, w, ar, err)
}
