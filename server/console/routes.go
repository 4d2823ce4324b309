package console

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/server/web"
)

// routes lists every console route in one place.
func (c *console) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /admin/static/", staticHandler())
	mux.HandleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin/", http.StatusMovedPermanently)
	})

	mux.HandleFunc("GET /admin/login", c.handleLogin)
	mux.HandleFunc("GET "+CallbackPath, c.handleCallback)
	mux.HandleFunc("GET /admin/signed-out", c.handleSignedOut)
	mux.Handle("GET /admin/logout", c.authed(c.handleLogoutForm))
	mux.Handle("POST /admin/logout", c.authed(c.handleLogout))

	mux.Handle("GET /admin/{$}", c.authed(c.handleDashboard))

	mux.Handle("GET /admin/clients", c.authed(c.handleClients))
	mux.Handle("GET /admin/clients/new", c.authed(c.handleNewClientForm))
	mux.Handle("POST /admin/clients/new", c.authed(c.handleCreateClient))
	mux.Handle("GET /admin/clients/{id}", c.authed(c.handleClient))
	mux.Handle("POST /admin/clients/{id}", c.authed(c.handleUpdateClient))
	mux.Handle("POST /admin/clients/{id}/sunset", c.authed(c.handleSunset))
	mux.Handle("POST /admin/clients/{id}/legacy/confirm", c.authed(c.handleLegacyConfirm))
	mux.Handle("POST /admin/clients/{id}/legacy", c.authed(c.handleLegacy))
	mux.Handle("POST /admin/clients/{id}/delete/confirm", c.authed(c.handleDeleteClientConfirm))
	mux.Handle("POST /admin/clients/{id}/delete", c.authed(c.handleDeleteClient))
	mux.Handle("POST /admin/clients/{id}/rotate-secret/confirm", c.authed(c.handleRotateSecretConfirm))
	mux.Handle("POST /admin/clients/{id}/rotate-secret", c.authed(c.handleRotateSecret))
	mux.Handle("POST /admin/clients/{id}/brownouts", c.authed(c.handleAddBrownout))
	mux.Handle("POST /admin/clients/{id}/brownouts/{bid}/remove", c.authed(c.handleRemoveBrownout))
	mux.Handle("POST /admin/clients/{id}/migration-url", c.authed(c.handleMigrationURL))

	mux.Handle("GET /admin/users", c.authed(c.handleUsers))
	mux.Handle("POST /admin/users", c.authed(c.handleCreateUser))
	mux.Handle("GET /admin/users/{username}", c.authed(c.handleUser))
	mux.Handle("POST /admin/users/{username}", c.authed(c.handleUpdateUser))
	mux.Handle("POST /admin/users/{username}/disabled/confirm", c.authed(c.handleDisableConfirm))
	mux.Handle("POST /admin/users/{username}/disabled", c.authed(c.handleDisable))
	mux.Handle("POST /admin/users/{username}/delete/confirm", c.authed(c.handleDeleteUserConfirm))
	mux.Handle("POST /admin/users/{username}/delete", c.authed(c.handleDeleteUser))
	mux.Handle("POST /admin/users/{username}/reset-token/confirm", c.authed(c.handleResetTokenConfirm))
	mux.Handle("POST /admin/users/{username}/reset-token", c.authed(c.handleResetToken))
	mux.Handle("POST /admin/users/{username}/unlock", c.authed(c.handleUnlock))
	mux.Handle("POST /admin/users/{username}/app-passwords/{id}/revoke", c.authed(c.handleRevokeAppPassword))
	mux.Handle("POST /admin/users/{username}/mfa/reset/confirm", c.authed(c.handleResetMFAConfirm))
	mux.Handle("POST /admin/users/{username}/mfa/reset", c.authed(c.handleResetMFA))
	mux.Handle("POST /admin/users/{username}/require-mfa", c.authed(c.handleRequireMFA))
	mux.Handle("POST /admin/users/{username}/admin/confirm", c.authed(c.handleAdminRoleConfirm))
	mux.Handle("POST /admin/users/{username}/admin", c.authed(c.handleAdminRole))

	mux.Handle("GET /admin/trusted-ips", c.authed(c.handleTrustedIPs))
	mux.Handle("POST /admin/trusted-ips", c.authed(c.handleAddTrustedIP))
	mux.Handle("POST /admin/trusted-ips/remove", c.authed(c.handleRemoveTrustedIP))

	mux.Handle("GET /admin/login-history", c.authed(c.handleLoginHistory))
	mux.Handle("GET /admin/audit", c.authed(c.handleAudit))

	mux.Handle("GET /admin/workbench", c.authed(c.handleWorkbench))
	mux.Handle("GET /admin/workbench/dry-run.csv", c.authed(c.handleDryRunCSV))
	mux.Handle("POST /admin/workbench/{id}/actions/{action}", c.authed(c.handleWorkbenchAction))

	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		c.showMessage(w, r, http.StatusNotFound, "Page not found",
			message{Text: "There is no console page at this address.", Back: "/admin/"})
	})

	return web.Chain(mux,
		web.Recover(c.Logger, c.serverError),
		web.SecurityHeaders,
		web.LimitBody(c.Config.MaxBodyBytes),
		web.Timeout(c.Config.RequestTimeout, nil),
	)
}

// adminHandler serves a request of a signed-in administrator.
type adminHandler func(w http.ResponseWriter, r *http.Request, a admin)

// authed admits only a live console session of a user who is still an
// administrator, and, for a POST, only with the form's CSRF token. Without
// a session, a page request goes to the sign-in and comes back after it.
func (c *console) authed(h adminHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ls, ok, err := c.currentSession(r)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if !ok {
			target := "/admin/login"
			if r.Method == http.MethodGet {
				if next := safeNext(r.URL.RequestURI()); next != "" && next != "/admin/" {
					target += "?" + url.Values{"next": {next}}.Encode()
				}
				http.Redirect(w, r, target, http.StatusFound)
				return
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		u, err := c.Accounts.GetUserByID(r.Context(), ls.UserID)
		if err != nil && !errors.Is(err, accounts.ErrNotFound) {
			c.fail(w, r, err)
			return
		}
		if err != nil || !u.Admin || u.Disabled {
			// The user was deleted, disabled or lost the admin role since
			// signing in.
			c.endSession(r.Context(), w, r)
			c.showMessage(w, r, http.StatusForbidden, "Only administrators can use the console",
				message{Text: "Only administrators can use the console. Your account no longer has the admin role.", SignIn: "/admin/login?prompt=login"})
			return
		}
		a := admin{Session: ls, User: u}
		if r.Method == http.MethodPost && !c.checkCSRF(r) {
			c.Logger.WarnContext(r.Context(), "console form refused: missing or wrong CSRF token", "path", r.URL.Path, "username", u.Username)
			p, err := c.page(w, r, a, "Request refused", "")
			if err != nil {
				c.fail(w, r, err)
				return
			}
			p.Error = "Request refused: the form expired or did not come from this console. Nothing was changed. Go back, reload the page and try again."
			p.Data = message{Back: "/admin/"}
			c.pages.Render(w, r, http.StatusForbidden, "message", p)
			return
		}
		h(w, r, a)
	})
}

// serverError is the console's answer to a panic: a page.
func (c *console) serverError(w http.ResponseWriter, r *http.Request) {
	c.showMessage(w, r, http.StatusInternalServerError, "Something went wrong",
		message{Text: "The console could not complete this request. The error was logged.", Back: "/admin/"})
}
