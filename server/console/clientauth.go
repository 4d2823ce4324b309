package console

import (
	"encoding/json"
	"net/http"

	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/models"
)

// clientAuthForm is the client form's authentication part (the
// "client_auth_fields" template in layout.html, on the new and the
// settings form alike).
type clientAuthForm struct {
	AuthMethod  string
	SigningAlg  string
	JWKS        string
	JWKSURI     string
	RequirePAR  bool
	RequirePKCE bool
}

func authFormOf(cl models.Client) clientAuthForm {
	return clientAuthForm{
		AuthMethod: cl.TokenEndpointAuthMethod, SigningAlg: cl.TokenEndpointAuthSigningAlg,
		JWKS: cl.JWKS, JWKSURI: cl.JWKSURI, RequirePAR: cl.RequirePAR, RequirePKCE: cl.RequirePKCE,
	}
}

func readAuthForm(r *http.Request) clientAuthForm {
	return clientAuthForm{
		AuthMethod:  r.PostForm.Get("token_endpoint_auth_method"),
		SigningAlg:  r.PostForm.Get("token_endpoint_auth_signing_alg"),
		JWKS:        r.PostForm.Get("jwks"),
		JWKSURI:     r.PostForm.Get("jwks_uri"),
		RequirePAR:  r.PostForm.Get("require_par") == "on",
		RequirePKCE: r.PostForm.Get("require_pkce") == "on",
	}
}

// auth is the form's part of a new client.
func (f clientAuthForm) auth() clients.Auth {
	pkce := f.RequirePKCE
	return clients.Auth{
		Method: f.AuthMethod, SigningAlg: f.SigningAlg, JWKS: f.JWKS, JWKSURI: f.JWKSURI,
		RequirePAR: f.RequirePAR, RequirePKCE: &pkce,
	}
}

// withAuth adds the form's authentication part to a settings change. The
// default method ("") keeps the client's.
func withAuth(up clients.ClientUpdate, f clientAuthForm) clients.ClientUpdate {
	if f.AuthMethod != "" {
		up.TokenEndpointAuthMethod = &f.AuthMethod
	}
	up.TokenEndpointAuthSigningAlg = &f.SigningAlg
	jwks := json.RawMessage(f.JWKS)
	if f.JWKS == "" {
		jwks = json.RawMessage(`""`)
	}
	up.JWKS, up.JWKSURI = &jwks, &f.JWKSURI
	up.RequirePAR, up.RequirePKCE = &f.RequirePAR, &f.RequirePKCE
	return up
}
