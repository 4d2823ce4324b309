package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/ory/fosite"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/apppasswords"
	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/logout"
	"github.com/authgate/authgate/internal/mail"
	"github.com/authgate/authgate/internal/metrics"
	"github.com/authgate/authgate/internal/mfa"
	"github.com/authgate/authgate/internal/notices"
	"github.com/authgate/authgate/internal/outbound"
	"github.com/authgate/authgate/internal/passkeys"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/trustedips"
	"github.com/authgate/authgate/internal/workbench"
	"github.com/authgate/authgate/legacy"
	"github.com/authgate/authgate/oauth"
	"github.com/authgate/authgate/server"
	"github.com/authgate/authgate/server/adminapi"
	"github.com/authgate/authgate/server/console"
)

// DefaultKeyRefresh is how soon a replica sees a signing key rotated by
// another.
const DefaultKeyRefresh = 10 * time.Second

// janitorEvery is how often expired rows are pruned.
const janitorEvery = 10 * time.Minute

// Options change how New builds the application. The zero value is what
// production uses; tests set the clock, a cheap hash cost and a mail
// transport of their own.
type Options struct {
	// Logger receives every log line; nil discards them.
	Logger *slog.Logger
	// Now is the clock of the services; nil means time.Now.
	Now func() time.Time
	// Argon2, when set, replaces the configured argon2id cost.
	Argon2 *password.Params
	// MailTransport, when set, replaces the transport the configuration
	// names (SMTP, or the outbox folder).
	MailTransport mail.Transport
	// KeyRefresh is how often Run reloads the signing keys; zero means
	// the configured key_refresh_interval.
	KeyRefresh time.Duration
}

// App is the assembled application. Its fields are the parts that
// commands and tests work with; New sets every one of them.
type App struct {
	Config   config.Config
	Logger   *slog.Logger
	Store    *storage.Store
	Keyring  *keyring.Keyring
	Hasher   *password.Hasher
	Secrets  *oauth.SecretHasher
	Accounts *accounts.Service
	Clients  *clients.Service
	Trust    *trustedips.Ranges
	Keys     *oauth.KeyManager
	Provider *oauth.Provider
	Metrics  *metrics.Metrics
	Sender   *mail.Sender
	// Logouts delivers back-channel logout tokens.
	Logouts *logout.Sender
	// Passkeys registers passkeys and checks their assertions.
	Passkeys *passkeys.Service
	// MFA manages second factors (TOTP, recovery codes) and their policy.
	MFA *mfa.Service
	// Notices sends the emails announcing legacy sunsets.
	Notices *notices.Service
	// Workbench reports the move off the legacy grant; WorkbenchActor
	// carries out its actions.
	Workbench      *workbench.Service
	WorkbenchActor *workbench.Actor
	// AppPasswords manages the users' app passwords.
	AppPasswords *apppasswords.Service
	// Public is the public listener's handler: OAuth 2.0, OpenID Connect,
	// login, consent and account pages.
	Public http.Handler
	// Admin is the admin listener's handler: console, admin API, metrics.
	Admin http.Handler

	tokens     *oauth.Store
	revoker    *legacy.Revoker
	now        func() time.Time
	keyRefresh time.Duration
}

// New opens and migrates the database that cfg names and builds the
// application on it. It starts nothing: Run does the background work and
// the caller serves Public and Admin. Close releases the database.
func New(ctx context.Context, cfg config.Config, opts Options) (_ *App, err error) {
	a := &App{Config: cfg, Logger: opts.Logger, now: opts.Now, keyRefresh: opts.KeyRefresh}
	if a.Logger == nil {
		a.Logger = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.keyRefresh <= 0 {
		a.keyRefresh = cmp.Or(cfg.KeyRefreshInterval, DefaultKeyRefresh)
	}
	if a.Keyring, err = keyring.New([]byte(cfg.Secret)); err != nil {
		return nil, err
	}
	params := password.Params{Time: cfg.Argon2.Time, Memory: cfg.Argon2.Memory, Threads: cfg.Argon2.Threads}
	if opts.Argon2 != nil {
		params = *opts.Argon2
	}
	if a.Hasher, err = password.NewHasher(params, cfg.Argon2.MaxConcurrent); err != nil {
		return nil, err
	}
	if a.Store, err = storage.OpenStore(ctx, cfg.DatabaseURL, storage.Options{MaxOpenConns: cfg.DBMaxOpenConns, Logger: a.Logger}); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = a.Store.Close()
		}
	}()
	if err := a.Store.Migrate(ctx); err != nil {
		return nil, err
	}
	if err := a.build(ctx, opts.MailTransport); err != nil {
		return nil, err
	}
	return a, nil
}

