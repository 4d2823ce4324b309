package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// Kinds of stored request.
const (
	kindCode    = "code"
	kindAccess  = "access"
	kindRefresh = "refresh"
	kindPKCE    = "pkce"
	kindOIDC    = "oidc"
)

// storedFormKeys are the only form parameters kept with a stored request.
// Everything else (password, client_secret, code, code_verifier,
// refresh_token, ...) is dropped, so no secret reaches the database.
var storedFormKeys = []string{
	"response_type", "redirect_uri", "state", "nonce", "scope", "audience",
	"code_challenge", "code_challenge_method", "prompt", "max_age", "grant_type",
	"acr_values", "ui_locales", "claims", "display", "login_hint", "username",
}

// Store is fosite's storage on gorm. Every method honours a transaction
// begun with BeginTX and carried in the context.
type Store struct {
	st      *storage.Store
	keys    *keyring.Keyring
	logger  *slog.Logger
	clients *clientCache
	guard   Guard
	// codeSignature is the token strategy's AuthorizeCodeSignature, set
	// by NewProvider: the key of a code's OpenID Connect session.
	codeSignature func(ctx context.Context, code string) string
}

var (
	_ fosite.ClientManager               = (*Store)(nil)
	_ oauth2.CoreStorage                 = (*Store)(nil)
	_ oauth2.TokenRevocationStorage      = (*Store)(nil)
	_ openid.OpenIDConnectRequestStorage = (*Store)(nil)
	_ pkce.PKCERequestStorage            = (*Store)(nil)
)

// NewStore returns the fosite adapter on st, whose connection and
// transactions it shares.
func NewStore(st *storage.Store, keys *keyring.Keyring, logger *slog.Logger) *Store {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Store{st: st, keys: keys, logger: logger, clients: newClientCache(DefaultClientCacheTTL)}
}

// txOf reports whether ctx carries a storage transaction.
func txOf(ctx context.Context) (struct{}, bool) { return struct{}{}, storage.InTransaction(ctx) }

// conn returns the transaction in ctx, or the plain connection.
func (s *Store) conn(ctx context.Context) *gorm.DB { return s.st.Conn(ctx) }

// BeginTX starts a transaction carried by the returned context; see
// storage.Store.BeginTX, which this is.
//
// The transaction carries the rows it has read ahead (see txRows).
func (s *Store) BeginTX(ctx context.Context) (context.Context, error) {
	ctx, err := s.st.BeginTX(ctx)
	if err != nil {
		return ctx, err
	}
	if _, ok := ctx.Value(txRowsKey{}).(*txRows); !ok {
		ctx = context.WithValue(ctx, txRowsKey{}, &txRows{})
	}
	return ctx, nil
}

// ErrRolledBack is returned by Commit when an inner part of the
// transaction rolled back.
var ErrRolledBack = storage.ErrRolledBack

// Commit commits the transaction in ctx.
//
// The rows the transaction held back are written first; if they cannot be,
// the transaction rolls back.
func (s *Store) Commit(ctx context.Context) error {
	if err := s.flush(ctx); err != nil {
		return errors.Join(err, s.st.Rollback(ctx))
	}
	return s.st.Commit(ctx)
}

// flush writes the rows the transaction in ctx held back (create), in one
// statement. Inside a transaction, every method that reads or changes the
// token table flushes first (flushFor, when it touches one row), so that
// the transaction sees its own rows.
func (s *Store) flush(ctx context.Context) error {
	if err := s.st.InsertOAuthRequests(ctx, txRowsOf(ctx).take()...); err != nil {
		return fmt.Errorf("store the transaction's new rows: %w", err)
	}
	return nil
}

// flushFor flushes when the row of kind under signature is held back; a
// statement on that row alone cannot see the others.
func (s *Store) flushFor(ctx context.Context, kind, signature string) error {
	if !txRowsOf(ctx).holds(kind, signature) {
		return nil
	}
	return s.flush(ctx)
}

