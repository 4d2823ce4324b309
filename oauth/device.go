package oauth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// DeviceGrantType is the device authorization grant's grant type (RFC
// 8628 section 3.4). A client may use the grant only when it lists it.
const DeviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"

// The token endpoint's answers to a device that polls (RFC 8628 section
// 3.5), with the status 400 that RFC 6749 section 5.2 gives them all.
var (
	ErrAuthorizationPending = &fosite.RFC6749Error{
		ErrorField:       "authorization_pending",
		DescriptionField: "The user has not yet approved or denied the request.",
		CodeField:        http.StatusBadRequest,
	}
	ErrSlowDown = &fosite.RFC6749Error{
		ErrorField:       "slow_down",
		DescriptionField: "The device polls too often; wait 5 seconds more between polls, from now on.",
		CodeField:        http.StatusBadRequest,
	}
	ErrExpiredToken = &fosite.RFC6749Error{
		ErrorField:       "expired_token",
		DescriptionField: "The device code has expired; start a new device authorization request.",
		CodeField:        http.StatusBadRequest,
	}
	ErrDeviceAccessDenied = &fosite.RFC6749Error{
		ErrorField:       "access_denied",
		DescriptionField: "The request was denied.",
		CodeField:        http.StatusBadRequest,
	}
)

// userCodeAlphabet has no vowels (no words can be spelt) and no digits
// (nothing looks like another character): 20 letters, RFC 8628 section
// 6.1's example. Eight of them are about 34.6 bits.
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// UserCodeLength is the number of letters in a user code.
const UserCodeLength = 8

// DeviceSettings are the device flow's lifetimes and where people go.
type DeviceSettings struct {
	// CodeLifespan is how long a device code and its user code live.
	CodeLifespan time.Duration
	// PollInterval is the least time between two polls; whole seconds.
	PollInterval time.Duration
	// VerificationURI is the page people enter the user code at.
	VerificationURI string
}

// DeviceCodes is the storage the device flow uses (storage.Store).
type DeviceCodes interface {
	CreateDeviceCode(ctx context.Context, d *models.DeviceCode) error
	DeviceCodeByUserCode(ctx context.Context, userCodeHash string, now time.Time) (models.DeviceCode, error)
	DeviceCode(ctx context.Context, deviceCodeHash string) (models.DeviceCode, error)
	DecideDeviceCode(ctx context.Context, deviceCodeHash string, d storage.DeviceDecision, now time.Time) error
	PollDeviceCode(ctx context.Context, deviceCodeHash string, now time.Time) (models.DeviceCode, bool, error)
	RedeemDeviceCode(ctx context.Context, deviceCodeHash string, now time.Time) error
	RevokeDeviceCode(ctx context.Context, deviceCodeHash string) error
}

// DeviceUsers decides, when a device's tokens are about to be issued,
// whether the user who approved may still have them.
type DeviceUsers interface {
	// DeviceUser returns the user with userID when they may still have
	// tokens of an approval given from approverIP. ok is false, with the
	// login-history result to record, when they may not (gone, or locked
	// out from that address).
	DeviceUser(ctx context.Context, userID, approverIP string) (u models.User, ok bool, result string, err error)
	RecordLogin(ctx context.Context, e models.LoginEvent) error
}

// DeviceConfig is what the grant reads of fosite's configuration.
type DeviceConfig interface {
	fosite.ScopeStrategyProvider
	fosite.AccessTokenLifespanProvider
	fosite.RefreshTokenLifespanProvider
	fosite.IDTokenLifespanProvider
}

// DeviceGrant is the device authorization grant (RFC 8628), which the
// pinned fosite has no handler for: the device authorization endpoint's
// work (Authorize), the verification page's (Lookup, Decide) and, as a
// fosite token endpoint handler, the device's polls and its tokens.
type DeviceGrant struct {
	settings DeviceSettings
	config   DeviceConfig
	codes    DeviceCodes
	users    DeviceUsers
	keys     *keyring.Keyring
	clients  fosite.ClientManager
	access   *oauth2.HandleHelper
	refresh  oauth2.RefreshTokenStrategy
	refreshS oauth2.RefreshTokenStorage
	idTokens *openid.IDTokenHandleHelper
	logger   *slog.Logger
	now      func() time.Time
}