// build makes every part on the open store.
func (a *App) build(ctx context.Context, transport mail.Transport) error {
	cfg, logger := a.Config, a.Logger
	sqlDB, err := a.Store.SQLDB()
	if err != nil {
		return err
	}
	a.Metrics = metrics.New(sqlDB)
	a.Secrets = &oauth.SecretHasher{Keys: a.Keyring, Argon2: a.Hasher}
	a.Accounts = accounts.New(a.Store, a.Keyring, a.Hasher, accounts.Options{
		Organization:     cfg.Organization,
		LockoutThreshold: cfg.LockoutThreshold,
		LockoutDuration:  cfg.LockoutDuration,
		Now:              a.now,
		Logger:           logger,
		Issuer:           cfg.Issuer,
		// 0 in the configuration turns the limit off.
		LinkEmailsPerHour:  cmp.Or(cfg.Links.EmailsPerHour, -1),
		ResetLinkLifespan:  cfg.Links.ResetLifespan,
		VerifyLinkLifespan: cfg.Links.VerifyLifespan,
		VerifyOnCreate:     cfg.Mail.SMTPHost != "",
		// Every lock the sign-in core starts, on any channel.
		OnLockout: func(ch signin.Channel) { a.Metrics.Lockout(ch.String()) },
		// A source throttled for failing across usernames, by channel.
		OnThrottle: func(ch signin.Channel) { a.Metrics.Throttled("spray_" + ch.String()) },
		AccountURL: cfg.Issuer + "/account",
		// App passwords survive a password change unless the policy says.
		RevokeAppPasswordsOnPasswordChange: cfg.AppPasswordRevokeOnPasswordChange,
	})
	a.MFA = mfa.New(a.Store, a.Keyring, mfa.Options{
		Issuer: cfg.Organization, Policy: mfa.Policy(cfg.MFA.Required), Now: a.now, Logger: logger,
	})
	a.AppPasswords = apppasswords.New(a.Store, a.Keyring, apppasswords.Options{
		MaxLifetime: cfg.AppPasswordMaxLifetime, Organization: cfg.Organization,
		AccountURL: cfg.Issuer + "/account", Now: a.now, Logger: logger,
	})
	a.tokens = oauth.NewStore(a.Store, a.Keyring, logger)
	// Every use of a token asks the guard whether a grant the legacy
	// grant began may still be used.
	a.tokens.SetGuard(&legacy.Guard{Users: a.Accounts, Factors: a.Store, AppPasswords: a.AppPasswords, Disabled: cfg.LegacyGrantDisabled})
	a.revoker = &legacy.Revoker{Grants: a.tokens, Disabled: cfg.LegacyGrantDisabled, Logger: logger}
	a.Clients = clients.New(a.Store, a.Secrets, clients.Options{Now: a.now, Changed: a.clientChanged, Protected: []string{console.ClientID}})
	a.revoker.Clients = a.Clients
	a.Trust = trustedips.New(a.Store, trustedips.WithClock(a.now))
	a.Keys = oauth.NewKeyManager(a.Store, a.Keyring, oauth.KeyOptions{
		Retention: cfg.TokenRetention(), PrePublish: cfg.KeyPrePublish(), Now: a.now,
	})
	if err := a.Keys.Ensure(ctx); err != nil {
		return err
	}

	if transport == nil {
		transport = mailTransport(cfg, logger)
	}
	a.Sender, err = mail.NewSender(a.Store, a.Keyring, transport, mail.SenderOptions{
		From: cfg.Mail.From, PollInterval: cfg.Mail.PollInterval, MaxAttempts: cfg.Mail.MaxAttempts, Logger: logger, Now: a.now,
	})
	if err != nil {
		return err
	}
	a.Notices = notices.New(a.Store, a.Keyring, notices.Options{
		Organization: cfg.Organization, Issuer: cfg.Issuer, MigrationURL: cfg.LegacyMigrationURL,
		Days: cfg.LegacyNoticeDays, Lookback: cfg.LegacyNoticeLookback, Disabled: cfg.LegacyGrantDisabled,
		Methods: accounts.LegacyMethods(), Success: accounts.ResultSuccess, Now: a.now, Logger: logger,
	})
	a.Workbench = workbench.New(a.Store, workbench.Options{
		PasswordMethod: accounts.MethodPasswordGrant, RefreshMethod: accounts.MethodPasswordGrantRefresh,
		AppPasswordMethod: accounts.MethodAppPassword,
		Success:           accounts.ResultSuccess, Disabled: cfg.LegacyGrantDisabled, Now: a.now,
	})
	a.WorkbenchActor = &workbench.Actor{Clients: a.Clients, Notices: a.Notices}
	a.Metrics.WatchMail(func(ctx context.Context) (int64, int64, error) {
		st, err := a.Sender.Stats(ctx)
		return st.Queued, st.Failed, err
	})

	a.Logouts = logout.NewSender(a.Store, a.Keys.Signer(), logout.Options{
		Issuer: cfg.Issuer,
		Client: outbound.NewClient(outbound.Options{AllowPrivate: cfg.OutboundAllowPrivate}),
		Logger: logger,
		Now:    a.now,
	})
	a.Passkeys, err = passkeys.New(a.Store, a.Keyring, passkeys.Options{
		Issuer: cfg.Issuer, DisplayName: cfg.Organization, Timeout: cfg.PasskeyTimeout, Now: a.now, Logger: logger,
	})
	if err != nil {
		return err
	}

	resolver := clientip.New(cfg.TrustedProxies, cfg.ForwardedHeader)
	var device *oauth.DeviceGrant
	a.Provider = oauth.NewProvider(oauth.Settings{
		Issuer:                cfg.Issuer,
		AccessTokenLifespan:   cfg.AccessTokenLifespan,
		RefreshTokenLifespan:  cfg.RefreshTokenLifespan,
		AuthorizeCodeLifespan: cfg.AuthorizeCodeLifespan,
		IDTokenLifespan:       cfg.IDTokenLifespan,
		ClientJWKS:            oauth.JWKSOptions{AllowPrivate: cfg.OutboundAllowPrivate, Logger: logger},
	}, a.tokens, a.Keys, a.Keyring, a.Secrets,
		func(fc *fosite.Config, store *oauth.Store, strategy *oauth.TokenStrategy) fosite.TokenEndpointHandler {
			g := legacy.New(fc, store, strategy, a.Accounts, a.Trust, cfg.LegacyGrantDisabled, logger)
			// Lockouts reach the metrics through the sign-in core.
			g.Observe = func(clientID, result string, _ bool) { a.Metrics.Legacy(clientID, result) }
			g.IsProxy = resolver.IsProxy
			g.MigrationURL = cfg.LegacyMigrationURL
			// A TOTP code in place of the security token, and the MFA
			// policy that makes it the only way.
			g.Codes = a.MFA
			g.ObserveMFA = a.Metrics.MFA
			g.AppPasswords = a.AppPasswords
			g.Now = a.now
			return g
		},
		func(fc *fosite.Config, store *oauth.Store, strategy *oauth.TokenStrategy) fosite.TokenEndpointHandler {
			device = oauth.NewDeviceGrant(fc, store, strategy, a.Keys, a.Store, a.Accounts, a.Keyring, oauth.DeviceSettings{
				CodeLifespan:    cfg.Device.CodeLifespan,
				PollInterval:    cfg.Device.PollInterval,
				VerificationURI: cfg.Issuer + "/device",
			}, logger, a.now)
			return device
		})

	if a.Public, err = server.New(server.Deps{
		Logger:            logger,
		Links:             a.Accounts,
		Config:            cfg,
		Store:             a.Store,
		Keys:              a.Keyring,
		Provider:          a.Provider,
		Users:             a.Accounts,
		ClientIP:          resolver,
		Ready:             a.ready,
		Metrics:           a.Metrics,
		Device:            device,
		TokenResponseHook: legacy.SunsetHeaders,
		Hints:             logout.Verifier{Issuer: cfg.Issuer, Keys: a.Provider},
		LogoutQueued:      a.Logouts.Wake,
		Passkeys:          a.Passkeys,
		MFA:               a.MFA,
		Steps:             a.Store,
		AppPasswords:      a.AppPasswords,
	}); err != nil {
		return err
	}
	adminUI, err := console.New(console.Deps{
		Logger: logger, Config: cfg, Store: a.Store, Keys: a.Keyring, Accounts: a.Accounts,
		Clients: a.Clients, Trust: a.Trust, TokenTransport: inProcess{a.Public}, Now: a.now, MFA: a.MFA,
		AuditLog:  a.Store,
		Workbench: a.Workbench, WorkbenchActor: a.WorkbenchActor, AppPasswords: a.AppPasswords,
	})
	if err != nil {
		return err
	}
	a.Admin = a.adminMux(adminUI)
	return nil
}

