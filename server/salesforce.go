package server

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/legacy"
	"github.com/authgate/authgate/oauth"
)

// Salesforce-compatible login responses. Tools written for Salesforce's
// OAuth 2.0 username-password flow (jsforce, data loaders) read more than
// RFC 6749 gives: the identity URL (id), where to send API calls
// (instance_url), when the token was issued (issued_at) and a signature.
// A client with SalesforceCompat gets them in its password grant
// responses; every other client's responses stay exactly RFC 6749.

// identityPath starts the identity URLs: /id/ORG/USER.
const identityPath = "/id/"

// orgID is the organisation id of the identity URLs: authgate has one
// organisation, named by 18 characters derived from the issuer, so that
// every replica says the same.
func (s *Server) orgID() string {
	sum := sha256.Sum256([]byte(s.Config.Issuer))
	return "00D" + strings.ToUpper(hex.EncodeToString(sum[:]))[:15]
}

// identityURL is the id of userID.
func (s *Server) identityURL(userID string) string {
	return s.Config.Issuer + identityPath + s.orgID() + "/" + url.PathEscape(userID)
}

// addSalesforceFields adds id, instance_url, issued_at and signature to a
// successful password grant response of a client with SalesforceCompat.
// signature is what Salesforce sends: base64 of HMAC-SHA256 keyed with the
// client secret, over id followed by issued_at. authgate keeps no client
// secret in clear, so it keys the HMAC with the secret this very request
// presented (HTTP Basic or client_secret in the form), which the client
// holds too; a client that authenticated without a secret gets no
// signature.
func (s *Server) addSalesforceFields(r *http.Request, ar fosite.AccessRequester, resp fosite.AccessResponder, now time.Time) {
	if !ar.GetGrantTypes().ExactOne(legacy.GrantType) {
		return
	}
	c, ok := oauth.ClientOf(ar.GetClient())
	if !ok || !c.SalesforceCompat {
		return
	}
	id := s.identityURL(ar.GetSession().GetSubject())
	issued := strconv.FormatInt(now.UnixMilli(), 10)
	resp.SetExtra("id", id)
	resp.SetExtra("instance_url", cmp.Or(c.InstanceURL, s.Config.Issuer))
	resp.SetExtra("issued_at", issued)
	if secret := presentedSecret(r); secret != "" {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(id + issued))
		resp.SetExtra("signature", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
}

// presentedSecret is the client secret the token request carried, decoded
// as fosite decodes it (RFC 6749 2.3.1 form-encodes Basic credentials).
func presentedSecret(r *http.Request) string {
	if _, secret, ok := r.BasicAuth(); ok {
		if dec, err := url.QueryUnescape(secret); err == nil {
			return dec
		}
		return secret
	}
	return r.PostForm.Get("client_secret")
}

// handleIdentity is the identity service of the identity URLs, as
// Salesforce's answers it: the user's identity for an access token issued
// to that user (Authorization: Bearer, or the oauth_token parameter that
// Salesforce's tools send). Any other token, or a URL naming another user
// or organisation, is 403 or 401.
func (s *Server) handleIdentity() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		token := fosite.AccessTokenFromRequest(r)
		if token == "" {
			token = r.URL.Query().Get("oauth_token")
		}
		if token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="authgate"`)
			writeJSONError(w, http.StatusUnauthorized, "invalid_token", "An access token is required.")
			return
		}
		_, ar, err := s.Provider.IntrospectToken(ctx, token, fosite.AccessToken, oauth.NewSession(""))
		if err != nil {
			if fosite.ErrorToRFC6749Error(err).CodeField >= 500 {
				writeError(w, r, s.Logger, err)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="authgate", error="invalid_token"`)
			writeJSONError(w, http.StatusUnauthorized, "invalid_token", "The access token is invalid, expired or revoked.")
			return
		}
		subject := ar.GetSession().GetSubject()
		if r.PathValue("org") != s.orgID() || r.PathValue("user") != subject || subject == "" {
			writeJSONError(w, http.StatusForbidden, "forbidden", "The access token was not issued to this identity.")
			return
		}
		u, err := s.Users.GetUserByID(ctx, subject)
		if errors.Is(err, accounts.ErrNotFound) {
			writeJSONError(w, http.StatusUnauthorized, "invalid_token", "The token's user no longer exists.")
			return
		}
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		display := cmp.Or(u.Name, u.Username)
		first, last, _ := strings.Cut(u.Name, " ")
		writeJSON(w, http.StatusOK, map[string]any{
			"id":                 s.identityURL(u.ID),
			"asserted_user":      true,
			"user_id":            u.ID,
			"organization_id":    s.orgID(),
			"username":           u.Username,
			"nick_name":          u.Username,
			"display_name":       display,
			"first_name":         first,
			"last_name":          last,
			"email":              u.Email,
			"email_verified":     u.EmailVerified,
			"active":             !u.Disabled,
			"user_type":          "STANDARD",
			"language":           "en_US",
			"locale":             "en_US",
			"utcOffset":          0,
			"last_modified_date": u.UpdatedAt.UTC().Format("2006-01-02T15:04:05.000+0000"),
			"urls": map[string]string{
				"profile":  s.Config.Issuer + "/account",
				"userinfo": s.Config.Issuer + "/userinfo",
			},
		})
	})
}