// Rollback aborts the transaction in ctx.
//
// The rows the transaction held back go with it; inside a nested
// transaction, whose rollback ends nothing yet, they are written, so that
// the outer transaction sees what its inner part wrote until it ends.
func (s *Store) Rollback(ctx context.Context) error {
	if storage.Nested(ctx) {
		if err := s.flush(ctx); err != nil {
			return errors.Join(err, s.st.Rollback(ctx))
		}
		return s.st.Rollback(ctx)
	}
	txRowsOf(ctx).take()
	return s.st.Rollback(ctx)
}

// notFound maps gorm's not-found to fosite's, so fosite answers with the
// right OAuth error.
func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return fosite.ErrNotFound.WithWrap(err)
	}
	return err
}

// Guard decides whether a stored grant still stands: the credentials it
// was obtained with may have ended since (a password change, a security
// token reset, the legacy grant switched off for its client). It is asked
// whenever an access or refresh token is used, on every replica, so an
// ended credential takes its tokens with it at once, without a sweep.
type Guard interface {
	Check(ctx context.Context, r fosite.Requester) error
}

// SetGuard installs g; call it before the store is used.
func (s *Store) SetGuard(g Guard) { s.guard = g }

// checkGrant asks the guard about r; a grant that no longer stands is not
// found, so introspection says inactive and a refresh is invalid_grant.
func (s *Store) checkGrant(ctx context.Context, r fosite.Requester) error {
	if s.guard == nil {
		return nil
	}
	err := s.guard.Check(ctx, r)
	if errors.Is(err, ErrGrantEnded) {
		return fosite.ErrNotFound.WithWrap(err)
	}
	return err
}

// ErrGrantEnded is what a Guard returns for a grant whose credentials have
// ended; any other error means no decision was made.
var ErrGrantEnded = errors.New("the credentials this grant was obtained with have ended")