var _ fosite.TokenEndpointHandler = (*DeviceGrant)(nil)

// NewDeviceGrant builds the grant on the provider's parts (it has the
// shape of a TokenHandlerFactory once the rest is bound). now nil means
// time.Now.
func NewDeviceGrant(cfg *fosite.Config, store *Store, strategy *TokenStrategy, signingKeys *KeyManager, codes DeviceCodes, users DeviceUsers, kr *keyring.Keyring, s DeviceSettings, logger *slog.Logger, now func() time.Time) *DeviceGrant {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &DeviceGrant{
		settings: s,
		config:   cfg,
		codes:    codes,
		users:    users,
		keys:     kr,
		clients:  store,
		access:   &oauth2.HandleHelper{AccessTokenStrategy: strategy, AccessTokenStorage: store, Config: cfg},
		refresh:  strategy,
		refreshS: store,
		idTokens: newIDTokenHelper(signingKeys, cfg),
		logger:   logger,
		now:      now,
	}
}

// Settings returns the grant's settings.
func (g *DeviceGrant) Settings() DeviceSettings { return g.settings }

func (g *DeviceGrant) deviceHash(code string) string {
	return g.keys.MAC("device-code", []byte(code))
}

func (g *DeviceGrant) userHash(normalized string) string {
	return g.keys.MAC("device-user-code", []byte(normalized))
}

// NormalizeUserCode returns the user code as stored (upper case, no dash,
// no spaces) and whether it can be one at all: UserCodeLength letters of
// the alphabet. What people type ("bcdf-ghjk", "BCDF GHJK") is accepted.
func NormalizeUserCode(typed string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToUpper(typed) {
		switch {
		case r == '-' || r == ' ' || r == '\t' || r == '\u00a0':
			continue
		case strings.ContainsRune(userCodeAlphabet, r):
			b.WriteRune(r)
		default:
			return "", false
		}
		if b.Len() > UserCodeLength {
			return "", false
		}
	}
	return b.String(), b.Len() == UserCodeLength
}

// FormatUserCode shows a normalised user code the way people read it:
// XXXX-XXXX.
func FormatUserCode(normalized string) string {
	if len(normalized) != UserCodeLength {
		return normalized
	}
	return normalized[:4] + "-" + normalized[4:]
}

// newUserCode draws a user code uniformly from the alphabet.
func newUserCode() (string, error) {
	out := make([]byte, 0, UserCodeLength)
	buf := make([]byte, 16)
	limit := byte(256 - 256%len(userCodeAlphabet)) // rejection keeps it uniform
	for len(out) < UserCodeLength {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("draw user code: %w", err)
		}
		for _, b := range buf {
			if b < limit && len(out) < UserCodeLength {
				out = append(out, userCodeAlphabet[int(b)%len(userCodeAlphabet)])
			}
		}
	}
	return string(out), nil
}

// DeviceAuthorization is the device authorization response (RFC 8628
// section 3.2).
type DeviceAuthorization struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
}