// clientChanged drops a changed client from the token store's cache and,
// when the client may no longer use the legacy grant (switched off, past
// its sunset), revokes the grants the legacy grant issued to it.
func (a *App) clientChanged(id string) {
	a.tokens.ForgetClient(id)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := a.Clients.Get(ctx, id)
	if err == nil {
		err = a.revoker.Client(ctx, c)
	}
	if err != nil && !errors.Is(err, clients.ErrNotFound) {
		a.Logger.Warn("revoke the legacy grant's tokens after a client change", "client_id", id, "error", err)
	}
}

// mailTransport is the transport the configuration names: SMTP when a
// host is set, else files in the outbox folder.
func mailTransport(cfg config.Config, logger *slog.Logger) mail.Transport {
	if cfg.Mail.SMTPHost != "" {
		return mail.NewSMTPTransport(mail.SMTPOptions{
			Host: cfg.Mail.SMTPHost, Port: cfg.Mail.SMTPPort, TLS: cfg.Mail.SMTPTLS,
			Username: cfg.Mail.SMTPUsername, Password: cfg.Mail.SMTPPassword,
		})
	}
	logger.Info("mail goes to an outbox folder; set AUTHGATE_SMTP_HOST to send real email", "outbox", cfg.Mail.Outbox)
	return mail.NewFileTransport(cfg.Mail.Outbox)
}