// RevokePasswordGrants deletes every token of the password grant's grants
// for clientID (every client's when clientID is empty): the codes and
// tokens of other grants stay. It returns how many rows went.
func (s *Store) RevokePasswordGrants(ctx context.Context, clientID string) (int64, error) {
	txRowsOf(ctx).clear()
	if err := s.flush(ctx); err != nil {
		return 0, err
	}
	// The LIKE matches the partial index on the password grant's tokens
	// (migration 0017) word for word, so that PostgreSQL and SQLite use
	// it rather than read every token.
	q := s.conn(ctx).Where("origin LIKE 'password+%' AND origin IN ?", PasswordOrigins())
	if clientID != "" {
		q = q.Where("client_id = ?", clientID)
	}
	res := q.Delete(&models.OAuthRequest{})
	if res.Error != nil {
		return 0, fmt.Errorf("revoke password grants: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// SetClientCacheTTL changes how long clients are cached; 0 turns the
// cache off. Call it before the store is used.
func (s *Store) SetClientCacheTTL(ttl time.Duration) { s.clients = newClientCache(ttl) }

// ForgetClient drops a client from the cache, so that a change made in
// this process takes effect at once.
func (s *Store) ForgetClient(id string) { s.clients.forget(id) }

// GetClient loads a client by id. Clients are read on every token request
// and change rarely, so they are cached for a short time; a change made by
// another process (the CLI, another replica) is seen within the TTL.
// Tokens are never cached: a revocation is seen by the next request.
//
// Inside a transaction (a code exchange) the cache is read as anywhere
// else: the exchange asks for its client four times (client
// authentication, then with each of the code's rows), and reading it from
// the database each time, with its brownouts, was a fifth of the flow's
// server CPU. A client read inside a transaction is not cached, since the
// transaction may yet roll back what it read.
func (s *Store) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	if c, ok := s.clients.get(id); ok {
		return fositeClient(c), nil
	}
	c, err := s.loadClient(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, inTx := txOf(ctx); !inTx {
		s.clients.put(id, c)
	}
	return fositeClient(c), nil
}

func (s *Store) loadClient(ctx context.Context, id string) (*Client, error) {
	var m models.Client
	if err := s.conn(ctx).Where("id = ?", id).Take(&m).Error; err != nil {
		return nil, notFound(err)
	}
	c := NewClient(m)
	// The windows still to come ride with the cached client, so that the
	// password grant decides a brownout without a query of its own.
	bs, err := s.st.ClientBrownouts(ctx, id, time.Now())
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		c.Brownouts = append(c.Brownouts, Brownout{Start: b.StartsAt, End: b.EndsAt})
	}
	return c, nil
}

// storedRequest is a request as OAuthRequest.Data holds it (requestcodec.go:
// a binary form, or JSON without the empty lists; a row of an earlier
// version, with them, reads the same).
// When reading, Session holds the pointer the session is decoded into (a
// *Session encodes itself: sessioncodec.go).
type storedRequest struct {
	ID                string     `json:"id"`
	RequestedAt       time.Time  `json:"requested_at"`
	ClientID          string     `json:"client_id"`
	RequestedScope    []string   `json:"requested_scope,omitempty"`
	GrantedScope      []string   `json:"granted_scope,omitempty"`
	RequestedAudience []string   `json:"requested_audience,omitempty"`
	GrantedAudience   []string   `json:"granted_audience,omitempty"`
	Form              url.Values `json:"form,omitempty"`
	Session           any        `json:"session"`
}

func (s *Store) create(ctx context.Context, kind, signature, accessSignature string, r fosite.Requester) error {
	txRowsOf(ctx).forget(kind, signature)
	form := url.Values{}
	for _, k := range storedFormKeys {
		if v, ok := r.GetRequestForm()[k]; ok {
			form[k] = v
		}
	}
	data, err := encodeRequest(storedRequest{
		ID:                r.GetID(),
		RequestedAt:       r.GetRequestedAt(),
		ClientID:          r.GetClient().GetID(),
		RequestedScope:    r.GetRequestedScopes(),
		GrantedScope:      r.GetGrantedScopes(),
		RequestedAudience: r.GetRequestedAudience(),
		GrantedAudience:   r.GetGrantedAudience(),
		Form:              form,
		Session:           r.GetSession(),
	})
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	row := models.OAuthRequest{
		Kind:            kind,
		Signature:       signature,
		RequestID:       r.GetID(),
		AccessSignature: accessSignature,
		ClientID:        r.GetClient().GetID(),
		RequestedAt:     r.GetRequestedAt().UTC(),
		Active:          true,
		Data:            data,
	}
	if sess, ok := r.GetSession().(*Session); ok {
		row.Origin = sess.Origin
	}
	if sess := r.GetSession(); sess != nil {
		row.Subject = sess.GetSubject()
		// In UTC: SQLite compares the stored times as text, so an offset
		// other than PruneExpired's would prune the wrong rows.
		if exp := expiryFor(kind, sess).UTC(); !exp.IsZero() {
			row.ExpiresAt = &exp
		}
	}
	// Inside a transaction the row waits for the transaction's others
	// (an authorization's code, PKCE and OpenID Connect rows: one insert).
	if txRowsOf(ctx).hold(row) {
		return nil
	}
	if err := s.st.InsertOAuthRequest(ctx, row); err != nil {
		return fmt.Errorf("store %s: %w", kind, err)
	}
	return nil
}

func expiryFor(kind string, sess fosite.Session) time.Time {
	switch kind {
	case kindCode, kindPKCE, kindOIDC:
		return sess.GetExpiresAt(fosite.AuthorizeCode)
	case kindAccess:
		return sess.GetExpiresAt(fosite.AccessToken)
	case kindRefresh:
		return sess.GetExpiresAt(fosite.RefreshToken)
	}
	return time.Time{}
}

// get loads a request; it returns the row too so callers can check Active.
func (s *Store) get(ctx context.Context, kind, signature string, session fosite.Session) (*fosite.Request, models.OAuthRequest, error) {
	// A code exchange is one transaction (Provider.Token): holding the
	// code's row from the first read makes parallel redemptions of one
	// code wait for the first to commit, and then see the code used:
	// invalid_grant, the replay rule, and never a 500 from a code that
	// was used between the checks and the writes (on SQLite the write
	// lock already serialises them).
	row, err := s.row(ctx, kind, signature)
	if err != nil {
		return nil, row, notFound(err)
	}
	if session == nil {
		session = NewSession("")
	}
	// One pass: the session decodes straight into the caller's prototype.
	var sr storedRequest
	sr.Session = session
	if err := decodeRequest(row.Data, &sr); err != nil {
		return nil, row, fmt.Errorf("decode %s: %w", kind, err)
	}
	client, err := s.GetClient(ctx, sr.ClientID)
	if err != nil {
		// A deleted client takes its grants with it.
		return nil, row, err
	}
	req := &fosite.Request{
		ID:                sr.ID,
		RequestedAt:       sr.RequestedAt,
		Client:            client,
		RequestedScope:    sr.RequestedScope,
		GrantedScope:      sr.GrantedScope,
		RequestedAudience: sr.RequestedAudience,
		GrantedAudience:   sr.GrantedAudience,
		Form:              sr.Form,
		Session:           session,
	}
	if req.Form == nil {
		req.Form = url.Values{}
	}
	return req, row, nil
}

// row reads the row of kind under signature: from what the transaction
// in ctx read ahead, or from the database. A code exchange reads the
// code's row twice, its PKCE request and its OpenID Connect session once,
// all under the code's signature, in one transaction: the first read of
// the code takes the three rows in one statement, locked, and the later
// reads find them here.
func (s *Store) row(ctx context.Context, kind, signature string) (models.OAuthRequest, error) {
	ahead := txRowsOf(ctx)
	if r, ok := ahead.get(kind, signature); ok {
		return r, nil
	}
	if err := s.flushFor(ctx, kind, signature); err != nil {
		return models.OAuthRequest{}, err
	}
	if kind != kindCode || ahead == nil {
		return s.st.OAuthRequest(ctx, kind, signature, kind == kindCode)
	}
	kinds := []string{kindCode, kindPKCE}
	if s.codeSignature != nil {
		kinds = append(kinds, kindOIDC)
	}
	rows, err := s.st.OAuthRequestKinds(ctx, signature, kinds, true)
	if err != nil {
		return models.OAuthRequest{}, err
	}
	for _, r := range rows {
		ahead.put(r)
	}
	if r, ok := ahead.get(kind, signature); ok {
		return r, nil
	}
	return models.OAuthRequest{}, fmt.Errorf("%w: %w", storage.ErrNotFound, gorm.ErrRecordNotFound)
}

func (s *Store) delete(ctx context.Context, kind, signature string) error {
	txRowsOf(ctx).forget(kind, signature)
	if err := s.flushFor(ctx, kind, signature); err != nil {
		return err
	}
	res := s.conn(ctx).Where("kind = ? AND signature = ?", kind, signature).Delete(&models.OAuthRequest{})
	if res.Error != nil {
		return fmt.Errorf("delete %s: %w", kind, res.Error)
	}
	return nil
}

// CreateAuthorizeCodeSession stores an authorization code's request.
func (s *Store) CreateAuthorizeCodeSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, kindCode, signature, "", r)
}

