package server

import (
	"embed"
	"log/slog"
	"net/http"

	"github.com/authgate/authgate/server/web"
)

//go:embed templates/*.html
var templateFS embed.FS

// page is the data every page template gets.
type page struct {
	Title        string
	Organization string
	CSRF         string
	SignedIn     bool
	Error        string
	Notice       string
	// Code and Detail are an error page's small print: the OAuth error
	// code and the description an API client would read.
	Code   string
	Detail string
	Data   any
	// Login page
	ClientName string
	ReturnTo   string
	Username   string
	// Passkeys is set when the page offers passkeys (and loads their
	// script).
	Passkeys bool
	// Consent page
	Scopes []string
	Params []param
}

type param struct{ Name, Value string }

// newRenderer parses every public page with the layout.
func newRenderer(logger *slog.Logger) (*web.Renderer[page], error) {
	return web.NewRenderer[page](logger, "template", templateFS, nil,
		"login", "consent", "error", "account", "account-token", "account-password",
		"logout-confirm", "signed-out",
		"account-passkeys", "second-step", "recovery-codes", "account-mfa",
		"device", "device-confirm",
		"password-forgot", "password-reset", "email-link", "account-email", "account-app-passwords")
}

// staticHandler serves the public pages' stylesheet.
func staticHandler() http.Handler {
	return web.StaticHandler("/static/", nil)
}
