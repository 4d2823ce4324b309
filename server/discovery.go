package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/authgate/authgate/oauth"
)

// metadata is the provider's OpenID Connect Discovery / RFC 8414 document.
// It lists exactly what the server supports.
type metadata struct {
	Issuer                             string   `json:"issuer"`
	AuthorizationEndpoint              string   `json:"authorization_endpoint"`
	TokenEndpoint                      string   `json:"token_endpoint"`
	UserinfoEndpoint                   string   `json:"userinfo_endpoint,omitempty"`
	JWKSURI                            string   `json:"jwks_uri"`
	IntrospectionEndpoint              string   `json:"introspection_endpoint"`
	RevocationEndpoint                 string   `json:"revocation_endpoint"`
	DeviceAuthorizationEndpoint        string   `json:"device_authorization_endpoint,omitempty"`
	ScopesSupported                    []string `json:"scopes_supported"`
	ResponseTypesSupported             []string `json:"response_types_supported"`
	ResponseModesSupported             []string `json:"response_modes_supported"`
	GrantTypesSupported                []string `json:"grant_types_supported"`
	SubjectTypesSupported              []string `json:"subject_types_supported,omitempty"`
	IDTokenSigningAlgValuesSupported   []string `json:"id_token_signing_alg_values_supported,omitempty"`
	TokenEndpointAuthMethodsSupported  []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgs       []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectionAuthMethods           []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationAuthMethods              []string `json:"revocation_endpoint_auth_methods_supported"`
	RevocationAuthSigningAlgs          []string `json:"revocation_endpoint_auth_signing_alg_values_supported"`
	PushedAuthorizationRequestEndpoint string   `json:"pushed_authorization_request_endpoint"`
	RequirePushedAuthorizationRequests bool     `json:"require_pushed_authorization_requests"`
	CodeChallengeMethodsSupported      []string `json:"code_challenge_methods_supported"`
	ClaimsSupported                    []string `json:"claims_supported,omitempty"`
	PromptValuesSupported              []string `json:"prompt_values_supported,omitempty"`
	ClaimsParameterSupported           bool     `json:"claims_parameter_supported"`
	RequestParameterSupported          bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported       bool     `json:"request_uri_parameter_supported"`
	EndSessionEndpoint                 string   `json:"end_session_endpoint,omitempty"`
	BackchannelLogoutSupported         bool     `json:"backchannel_logout_supported,omitempty"`
	BackchannelLogoutSessionSupported  bool     `json:"backchannel_logout_session_supported,omitempty"`
	FrontchannelLogoutSupported        bool     `json:"frontchannel_logout_supported,omitempty"`
	FrontchannelLogoutSessionSupported bool     `json:"frontchannel_logout_session_supported,omitempty"`
	ACRValuesSupported                 []string `json:"acr_values_supported,omitempty"`
}

func (s *Server) metadata(oidc bool) metadata {
	iss := s.Config.Issuer
	authMethods := []string{oauth.AuthSecretBasic, oauth.AuthSecretPost, oauth.AuthPrivateKeyJWT, oauth.AuthNone}
	grants := []string{"authorization_code", "refresh_token", "client_credentials"}
	if !s.Config.LegacyGrantDisabled {
		grants = append(grants, "password")
	}
	if s.Device != nil {
		grants = append(grants, oauth.DeviceGrantType)
	}
	m := metadata{
		Issuer:                             iss,
		AuthorizationEndpoint:              iss + "/oauth2/authorize",
		TokenEndpoint:                      iss + "/oauth2/token",
		JWKSURI:                            iss + "/.well-known/jwks.json",
		IntrospectionEndpoint:              iss + "/oauth2/introspect",
		RevocationEndpoint:                 iss + "/oauth2/revoke",
		ScopesSupported:                    oauth.SupportedScopes,
		ResponseTypesSupported:             []string{"code"},
		ResponseModesSupported:             []string{"query"},
		GrantTypesSupported:                grants,
		TokenEndpointAuthMethodsSupported:  authMethods,
		TokenEndpointAuthSigningAlgs:       oauth.AssertionAlgs,
		PushedAuthorizationRequestEndpoint: iss + "/oauth2/par",
		IntrospectionAuthMethods:           []string{"client_secret_basic", "client_secret_post"},
		RevocationAuthMethods:              authMethods,
		RevocationAuthSigningAlgs:          oauth.AssertionAlgs,
		CodeChallengeMethodsSupported:      []string{"S256"},
	}
	if s.Device != nil {
		m.DeviceAuthorizationEndpoint = iss + "/oauth2/device/authorize"
	}
	if oidc {
		m.UserinfoEndpoint = iss + "/userinfo"
		m.SubjectTypesSupported = []string{"public"}
		m.IDTokenSigningAlgValuesSupported = oauth.SigningAlgorithms
		m.ClaimsSupported = []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "name", "preferred_username", "email", "email_verified", "sid", "amr", "acr"}
		m.PromptValuesSupported = []string{"none", "login", "consent"}
		m.EndSessionEndpoint = iss + "/oauth2/logout"
		m.BackchannelLogoutSupported, m.BackchannelLogoutSessionSupported = true, true
		m.FrontchannelLogoutSupported, m.FrontchannelLogoutSessionSupported = true, true
		m.ACRValuesSupported = []string{ACRPassword, ACRMFA}
	}
	return m
}

func (s *Server) buildDiscovery() error {
	var err error
	if s.discovery, err = json.MarshalIndent(s.metadata(true), "", "  "); err != nil {
		return err
	}
	if s.asMeta, err = json.MarshalIndent(s.metadata(false), "", "  "); err != nil {
		return err
	}
	s.discETag, s.asETag = etag(s.discovery), etag(s.asMeta)
	return nil
}

func etag(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// handleStatic serves precomputed bytes with an ETag.
func (s *Server) handleStatic(body []byte, tag string) http.Handler {
	doc := newTagged("application/json", "public, max-age=300")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc.write(w, r, body, tag)
	})
}

// tagged writes public documents that any origin may read, each with its
// ETag, or 304 Not Modified when the client holds the version with that
// ETag. The values that are the same for every response are built once
// and set under keys already in canonical form, as SecurityHeaders sets
// its own; the length is sent, so that a document longer than net/http's
// buffer (discovery) is not sent in chunks.
type tagged struct {
	contentType, cacheControl, anyOrigin []string
}

func newTagged(contentType, cacheControl string) tagged {
	return tagged{contentType: []string{contentType}, cacheControl: []string{cacheControl}, anyOrigin: []string{"*"}}
}

func (t tagged) write(w http.ResponseWriter, r *http.Request, body []byte, tag string) {
	h := w.Header()
	h["Content-Type"] = t.contentType[:1:1]
	h["Cache-Control"] = t.cacheControl[:1:1]
	h["Access-Control-Allow-Origin"] = t.anyOrigin[:1:1]
	h["Etag"] = []string{tag}
	if r.Header.Get("If-None-Match") == tag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	_, _ = w.Write(body)
}

// handleJWKS serves the public signing keys, cacheable for the configured
// JWKS cache lifetime: a rotated key is published at least that long (plus
// the replicas' key refresh interval) before it signs.
func (s *Server) handleJWKS() http.Handler {
	doc := newTagged("application/jwk-set+json", "public, max-age="+strconv.Itoa(int(s.Config.JWKSMaxAge/time.Second)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, tag, err := s.Provider.JWKS(r.Context())
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		doc.write(w, r, body, tag)
	})
}