// GetAuthorizeCodeSession loads an authorization code's request. A used
// code returns the request with fosite.ErrInvalidatedAuthorizeCode, so
// that fosite revokes what the code issued.
func (s *Store) GetAuthorizeCodeSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, row, err := s.get(ctx, kindCode, signature, session)
	if err != nil {
		return nil, err
	}
	if !row.Active {
		s.logger.WarnContext(ctx, "authorization code replayed", "client_id", row.ClientID, "request_id", row.RequestID)
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

// InvalidateAuthorizeCodeSession marks a code used. Only one caller can
// win: a second concurrent exchange finds it already inactive.
func (s *Store) InvalidateAuthorizeCodeSession(ctx context.Context, signature string) error {
	txRowsOf(ctx).forget(kindCode, signature)
	if err := s.flushFor(ctx, kindCode, signature); err != nil {
		return err
	}
	res := s.conn(ctx).Model(&models.OAuthRequest{}).
		Where("kind = ? AND signature = ? AND active = ?", kindCode, signature, true).
		Update("active", false)
	if res.Error != nil {
		return fmt.Errorf("invalidate code: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fosite.ErrInvalidatedAuthorizeCode
	}
	return nil
}

// CreateAccessTokenSession stores an access token's request.
func (s *Store) CreateAccessTokenSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, kindAccess, signature, "", r)
}