// Authorize starts a device authorization request of client (already
// authenticated) for the scopes in form, from sourceIP with userAgent.
// Errors are fosite's RFC 6749 errors.
func (g *DeviceGrant) Authorize(ctx context.Context, client fosite.Client, form url.Values, sourceIP, userAgent string) (DeviceAuthorization, error) {
	if !client.GetGrantTypes().Has(DeviceGrantType) {
		return DeviceAuthorization{}, fosite.ErrUnauthorizedClient.WithHint("The client is not allowed to use the device authorization grant.")
	}
	scopes := fosite.RemoveEmpty(strings.Split(form.Get("scope"), " "))
	for _, scope := range scopes {
		if scope == AdminScope {
			// A code read out over the phone must never hand over the
			// admin API.
			return DeviceAuthorization{}, fosite.ErrInvalidScope.WithHintf("The scope '%s' is never granted through the device flow.", scope)
		}
		if !g.config.GetScopeStrategy(ctx)(client.GetScopes(), scope) {
			return DeviceAuthorization{}, fosite.ErrInvalidScope.WithHintf("The client is not allowed to request scope '%s'.", scope)
		}
	}
	scopes = slices.Compact(slices.Sorted(slices.Values(scopes)))
	deviceCode, err := keyring.RandomString(32)
	if err != nil {
		return DeviceAuthorization{}, fosite.ErrServerError.WithWrap(err)
	}
	now := g.now().UTC()
	interval := int(g.settings.PollInterval / time.Second)
	for attempt := 0; ; attempt++ {
		userCode, err := newUserCode()
		if err != nil {
			return DeviceAuthorization{}, fosite.ErrServerError.WithWrap(err)
		}
		row := &models.DeviceCode{
			DeviceCodeHash: g.deviceHash(deviceCode),
			UserCodeHash:   g.userHash(userCode),
			ClientID:       client.GetID(),
			Scopes:         scopes,
			Status:         storage.DevicePending,
			SourceIP:       clip(sourceIP, 64),
			UserAgent:      clip(userAgent, 512),
			Interval:       interval,
			CreatedAt:      now,
			ExpiresAt:      now.Add(g.settings.CodeLifespan),
		}
		err = g.codes.CreateDeviceCode(ctx, row)
		if errors.Is(err, storage.ErrConflict) && attempt < 5 {
			continue // the user code is in use: draw another
		}
		if err != nil {
			return DeviceAuthorization{}, fosite.ErrServerError.WithWrap(err)
		}
		shown := FormatUserCode(userCode)
		return DeviceAuthorization{
			DeviceCode:              deviceCode,
			UserCode:                shown,
			VerificationURI:         g.settings.VerificationURI,
			VerificationURIComplete: g.settings.VerificationURI + "?" + url.Values{"user_code": {shown}}.Encode(),
			ExpiresIn:               int(g.settings.CodeLifespan / time.Second),
			Interval:                interval,
		}, nil
	}
}

// clip cuts s to n bytes on a rune boundary and makes it valid UTF-8 (it
// comes from the request).
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	for len(s) > n {
		_, size := lastRune(s)
		s = s[:len(s)-size]
	}
	return s
}

func lastRune(s string) (rune, int) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i]&0xC0 != 0x80 {
			return rune(s[i]), len(s) - i
		}
	}
	return 0, len(s)
}

// Errors of the verification page's steps.
var (
	// ErrUnknownUserCode is a user code that names no live request.
	ErrUnknownUserCode = errors.New("unknown or expired user code")
	// ErrDecided is a request that was approved or denied already.
	ErrDecided = errors.New("the device request was already decided")
)

// DeviceRequest is a pending device request as the verification page
// shows it.
type DeviceRequest struct {
	// UserCode is the normalised user code.
	UserCode   string
	ClientID   string
	ClientName string
	Scopes     []string
	// Where and when the request started.
	SourceIP  string
	UserAgent string
	CreatedAt time.Time
	ExpiresAt time.Time

	deviceHash string
}

// Lookup returns the pending request a typed user code names. A code
// that cannot be one, names nothing or has expired is ErrUnknownUserCode;
// one already decided is ErrDecided.
func (g *DeviceGrant) Lookup(ctx context.Context, typed string) (DeviceRequest, error) {
	code, ok := NormalizeUserCode(typed)
	if !ok {
		return DeviceRequest{}, ErrUnknownUserCode
	}
	d, err := g.codes.DeviceCodeByUserCode(ctx, g.userHash(code), g.now())
	if errors.Is(err, storage.ErrNotFound) {
		return DeviceRequest{}, ErrUnknownUserCode
	}
	if err != nil {
		return DeviceRequest{}, err
	}
	if d.Status != storage.DevicePending {
		return DeviceRequest{}, ErrDecided
	}
	req := DeviceRequest{
		UserCode: code, ClientID: d.ClientID, Scopes: d.Scopes, SourceIP: d.SourceIP, UserAgent: d.UserAgent,
		CreatedAt: d.CreatedAt, ExpiresAt: d.ExpiresAt, deviceHash: d.DeviceCodeHash,
	}
	c, err := g.clients.GetClient(ctx, d.ClientID)
	if errors.Is(err, fosite.ErrNotFound) {
		return DeviceRequest{}, ErrUnknownUserCode // the client is gone
	}
	if err != nil {
		return DeviceRequest{}, err
	}
	if ac, ok := ClientOf(c); ok {
		req.ClientName = ac.Name
	}
	if !c.GetGrantTypes().Has(DeviceGrantType) {
		// The grant was switched off for the client since: nothing to
		// approve.
		return DeviceRequest{}, ErrUnknownUserCode
	}
	return req, nil
}