// adminMux routes the admin listener: console, admin API, metrics, pprof
// when configured, and a liveness check.
func (a *App) adminMux(adminUI http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/admin/", adminUI)
	mux.Handle("/admin/api/", adminapi.NewAPI(adminapi.APIDeps{
		Logger: a.Logger, Provider: a.Provider, Accounts: a.Accounts,
		Clients: a.Clients, Trust: a.Trust, Keys: a.Keys, AuditLog: a.Store, Mail: a.Sender, Now: a.now, MFA: a.MFA,
		Workbench: a.Workbench, WorkbenchActor: a.WorkbenchActor, AppPasswords: a.AppPasswords,
	}))
	mux.Handle("GET /metrics", a.Metrics.Handler())
	if a.Config.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	}
	mux.Handle("GET /{$}", http.RedirectHandler("/admin/", http.StatusFound))
	mux.HandleFunc("GET /health/alive", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	return mux
}

// Prepare writes what serving needs and the CLI does not: the admin
// console's own OAuth client. It is idempotent; serve calls it before it
// listens.
func (a *App) Prepare(ctx context.Context) error {
	return console.EnsureClient(ctx, a.Store, a.Keyring, a.Config.AdminURL)
}

// ready reports whether the database answers within two seconds and the
// system secret opens the current signing key (oauth.ErrKeySecret when a
// key was rotated under another secret).
func (a *App) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := a.Store.Ping(ctx); err != nil {
		return err
	}
	return a.Keys.CheckCurrent(ctx)
}