// GetAccessTokenSession loads an access token's request.
func (s *Store) GetAccessTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, row, err := s.get(ctx, kindAccess, signature, session)
	if err != nil {
		return nil, err
	}
	if !row.Active {
		return nil, fosite.ErrInactiveToken
	}
	if err := s.checkGrant(ctx, req); err != nil {
		return nil, err
	}
	return req, nil
}

// DeleteAccessTokenSession removes an access token.
func (s *Store) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	return s.delete(ctx, kindAccess, signature)
}

// CreateRefreshTokenSession stores a refresh token's request.
func (s *Store) CreateRefreshTokenSession(ctx context.Context, signature, accessSignature string, r fosite.Requester) error {
	return s.create(ctx, kindRefresh, signature, accessSignature, r)
}

// GetRefreshTokenSession loads a refresh token's request. A rotated or
// revoked token returns the request with fosite.ErrInactiveToken, which
// makes fosite revoke every token of the grant: refresh token reuse.
func (s *Store) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, row, err := s.get(ctx, kindRefresh, signature, session)
	if err != nil {
		return nil, err
	}
	if !row.Active {
		s.logger.WarnContext(ctx, "refresh token reuse detected; revoking the grant", "client_id", row.ClientID, "request_id", row.RequestID)
		return req, fosite.ErrInactiveToken
	}
	if err := s.checkGrant(ctx, req); err != nil {
		return nil, err
	}
	return req, nil
}

// DeleteRefreshTokenSession removes a refresh token.
func (s *Store) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	return s.delete(ctx, kindRefresh, signature)
}

// RotateRefreshToken retires a refresh token that is being exchanged, and
// the access token issued with it. The conditional update lets exactly one
// of several concurrent exchanges of the same token succeed.
func (s *Store) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	txRowsOf(ctx).clear()
	if err := s.flush(ctx); err != nil {
		return err
	}
	db := s.conn(ctx)
	var row models.OAuthRequest
	if err := db.Where("kind = ? AND signature = ?", kindRefresh, signature).Take(&row).Error; err != nil {
		return notFound(err)
	}
	res := db.Model(&models.OAuthRequest{}).
		Where("kind = ? AND signature = ? AND request_id = ? AND active = ?", kindRefresh, signature, requestID, true).
		Update("active", false)
	if res.Error != nil {
		return fmt.Errorf("rotate refresh token: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fosite.ErrInactiveToken
	}
	if row.AccessSignature != "" {
		if err := s.delete(ctx, kindAccess, row.AccessSignature); err != nil {
			return err
		}
	}
	return nil
}

// RevokeRefreshToken deactivates every refresh token of a grant. The rows
// stay, inactive, so that a later use is recognised as reuse.
func (s *Store) RevokeRefreshToken(ctx context.Context, requestID string) error {
	txRowsOf(ctx).clear()
	if err := s.flush(ctx); err != nil {
		return err
	}
	err := s.conn(ctx).Model(&models.OAuthRequest{}).
		Where("kind = ? AND request_id = ?", kindRefresh, requestID).
		Update("active", false).Error
	if err != nil {
		return fmt.Errorf("revoke refresh tokens: %w", err)
	}
	return nil
}