// Decide records the signed-in user's decision on req. Only one decision
// is ever recorded: a second is ErrDecided, an expired request
// ErrUnknownUserCode.
func (g *DeviceGrant) Decide(ctx context.Context, req DeviceRequest, d storage.DeviceDecision) error {
	err := g.codes.DecideDeviceCode(ctx, req.deviceHash, d, g.now())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return ErrUnknownUserCode
	case errors.Is(err, storage.ErrConflict):
		if cur, err := g.codes.DeviceCode(ctx, req.deviceHash); err == nil && !g.now().Before(cur.ExpiresAt) {
			return ErrUnknownUserCode
		}
		return ErrDecided
	}
	return err
}

// CanHandleTokenEndpointRequest reports whether this is a device's token
// request.
func (g *DeviceGrant) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	return r.GetGrantTypes().ExactOne(DeviceGrantType)
}

// CanSkipClientAuth is false: a public client names itself with
// client_id, which fosite accepts as its authentication; a confidential
// one authenticates.
func (g *DeviceGrant) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

// HandleTokenEndpointRequest answers a device's poll: pending, slow down,
// denied, expired, or, once the user approved, the grant's session, made
// once (the code is redeemed here, atomically).
func (g *DeviceGrant) HandleTokenEndpointRequest(ctx context.Context, r fosite.AccessRequester) error {
	if !g.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	client := r.GetClient()
	if !client.GetGrantTypes().Has(DeviceGrantType) {
		return fosite.ErrUnauthorizedClient.WithHint("The client is not allowed to use the device authorization grant.")
	}
	code := r.GetRequestForm().Get("device_code")
	if code == "" {
		return fosite.ErrInvalidRequest.WithHint("The device_code parameter is required.")
	}
	// The ID token answers to what the user approved, not to parameters
	// of the poll.
	for _, k := range []string{"nonce", "prompt", "max_age", "id_token_hint", "acr_values"} {
		r.GetRequestForm().Del(k)
	}
	hash := g.deviceHash(code)
	// Only the client the code was issued to may poll it: another
	// client's poll changes nothing (not even the interval).
	d, err := g.codes.DeviceCode(ctx, hash)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && d.ClientID != client.GetID()) {
		return fosite.ErrInvalidGrant.WithHint("The device code is unknown.")
	}
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	now := g.now()
	d, tooSoon, err := g.codes.PollDeviceCode(ctx, hash, now)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	switch {
	case d.Status == storage.DeviceRedeemed:
		return fosite.ErrInvalidGrant.WithHint("The device code was used already.")
	case d.Status == storage.DeviceDenied:
		return ErrDeviceAccessDenied
	case !now.Before(d.ExpiresAt):
		return ErrExpiredToken
	case d.Status == storage.DevicePending && tooSoon:
		return ErrSlowDown
	case d.Status == storage.DevicePending:
		return ErrAuthorizationPending
	case d.Status != storage.DeviceApproved:
		return fosite.ErrServerError.WithWrap(fmt.Errorf("device code in unknown status %q", d.Status))
	}
	err = g.codes.RedeemDeviceCode(ctx, hash, now)
	if errors.Is(err, storage.ErrConflict) {
		return fosite.ErrInvalidGrant.WithHint("The device code was used already.")
	}
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	// The user is asked again now: one locked out or removed since the
	// approval gets nothing, and the code can never be used again.
	user, ok, result, err := g.users.DeviceUser(ctx, d.UserID, d.ApproverIP)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	if !ok {
		if err := g.codes.RevokeDeviceCode(ctx, hash); err != nil {
			return fosite.ErrServerError.WithWrap(err)
		}
		g.record(ctx, models.LoginEvent{UserID: d.UserID, Username: user.Username, ClientID: d.ClientID, Result: result})
		return ErrDeviceAccessDenied.WithWrap(errors.New(result))
	}

	r.SetRequestedScopes(d.Scopes)
	for _, scope := range d.Scopes {
		r.GrantScope(scope)
	}
	authTime := now
	if d.AuthTime != nil {
		authTime = *d.AuthTime
	}
	sess, ok := r.GetSession().(*Session)
	if !ok {
		return fosite.ErrServerError.WithWrap(errors.New("the device grant needs an oauth.Session"))
	}
	sess.Subject = user.ID
	sess.Username = user.Username
	sess.Origin, sess.BeganAt = OriginDevice, authTime
	if sess.Claims != nil {
		sess.Claims.Subject = user.ID
		sess.Claims.AuthTime = authTime.UTC().Truncate(time.Second)
		sess.Claims.RequestedAt = d.CreatedAt.UTC().Truncate(time.Second)
		if sess.Claims.RequestedAt.Before(sess.Claims.AuthTime) {
			sess.Claims.RequestedAt = sess.Claims.AuthTime
		}
		if sess.Claims.Extra == nil {
			sess.Claims.Extra = map[string]any{}
		}
		for k, v := range UserClaims(user, r.GetGrantedScopes()) {
			if k != "sub" {
				sess.Claims.Extra[k] = v
			}
		}
	}
	issued := now.UTC()
	atLife := fosite.GetEffectiveLifespan(client, DeviceGrantType, fosite.AccessToken, g.config.GetAccessTokenLifespan(ctx))
	sess.SetExpiresAt(fosite.AccessToken, issued.Add(atLife).Round(time.Second))
	if g.issuesRefresh(r) {
		rtLife := fosite.GetEffectiveLifespan(client, DeviceGrantType, fosite.RefreshToken, g.config.GetRefreshTokenLifespan(ctx))
		if rtLife > -1 {
			sess.SetExpiresAt(fosite.RefreshToken, issued.Add(rtLife).Round(time.Second))
		}
	}
	return nil
}

