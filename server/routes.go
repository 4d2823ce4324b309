package server

import (
	"net/http"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/server/web"
)

// routes lists every public route in one place.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /.well-known/openid-configuration", s.handleStatic(s.discovery, s.discETag))
	mux.Handle("GET /.well-known/oauth-authorization-server", s.handleStatic(s.asMeta, s.asETag))
	mux.Handle("GET /.well-known/jwks.json", s.handleJWKS())

	mux.Handle("GET /oauth2/authorize", noStore(s.handleAuthorize()))
	mux.Handle("POST /oauth2/authorize", noStore(s.handleAuthorize()))
	mux.Handle("POST /oauth2/token", noStore(s.handleToken()))
	mux.Handle("POST /oauth2/par", noStore(s.handlePAR()))
	// Salesforce's paths, for tools configured with authgate as their
	// login URL (see salesforce.go).
	mux.Handle("POST /services/oauth2/token", noStore(s.handleToken()))
	mux.Handle("POST /services/oauth2/revoke", noStore(s.handleRevoke()))
	mux.Handle("GET "+identityPath+"{org}/{user}", noStore(s.handleIdentity()))
	mux.Handle("POST "+identityPath+"{org}/{user}", noStore(s.handleIdentity()))
	mux.Handle("POST /oauth2/introspect", noStore(s.handleIntrospect()))
	mux.Handle("POST /oauth2/revoke", noStore(s.handleRevoke()))
	mux.Handle("GET /userinfo", noStore(s.handleUserinfo()))
	mux.Handle("POST /userinfo", noStore(s.handleUserinfo()))

	mux.Handle("GET /login", s.handleLoginForm())
	mux.Handle("POST /login", s.throttle(s.limits.login, "login", s.refusePage)(s.handleLogin()))
	if s.MFA != nil && s.Steps != nil {
		mux.Handle("GET /account/mfa", noStore(s.handleMFAPage()))
		mux.Handle("POST /account/mfa/setup", noStore(s.handleMFASetup()))
		mux.Handle("POST /account/mfa/confirm", noStore(s.throttle(s.limits.login, "login", s.refusePage)(s.handleMFAConfirm())))
		mux.Handle("POST /account/mfa/remove", noStore(s.throttle(s.limits.login, "login", s.refusePage)(s.handleMFARemove())))
		mux.Handle("GET /login/verify", noStore(s.handleStepForm()))
		mux.Handle("POST /login/verify", noStore(s.throttle(s.limits.login, "login", s.refusePage)(s.handleStep())))
	}
	mux.Handle("POST /logout", s.handleLogout())
	mux.Handle("GET /oauth2/logout", noStore(s.throttle(s.limits.logout, "logout", s.refusePage)(s.handleEndSession())))
	mux.Handle("POST /oauth2/logout", noStore(s.throttle(s.limits.logout, "logout", s.refusePage)(s.handleEndSession())))
	mux.Handle("GET /account", s.handleAccount())
	mux.Handle("GET /account/security-token", s.handleTokenForm())
	mux.Handle("POST /account/security-token", s.throttle(s.limits.tokenReset, "security_token_reset", s.refusePage)(s.handleTokenReset()))
	mux.Handle("GET /account/password", s.handlePasswordForm())
	mux.Handle("POST /account/password", s.handlePasswordChange())
	mux.Handle("POST /account/sessions/end", s.handleEndSessionOf())
	mux.Handle("POST /account/grants/revoke", s.handleRevokeGrant())
	if s.Links != nil {
		mux.Handle("GET /password/forgot", noStore(s.handleForgotForm()))
		mux.Handle("POST /password/forgot", noStore(s.throttle(s.limits.forgot, "password_forgot", s.refusePage)(s.handleForgot())))
		mux.Handle("GET "+accounts.ResetPath, noStore(s.handleResetForm()))
		mux.Handle("POST "+accounts.ResetPath, noStore(s.throttle(s.limits.login, "login", s.refusePage)(s.handleReset())))
		mux.Handle("GET "+accounts.VerifyPath, noStore(s.handleLinkForm("Verify your email address", accounts.VerifyPath)))
		mux.Handle("POST "+accounts.VerifyPath, noStore(s.throttle(s.limits.login, "login", s.refusePage)(s.handleLinkPost("Verify your email address", accounts.VerifyPath, s.Links.VerifyEmail))))
		mux.Handle("GET "+accounts.ConfirmEmailPath, noStore(s.handleLinkForm("Confirm your new email address", accounts.ConfirmEmailPath)))
		mux.Handle("POST "+accounts.ConfirmEmailPath, noStore(s.throttle(s.limits.login, "login", s.refusePage)(s.handleLinkPost("Confirm your new email address", accounts.ConfirmEmailPath, s.Links.ConfirmEmailChange))))
		mux.Handle("POST /account/email/verify", s.throttle(s.limits.tokenReset, "security_token_reset", s.refusePage)(s.handleSendVerification()))
		mux.Handle("GET /account/email", s.handleEmailForm())
		mux.Handle("POST /account/email", s.throttle(s.limits.login, "login", s.refusePage)(s.handleEmailChange()))
	}
	if s.Device != nil {
		mux.Handle("POST /oauth2/device/authorize", noStore(s.throttle(s.limits.deviceAuthorize, "device_authorize", refuseJSON)(s.handleDeviceAuthorize())))
		mux.Handle("GET /device", noStore(s.handleDevicePage()))
		mux.Handle("POST /device", noStore(s.throttle(s.limits.deviceCode, "device_code", s.refusePage)(s.handleDeviceForm())))
	}
	mux.Handle("GET /static/", staticHandler())
	mux.Handle("GET /static/passkeys.js", handlePasskeysJS())
	if s.AppPasswords != nil {
		mux.Handle("GET /account/app-passwords", noStore(s.handleAppPasswords()))
		// The answer shows a new value once: never cached.
		mux.Handle("POST /account/app-passwords", noStore(s.handleAppPasswordCreate()))
		mux.Handle("POST /account/app-passwords/{id}/revoke", s.handleAppPasswordRevoke())
	}
	mux.Handle("GET /account/passkeys", s.handlePasskeys())
	mux.Handle("POST /account/passkeys/register/begin", noStore(s.handlePasskeyRegisterBegin()))
	mux.Handle("POST /account/passkeys/register/finish", noStore(s.handlePasskeyRegisterFinish()))
	mux.Handle("POST /account/passkeys/{id}/rename", s.handlePasskeyChange("rename"))
	mux.Handle("POST /account/passkeys/{id}/passwordless", s.handlePasskeyChange("passwordless"))
	mux.Handle("POST /account/passkeys/{id}/remove", s.handlePasskeyChange("remove"))
	mux.Handle("POST /login/passkey/begin", s.throttle(s.limits.login, "login", refuseJSON)(noStore(s.handlePasskeyLoginBegin())))
	mux.Handle("POST /login/verify/passkey/begin", s.throttle(s.limits.login, "login", refuseJSON)(noStore(s.handlePasskeyStepBegin())))
	mux.Handle("POST /login/passkey/finish", s.throttle(s.limits.login, "login", refuseJSON)(noStore(s.handlePasskeyLoginFinish())))

	mux.Handle("GET /health/alive", s.handleAlive())
	mux.Handle("GET /health/ready", s.handleReady())
	mux.Handle("/", s.handleNotFound())

	return web.Chain(s.Metrics.Middleware(mux),
		s.ClientIP.Middleware,
		logRequests(s.Logger),
		web.Recover(s.Logger, serverError),
		web.SecurityHeaders,
		web.LimitBody(s.Config.MaxBodyBytes),
		web.Timeout(s.Config.RequestTimeout, metadataRequest),
	)
}