// RevokeAccessToken deletes every access token of a grant.
func (s *Store) RevokeAccessToken(ctx context.Context, requestID string) error {
	txRowsOf(ctx).clear()
	if err := s.flush(ctx); err != nil {
		return err
	}
	err := s.conn(ctx).Where("kind = ? AND request_id = ?", kindAccess, requestID).
		Delete(&models.OAuthRequest{}).Error
	if err != nil {
		return fmt.Errorf("revoke access tokens: %w", err)
	}
	return nil
}

// fosite keys OpenID Connect sessions by the authorization code itself,
// which is never stored. The session is stored under the code's signature
// (s.codeSignature, the token strategy's; the code's own row has the same
// key), so that the exchange's first read takes the code, its PKCE request
// and its OpenID Connect session in one statement (Store.row). Earlier
// versions stored it under a keyed hash of the code (legacyOIDCKey): a
// session not found under the signature is looked for there, for the
// codes issued before an upgrade (they live minutes).

// oidcKey is the key the OpenID Connect session of code is stored under.
func (s *Store) oidcKey(ctx context.Context, code string) string {
	if s.codeSignature != nil {
		return s.codeSignature(ctx, code)
	}
	return s.legacyOIDCKey(code)
}

func (s *Store) legacyOIDCKey(code string) string { return s.keys.MAC("oidc-code", []byte(code)) }

// CreateOpenIDConnectSession stores the OpenID Connect part of an
// authorization request.
func (s *Store) CreateOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) error {
	return s.create(ctx, kindOIDC, s.oidcKey(ctx, code), "", r)
}

// GetOpenIDConnectSession loads it.
func (s *Store) GetOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) (fosite.Requester, error) {
	req, _, err := s.get(ctx, kindOIDC, s.oidcKey(ctx, code), r.GetSession())
	if errors.Is(err, fosite.ErrNotFound) && s.codeSignature != nil {
		req, _, err = s.get(ctx, kindOIDC, s.legacyOIDCKey(code), r.GetSession())
	}
	if err != nil {
		return nil, err
	}
	return req, nil
}

// DeleteOpenIDConnectSession removes it. (A session stored by an earlier
// version under the legacy key stays until the janitor prunes it: it is
// reachable only through its code, which the exchange has used.)
func (s *Store) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	return s.delete(ctx, kindOIDC, s.oidcKey(ctx, code))
}

// CreatePKCERequestSession stores the PKCE challenge of an authorization request.
func (s *Store) CreatePKCERequestSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, kindPKCE, signature, "", r)
}

// GetPKCERequestSession loads it.
func (s *Store) GetPKCERequestSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, _, err := s.get(ctx, kindPKCE, signature, session)
	if err != nil {
		return nil, err
	}
	return req, nil
}

// DeletePKCERequestSession removes it.
func (s *Store) DeletePKCERequestSession(ctx context.Context, signature string) error {
	return s.delete(ctx, kindPKCE, signature)
}

// PruneExpired deletes requests that expired before cutoff, in paced
// batches (storage.Store.PruneExpiredRequests). Inactive refresh tokens
// are kept until their own expiry so reuse stays detectable.
func (s *Store) PruneExpired(ctx context.Context, cutoff time.Time) (int64, error) {
	return s.st.PruneExpiredRequests(ctx, cutoff, storage.PruneBatch, storage.PruneRest)
}

// transactional mirrors fosite's storage.Transactional, which fosite's
// refresh handler looks for; importing that package drags in test helpers.
type transactional interface {
	BeginTX(ctx context.Context) (context.Context, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

var _ transactional = (*Store)(nil)
