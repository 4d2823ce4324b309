package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"

	"github.com/authgate/authgate/internal/outbound"
	"github.com/authgate/authgate/internal/storage"
)

// ClientAssertionType is the client_assertion_type of RFC 7523 client
// authentication.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// MaxAssertionLifetime bounds how far ahead a client assertion's exp may
// lie and how old its iat may be: its jti is remembered until it expires.
const MaxAssertionLifetime = time.Hour

// assertionSkew is the clock difference allowed for an iat in the future.
const assertionSkew = time.Minute

// jtiKey is the keyed hash a jti is remembered by.
func (s *Store) jtiKey(jti string) string { return s.keys.MAC("client-assertion-jti", []byte(jti)) }

// ClientAssertionJWTValid is part of fosite's ClientManager. It reports
// every jti as unused: SetClientAssertionJWT, which records it, is the
// one atomic check, so that of one assertion sent to several replicas at
// once exactly one is accepted.
func (s *Store) ClientAssertionJWTValid(context.Context, string) error { return nil }

// SetClientAssertionJWT records the jti of an assertion that expires at
// exp; a jti recorded before is refused as a replay.
func (s *Store) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	err := s.st.UseClientAssertionJTI(ctx, s.jtiKey(jti), exp)
	if errors.Is(err, storage.ErrConflict) {
		return fosite.ErrInvalidClient.WithHint("The client assertion was used before: its 'jti' must be new for every assertion.")
	}
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	return nil
}

// checkAssertionTimes refuses, before fosite verifies it, a client
// assertion without exp, or whose exp lies more than MaxAssertionLifetime
// ahead, or whose iat lies in the future or too far back. The claims are
// read unverified: this only ever refuses.
func checkAssertionTimes(assertion string, now time.Time) error {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return fosite.ErrInvalidClient.WithHint("The client assertion is not a signed JWT.")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return fosite.ErrInvalidClient.WithHint("The client assertion is not a signed JWT.")
	}
	var claims struct {
		Exp *json.Number `json:"exp"`
		Iat *json.Number `json:"iat"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		return fosite.ErrInvalidClient.WithHint("The client assertion's claims are not a JSON object.")
	}
	if claims.Exp == nil {
		return fosite.ErrInvalidClient.WithHint("The client assertion has no 'exp' claim.")
	}
	exp, err := claims.Exp.Float64()
	if err != nil {
		return fosite.ErrInvalidClient.WithHint("The client assertion's 'exp' is not a number.")
	}
	if !time.Unix(int64(exp), 0).After(now) {
		return fosite.ErrInvalidClient.WithHint("The client assertion has expired.")
	}
	if time.Unix(int64(exp), 0).After(now.Add(MaxAssertionLifetime)) {
		return fosite.ErrInvalidClient.WithHintf("The client assertion's 'exp' lies more than %s ahead.", MaxAssertionLifetime)
	}
	if claims.Iat != nil {
		iat, err := claims.Iat.Float64()
		if err != nil {
			return fosite.ErrInvalidClient.WithHint("The client assertion's 'iat' is not a number.")
		}
		at := time.Unix(int64(iat), 0)
		if at.After(now.Add(assertionSkew)) || at.Before(now.Add(-MaxAssertionLifetime)) {
			return fosite.ErrInvalidClient.WithHint("The client assertion's 'iat' is in the future or too old.")
		}
	}
	return nil
}

// JWKSOptions tune how clients' jwks_uri are fetched. Zero values take
// the defaults noted.
type JWKSOptions struct {
	// AllowPrivate lets jwks_uri reach loopback, private and link-local
	// addresses; off, only public addresses are fetched.
	AllowPrivate bool
	// Timeout bounds one fetch, reading the answer included; default 5 s.
	Timeout time.Duration
	// MaxBytes bounds the answer; default 64 KiB.
	MaxBytes int64
	// CacheTTL is how long a fetched key set is used; default 5 minutes.
	CacheTTL time.Duration
	// MinRefresh is the least time between two fetches of one URI forced
	// by an unknown key id; default 10 s.
	MinRefresh time.Duration
	// Client, when set, replaces the outbound client (tests).
	Client *http.Client
	// Logger receives failed fetches; default none.
	Logger *slog.Logger
}

// maxCachedJWKS bounds the fetcher's cache; past it, it starts over.
const maxCachedJWKS = 1000

// JWKSFetcher is fosite's JWKSFetcherStrategy for private_key_jwt
// clients' jwks_uri: fetched through internal/outbound (public addresses
// only unless allowed), with a timeout and a size limit, cached, and
// fetched again early at most once per MinRefresh however many assertions
// name an unknown key.
type JWKSFetcher struct {
	o   JWKSOptions
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*jwksEntry
}

type jwksEntry struct {
	mu      sync.Mutex // one fetch at a time per URI
	set     *jose.JSONWebKeySet
	fetched time.Time
}

var _ fosite.JWKSFetcherStrategy = (*JWKSFetcher)(nil)

// NewJWKSFetcher returns a fetcher with options o.
func NewJWKSFetcher(o JWKSOptions) *JWKSFetcher {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 10
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = 5 * time.Minute
	}
	if o.MinRefresh <= 0 {
		o.MinRefresh = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Client == nil {
		o.Client = outbound.NewClient(outbound.Options{AllowPrivate: o.AllowPrivate, Timeout: o.Timeout})
	}
	return &JWKSFetcher{o: o, now: time.Now, entries: map[string]*jwksEntry{}}
}

func (f *JWKSFetcher) entry(location string) *jwksEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.entries[location]
	if !ok {
		if len(f.entries) >= maxCachedJWKS {
			f.entries = map[string]*jwksEntry{}
		}
		e = &jwksEntry{}
		f.entries[location] = e
	}
	return e
}

// Resolve returns the key set at location, from the cache while it is
// fresh; forceRefresh fetches it again unless it was fetched within
// MinRefresh.
func (f *JWKSFetcher) Resolve(ctx context.Context, location string, forceRefresh bool) (*jose.JSONWebKeySet, error) {
	e := f.entry(location)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := f.now()
	if e.set != nil {
		age := now.Sub(e.fetched)
		if age < f.o.MinRefresh || (!forceRefresh && age < f.o.CacheTTL) {
			return e.set, nil
		}
	}
	set, err := f.fetch(ctx, location)
	if err != nil {
		// Not wrapped: a failed fetch is the client's problem, never a
		// sign that authgate's own network or database is down.
		f.o.Logger.WarnContext(ctx, "fetch a client's jwks_uri", "jwks_uri", location, "error", err)
		return nil, fosite.ErrInvalidClient.WithHint("The client's jwks_uri could not be read.").WithDebug(err.Error())
	}
	e.set, e.fetched = set, now
	return set, nil
}

func (f *JWKSFetcher) fetch(ctx context.Context, location string) (*jose.JSONWebKeySet, error) {
	ctx, cancel := context.WithTimeout(ctx, f.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	req.Header.Set("User-Agent", "authgate")
	resp, err := f.o.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks_uri: %w", err)
	}
	defer outbound.Drain(resp.Body, 0)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch jwks_uri: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.o.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read jwks_uri: %w", err)
	}
	if int64(len(body)) > f.o.MaxBytes {
		return nil, fmt.Errorf("read jwks_uri: the key set is larger than %d bytes", f.o.MaxBytes)
	}
	return ParseJWKS(string(body))
}
