package adminapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/authgate/authgate/internal/clients"
)

func (a *api) handleListClients() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := a.Clients.List(r.Context())
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		items := make([]clients.View, 0, len(list))
		for _, c := range list {
			items = append(items, clients.ViewOf(c))
		}
		writeJSON(w, http.StatusOK, itemsJSON[clients.View]{Items: items})
	})
}

// createClientRequest is the body of POST /admin/api/clients.
type createClientRequest struct {
	Name              string   `json:"name"`
	GrantTypes        []string `json:"grant_types"`
	RedirectURIs      []string `json:"redirect_uris"`
	Scopes            []string `json:"scopes"`
	Audience          []string `json:"audience"`
	Public            bool     `json:"public"`
	FirstParty        bool     `json:"first_party"`
	AccessTokenFormat string   `json:"access_token_format"`
	// The OpenID Connect logout registration.
	PostLogoutRedirectURIs            []string `json:"post_logout_redirect_uris"`
	BackchannelLogoutURI              string   `json:"backchannel_logout_uri"`
	BackchannelLogoutSessionRequired  bool     `json:"backchannel_logout_session_required"`
	FrontchannelLogoutURI             string   `json:"frontchannel_logout_uri"`
	FrontchannelLogoutSessionRequired bool     `json:"frontchannel_logout_session_required"`
	// The algorithms of the client's ID tokens and JWT access tokens.
	IDTokenAlg     string `json:"id_token_signed_response_alg"`
	AccessTokenAlg string `json:"access_token_signed_response_alg"`
	// How the client authenticates (see clients.Auth); jwks is a JSON Web
	// Key Set object.
	TokenEndpointAuthMethod     string          `json:"token_endpoint_auth_method"`
	TokenEndpointAuthSigningAlg string          `json:"token_endpoint_auth_signing_alg"`
	JWKS                        json.RawMessage `json:"jwks"`
	JWKSURI                     string          `json:"jwks_uri"`
	RequirePAR                  bool            `json:"require_pushed_authorization_requests"`
	RequirePKCE                 *bool           `json:"require_pkce"`
	// LegacyCredentials: "token" (default), "app_password" or "both".
	LegacyCredentials string `json:"legacy_credentials"`
}

// createdClientJSON carries the generated secret, the only time it is
// ever shown.
type createdClientJSON struct {
	Client       clients.View `json:"client"`
	ClientSecret string       `json:"client_secret,omitempty"`
}

func (a *api) handleCreateClient() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in createClientRequest
		if err := decodeJSON(w, r, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		c, secret, err := a.Clients.Create(r.Context(), actorOf(r.Context()), clients.NewClient{
			Name:              in.Name,
			GrantTypes:        in.GrantTypes,
			RedirectURIs:      in.RedirectURIs,
			Scopes:            in.Scopes,
			Audience:          in.Audience,
			Public:            in.Public,
			FirstParty:        in.FirstParty,
			AccessTokenFormat: in.AccessTokenFormat,
			IDTokenAlg:        in.IDTokenAlg,
			AccessTokenAlg:    in.AccessTokenAlg,
			LegacyCredentials: in.LegacyCredentials,
			Logout: clients.Logout{
				PostLogoutRedirectURIs:            in.PostLogoutRedirectURIs,
				BackchannelLogoutURI:              in.BackchannelLogoutURI,
				BackchannelLogoutSessionRequired:  in.BackchannelLogoutSessionRequired,
				FrontchannelLogoutURI:             in.FrontchannelLogoutURI,
				FrontchannelLogoutSessionRequired: in.FrontchannelLogoutSessionRequired,
			},
			Auth: clients.Auth{
				Method: in.TokenEndpointAuthMethod, SigningAlg: in.TokenEndpointAuthSigningAlg,
				JWKS: string(in.JWKS), JWKSURI: in.JWKSURI, RequirePAR: in.RequirePAR, RequirePKCE: in.RequirePKCE,
			},
		})
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		w.Header().Set("Location", "/admin/api/clients/"+c.ID)
		writeJSON(w, http.StatusCreated, createdClientJSON{Client: clients.ViewOf(c), ClientSecret: secret})
	})
}

func (a *api) handleGetClient() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.Clients.Get(r.Context(), r.PathValue("id"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, clients.ViewOf(c))
	})
}

func (a *api) handleUpdateClient() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The body is the service's patch itself: the fields present are
		// changed. Public and audience cannot change.
		var in clients.ClientUpdate
		if err := decodeJSON(w, r, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		c, err := a.Clients.Update(r.Context(), actorOf(r.Context()), r.PathValue("id"), in)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, clients.ViewOf(c))
	})
}

func (a *api) handleDeleteClient() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.Clients.Delete(r.Context(), actorOf(r.Context()), r.PathValue("id")); err != nil {
			a.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// rotatedSecretJSON carries a new client secret, the only time it is
// ever shown.
type rotatedSecretJSON struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

func (a *api) handleRotateSecret() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		secret, err := a.Clients.RotateSecret(r.Context(), actorOf(r.Context()), id)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, rotatedSecretJSON{ClientID: id, ClientSecret: secret})
	})
}

func (a *api) handleSetLegacy(enabled bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.Clients.SetLegacy(r.Context(), actorOf(r.Context()), r.PathValue("id"), enabled)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, clients.ViewOf(c))
	})
}

// sunsetRequest is the body of PUT /admin/api/clients/{id}/legacy/sunset.
// Sunset is required; JSON null clears the sunset. A sunset that has
// already passed ends the grant at once, so it is refused unless
// ConfirmPast is true.
type sunsetRequest struct {
	Sunset      json.RawMessage `json:"sunset"`
	ConfirmPast bool            `json:"confirm_past"`
}

func (a *api) handleSetSunset() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in sunsetRequest
		if err := decodeJSON(w, r, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		at, err := a.parseSunset(in)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		c, err := a.Clients.SetSunset(r.Context(), actorOf(r.Context()), r.PathValue("id"), at)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, clients.ViewOf(c))
	})
}

// parseSunset reads the sunset field with clients.ParseSunset, or null to
// clear it.
func (a *api) parseSunset(in sunsetRequest) (*time.Time, error) {
	const want = "must be " + clients.SunsetFormat + ", or null to clear it"
	if in.Sunset == nil {
		return nil, fieldError("sunset", "is required: "+want)
	}
	if string(in.Sunset) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(in.Sunset, &s); err != nil {
		return nil, fieldError("sunset", want)
	}
	at, err := clients.ParseSunset(s, a.Now(), in.ConfirmPast)
	if errors.Is(err, clients.ErrSunsetPassed) {
		return nil, fieldError("sunset", `has passed: the legacy grant would be refused at once; send "confirm_past": true to set it anyway`)
	}
	if err != nil {
		return nil, fieldError("sunset", want)
	}
	return &at, nil
}

// itemsJSON is a list without paging.
type itemsJSON[T any] struct {
	Items []T `json:"items"`
}

// pageJSON is one page of a longer list.
type pageJSON[T any] struct {
	Items  []T   `json:"items"`
	Total  int64 `json:"total"`
	Limit  int   `json:"limit"`
	Offset int   `json:"offset"`
}