// Run does the background work until ctx ends: it sends queued mail and
// back-channel logout tokens, reloads the signing keys (requests only read
// them from memory) and prunes what has expired. It returns when all of it
// has stopped.
func (a *App) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := a.Sender.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			a.Logger.Error("mail sender stopped", "error", err)
		}
	})
	wg.Go(func() { a.Keys.Run(ctx, a.keyRefresh, a.Logger) })
	wg.Go(func() {
		if err := a.Logouts.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			a.Logger.Error("back-channel logout sender stopped", "error", err)
		}
	})
	wg.Go(func() { a.janitor(ctx) })
	wg.Wait()
}

// janitor deletes what has expired: tokens, login sessions, and login
// history past its retention.
func (a *App) janitor(ctx context.Context) {
	every := a.Config.JanitorInterval
	if every <= 0 {
		every = janitorEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		// Sunsets pass on their own and the global switch has no change
		// event: the sweep revokes what the legacy grant issued to clients
		// that may no longer use it (their tokens are refused already).
		if err := a.revoker.Sweep(ctx); err != nil && ctx.Err() == nil {
			a.Logger.Warn("revoke the legacy grant's tokens", "error", err)
		}
		now := a.now().UTC()
		if n, err := a.tokens.PruneExpired(ctx, now.Add(-time.Hour)); err != nil && ctx.Err() == nil {
			a.Logger.Warn("prune expired tokens", "error", err)
		} else if n > 0 {
			a.Logger.Info("pruned expired tokens", "count", n)
		}
		if _, err := a.Store.PruneClientAuth(ctx, now); err != nil && ctx.Err() == nil {
			a.Logger.Warn("prune client assertions and pushed requests", "error", err)
		}
		if _, err := a.Store.DeleteExpiredDeviceCodes(ctx, now.Add(-time.Hour)); err != nil && ctx.Err() == nil {
			a.Logger.Warn("prune expired device codes", "error", err)
		}
		if _, err := a.Store.DeleteExpiredSessions(ctx, now); err != nil && ctx.Err() == nil {
			a.Logger.Warn("prune expired sessions", "error", err)
		}
		if _, err := a.Store.DeleteExpiredWebAuthnCeremonies(ctx, now); err != nil && ctx.Err() == nil {
			a.Logger.Warn("prune expired passkey ceremonies", "error", err)
		}
		if _, err := a.Store.DeleteExpiredSecondSteps(ctx, now); err != nil && ctx.Err() == nil {
			a.Logger.Warn("prune expired second steps", "error", err)
		}
		if _, err := a.Store.PruneEmailTokens(ctx, now.Add(-24*time.Hour)); err != nil && ctx.Err() == nil {
			a.Logger.Warn("prune expired email links", "error", err)
		}
		if _, err := a.Accounts.PruneLogins(ctx, now.Add(-a.Config.LoginHistoryRetention)); err != nil && ctx.Err() == nil {
			a.Logger.Warn("prune login history", "error", err)
		}
		// Each replica runs the due sunset notices; a notice claimed by
		// one is skipped by the others.
		if _, err := a.Notices.Run(ctx); err != nil && ctx.Err() == nil {
			a.Logger.Warn("send legacy sunset notices", "error", err)
		}
		// A source's failures are forgotten after a day without attempts.
		if _, err := a.Store.PruneAttempts(ctx, now.Add(-24*time.Hour), now); err != nil && ctx.Err() == nil {
			a.Logger.Warn("prune sign-in attempts", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close releases the database.
func (a *App) Close() error { return a.Store.Close() }

// inProcess is an http.RoundTripper that serves requests with a handler in
// this process. The admin console is an OAuth client of this server; it
// reaches the token and userinfo endpoints this way because the public
// issuer URL may not be reachable from the server itself (a load balancer
// in front, split DNS).
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.RemoteAddr = "127.0.0.1:0"
	req.RequestURI = req.URL.RequestURI()
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