// issuesRefresh reports whether the grant also returns a refresh token:
// offline_access was granted and the client has the refresh_token grant,
// which fosite's refresh handler requires.
func (g *DeviceGrant) issuesRefresh(r fosite.AccessRequester) bool {
	return r.GetGrantedScopes().Has(ScopeOfflineAccess) && r.GetClient().GetGrantTypes().Has("refresh_token")
}

// record writes a refusal at issue time to the login history; a failure
// to write is logged.
func (g *DeviceGrant) record(ctx context.Context, e models.LoginEvent) {
	e.Method = signin.MethodDevice
	if err := g.users.RecordLogin(ctx, e); err != nil {
		g.logger.ErrorContext(ctx, "record login history", "error", err, "client_id", e.ClientID)
	}
}

// PopulateTokenEndpointResponse issues the access token, a refresh token
// with offline_access, and an ID token with openid.
func (g *DeviceGrant) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !g.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	atLife := fosite.GetEffectiveLifespan(r.GetClient(), DeviceGrantType, fosite.AccessToken, g.config.GetAccessTokenLifespan(ctx))
	accessSig, err := g.access.IssueAccessToken(ctx, atLife, r, resp)
	if err != nil {
		return err
	}
	if g.issuesRefresh(r) {
		refresh, refreshSig, err := g.refresh.GenerateRefreshToken(ctx, r)
		if err != nil {
			return fosite.ErrServerError.WithWrap(err)
		}
		if err := g.refreshS.CreateRefreshTokenSession(ctx, refreshSig, accessSig, r.Sanitize(nil)); err != nil {
			return fosite.ErrServerError.WithWrap(err)
		}
		resp.SetExtra("refresh_token", refresh)
	}
	if r.GetGrantedScopes().Has(ScopeOpenID) {
		idLife := fosite.GetEffectiveLifespan(r.GetClient(), DeviceGrantType, fosite.IDToken, g.config.GetIDTokenLifespan(ctx))
		if err := g.idTokens.IssueExplicitIDToken(ctx, idLife, r, resp); err != nil {
			return fosite.ErrServerError.WithWrap(err)
		}
	}
	return nil
}
