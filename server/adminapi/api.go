package adminapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/mfa"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/trustedips"
	"github.com/authgate/authgate/internal/workbench"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
	"github.com/authgate/authgate/server/web"
)

// APIDeps are the parts the admin API is built from.
type APIDeps struct {
	Logger *slog.Logger
	// Provider checks the bearer tokens.
	Provider *oauth.Provider
	Accounts *accounts.Service
	Clients  *clients.Service
	Trust    *trustedips.Ranges
	Keys     *oauth.KeyManager
	// AuditLog lists the audit log and records mail retries, which the
	// mail sender does not record itself.
	AuditLog AuditLog
	// Mail lists and requeues failed mail (the server's mail.Sender).
	Mail FailedMail
	// Workbench reports the move off the legacy grant; WorkbenchActor
	// carries out its actions.
	Workbench      *workbench.Service
	WorkbenchActor *workbench.Actor
	// Now is the clock; default time.Now.
	Now func() time.Time
	// MFA lists and resets users' second factors.
	MFA MFA
	// AppPasswords lists and revokes users' app passwords.
	AppPasswords AppPasswords
}

// MFA is what the API needs of the second factors (mfa.Service): a list
// that never holds a secret, an audited reset that emails the user, and
// never a secret either.
type MFA interface {
	List(ctx context.Context, userID string) (mfa.Factors, error)
	Reset(ctx context.Context, actor string, u models.User) (bool, error)
}

// AuditLog reads and writes the audit log; *storage.Store is one.
type AuditLog interface {
	ListAudit(ctx context.Context, f storage.AuditFilter) ([]models.AuditEntry, error)
	Audit(ctx context.Context, actor, action, target, detail string) error
}

// api is the admin API's handler state.
type api struct {
	APIDeps
	// patterns lists every registered route, for the OpenAPI test.
	patterns []string
}

// NewAPI returns the admin API handler. It serves only paths under
// /admin/api/ and answers every other path with a JSON 404.
func NewAPI(d APIDeps) http.Handler {
	h, _ := newAPI(d)
	return h
}

func newAPI(d APIDeps) (http.Handler, *api) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	a := &api{APIDeps: d}
	return a.routes(), a
}

// routes lists every admin API route in one place.
func (a *api) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h http.Handler) {
		a.patterns = append(a.patterns, pattern)
		mux.Handle(pattern, h)
	}
	auth := a.authenticate

	handle("GET /admin/api/openapi.json", a.handleOpenAPI())

	handle("GET /admin/api/clients", auth(a.handleListClients()))
	handle("POST /admin/api/clients", auth(a.handleCreateClient()))
	handle("GET /admin/api/clients/{id}", auth(a.handleGetClient()))
	handle("PATCH /admin/api/clients/{id}", auth(a.handleUpdateClient()))
	handle("DELETE /admin/api/clients/{id}", auth(a.handleDeleteClient()))
	handle("POST /admin/api/clients/{id}/rotate-secret", auth(a.handleRotateSecret()))
	handle("POST /admin/api/clients/{id}/legacy/enable", auth(a.handleSetLegacy(true)))
	handle("POST /admin/api/clients/{id}/legacy/disable", auth(a.handleSetLegacy(false)))
	handle("PUT /admin/api/clients/{id}/legacy/sunset", auth(a.handleSetSunset()))
	handle("PUT /admin/api/clients/{id}/legacy/migration-url", auth(a.handleSetMigrationURL()))
	handle("GET /admin/api/clients/{id}/legacy/brownouts", auth(a.handleListBrownouts()))
	handle("POST /admin/api/clients/{id}/legacy/brownouts", auth(a.handleAddBrownout()))
	handle("DELETE /admin/api/clients/{id}/legacy/brownouts/{brownout}", auth(a.handleRemoveBrownout()))

	handle("GET /admin/api/users", auth(a.handleListUsers()))
	handle("POST /admin/api/users", auth(a.handleCreateUser()))
	handle("GET /admin/api/users/{username}", auth(a.handleGetUser()))
	handle("PATCH /admin/api/users/{username}", auth(a.handleUpdateUser()))
	handle("DELETE /admin/api/users/{username}", auth(a.handleDeleteUser()))
	handle("POST /admin/api/users/{username}/password", auth(a.handleSetPassword()))
	handle("POST /admin/api/users/{username}/reset-token", auth(a.handleResetToken()))
	handle("POST /admin/api/users/{username}/unlock", auth(a.handleUnlock()))
	handle("GET /admin/api/users/{username}/mfa", auth(a.handleListMFA()))
	handle("DELETE /admin/api/users/{username}/mfa", auth(a.handleResetMFA()))
	handle("GET /admin/api/users/{username}/app-passwords", auth(a.handleListAppPasswords()))
	handle("DELETE /admin/api/users/{username}/app-passwords/{id}", auth(a.handleRevokeAppPassword()))

	handle("GET /admin/api/trusted-ips", auth(a.handleListRanges()))
	handle("POST /admin/api/trusted-ips", auth(a.handleAddRange()))
	handle("DELETE /admin/api/trusted-ips", auth(a.handleRemoveRange()))

	handle("GET /admin/api/login-history", auth(a.handleLoginHistory()))
	handle("GET /admin/api/legacy/report", auth(a.handleLegacyReport()))
	handle("GET /admin/api/legacy/daily", auth(a.handleLegacyDaily()))
	handle("GET /admin/api/legacy/workbench", auth(a.handleWorkbench()))
	handle("GET /admin/api/legacy/workbench/dry-run", auth(a.handleDryRun()))
	handle("POST /admin/api/legacy/workbench/{id}/actions/{action}", auth(a.handleWorkbenchAction()))

	handle("GET /admin/api/keys", auth(a.handleListKeys()))
	handle("POST /admin/api/keys/rotate", auth(a.handleRotateKey()))

	handle("GET /admin/api/audit", auth(a.handleAudit()))

	handle("GET /admin/api/mail/failed", auth(a.handleListFailedMail()))
	handle("POST /admin/api/mail/failed/{id}/retry", auth(a.handleRetryMail()))

	return web.Recover(a.Logger, func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, errPanic)
	})(apiHeaders(a.jsonFallback(mux)))
}

// jsonFallback answers what mux has no route for (404, or 405 with its
// Allow header) in the API's JSON error shape instead of the mux's text.
func (a *api) jsonFallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		probe := &statusProbe{header: http.Header{}}
		mux.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			a.writeError(w, r, errMethodNotAllowed)
			return
		}
		a.writeError(w, r, errNoRoute)
	})
}

// statusProbe records the status and headers a handler writes and drops
// its body.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(status int)      { p.status = status }

// apiHeaders sets the headers every admin API response carries: nothing
// is cached, and a browser never renders a response as a page.
func apiHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}
