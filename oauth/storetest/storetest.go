package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
	"gorm.io/gorm"

	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

// Run runs every conformance test, each on a store of its own. newStore
// returns a Store on a fresh, migrated, empty database, and that database,
// for checking what the store wrote.
func Run(t *testing.T, newStore func(t *testing.T) (*oauth.Store, *gorm.DB)) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s *oauth.Store, db *gorm.DB)
	}{
		{"GetClient", testGetClient},
		{"AuthorizeCode", testAuthorizeCode},
		{"CreateGetDelete", testCreateGetDelete},
		{"RefreshToken", testRefreshToken},
		{"ConcurrentRotate", testConcurrentRotate},
		{"Revoke", testRevoke},
		{"OpenIDConnectKeyedByHash", testOIDCKeyedByHash},
		{"Transaction", testTransaction},
		{"SessionRoundTrip", testSessionRoundTrip},
		{"FormAllowList", testFormAllowList},
		{"PruneExpired", testPruneExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, db := newStore(t)
			tc.run(t, s, db)
		})
	}
}

// kind is one kind of stored request, seen through the store's methods.
type kind struct {
	name   string
	create func(ctx context.Context, s *oauth.Store, sig string, r fosite.Requester) error
	get    func(ctx context.Context, s *oauth.Store, sig string, sess fosite.Session) (fosite.Requester, error)
	// del is nil for authorization codes, which are invalidated instead.
	del func(ctx context.Context, s *oauth.Store, sig string) error
}

var kinds = []kind{
	{
		name: "code",
		create: func(ctx context.Context, s *oauth.Store, sig string, r fosite.Requester) error {
			return s.CreateAuthorizeCodeSession(ctx, sig, r)
		},
		get: func(ctx context.Context, s *oauth.Store, sig string, sess fosite.Session) (fosite.Requester, error) {
			return s.GetAuthorizeCodeSession(ctx, sig, sess)
		},
	},
	{
		name: "access",
		create: func(ctx context.Context, s *oauth.Store, sig string, r fosite.Requester) error {
			return s.CreateAccessTokenSession(ctx, sig, r)
		},
		get: func(ctx context.Context, s *oauth.Store, sig string, sess fosite.Session) (fosite.Requester, error) {
			return s.GetAccessTokenSession(ctx, sig, sess)
		},
		del: func(ctx context.Context, s *oauth.Store, sig string) error {
			return s.DeleteAccessTokenSession(ctx, sig)
		},
	},
	{
		name: "refresh",
		create: func(ctx context.Context, s *oauth.Store, sig string, r fosite.Requester) error {
			return s.CreateRefreshTokenSession(ctx, sig, "", r)
		},
		get: func(ctx context.Context, s *oauth.Store, sig string, sess fosite.Session) (fosite.Requester, error) {
			return s.GetRefreshTokenSession(ctx, sig, sess)
		},
		del: func(ctx context.Context, s *oauth.Store, sig string) error {
			return s.DeleteRefreshTokenSession(ctx, sig)
		},
	},
	{
		name: "pkce",
		create: func(ctx context.Context, s *oauth.Store, sig string, r fosite.Requester) error {
			return s.CreatePKCERequestSession(ctx, sig, r)
		},
		get: func(ctx context.Context, s *oauth.Store, sig string, sess fosite.Session) (fosite.Requester, error) {
			return s.GetPKCERequestSession(ctx, sig, sess)
		},
		del: func(ctx context.Context, s *oauth.Store, sig string) error {
			return s.DeletePKCERequestSession(ctx, sig)
		},
	},
	{
		name: "oidc",
		create: func(ctx context.Context, s *oauth.Store, sig string, r fosite.Requester) error {
			return s.CreateOpenIDConnectSession(ctx, sig, r)
		},
		get: func(ctx context.Context, s *oauth.Store, sig string, sess fosite.Session) (fosite.Requester, error) {
			return s.GetOpenIDConnectSession(ctx, sig, &fosite.Request{Session: sess})
		},
		del: func(ctx context.Context, s *oauth.Store, sig string) error {
			return s.DeleteOpenIDConnectSession(ctx, sig)
		},
	},
}

func kindNamed(name string) kind {
	for _, k := range kinds {
		if k.name == name {
			return k
		}
	}
	panic("storetest: no kind " + name)
}

// seedClient stores a confidential client and returns it as fosite sees it.
func seedClient(t *testing.T, db *gorm.DB, id string) *oauth.Client {
	t.Helper()
	m := models.Client{
		ID:                id,
		Name:              "Client " + id,
		SecretHash:        "hmac-sha256$0000",
		RedirectURIs:      []string{"https://client.example.test/cb"},
		GrantTypes:        []string{"authorization_code", "refresh_token"},
		ResponseTypes:     []string{"code"},
		Scopes:            []string{"openid", "profile", "offline_access"},
		Audience:          []string{"https://api.example.test"},
		FirstParty:        true,
		AccessTokenFormat: oauth.FormatOpaque,
	}
	if err := db.Create(&m).Error; err != nil {
		t.Fatalf("seed client %s: %v", id, err)
	}
	return oauth.NewClient(m)
}

// newRequest returns a granted request of client for subject, with every
// lifetime one hour away.
func newRequest(c fosite.Client, subject string) *fosite.Request {
	now := time.Now().UTC().Truncate(time.Second)
	sess := oauth.NewSession(subject)
	for _, tt := range []fosite.TokenType{fosite.AuthorizeCode, fosite.AccessToken, fosite.RefreshToken} {
		sess.SetExpiresAt(tt, now.Add(time.Hour))
	}
	return &fosite.Request{
		ID:                rand.Text(),
		RequestedAt:       now,
		Client:            c,
		RequestedScope:    fosite.Arguments{"openid", "offline_access"},
		GrantedScope:      fosite.Arguments{"openid", "offline_access"},
		RequestedAudience: fosite.Arguments{"https://api.example.test"},
		GrantedAudience:   fosite.Arguments{"https://api.example.test"},
		Form: url.Values{
			"response_type": {"code"},
			"redirect_uri":  {"https://client.example.test/cb"},
			"state":         {"state-" + rand.Text()},
			"scope":         {"openid offline_access"},
		},
		Session: sess,
	}
}

// sig returns a fresh signature.
func sig() string { return rand.Text() + rand.Text() }

// sameRequest reports how got differs from want in what the store keeps.
func sameRequest(got fosite.Requester, want *fosite.Request) error {
	if got == nil {
		return errors.New("got no request")
	}
	var diffs []string
	check := func(field string, g, w any) {
		if !reflect.DeepEqual(g, w) {
			diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v", field, g, w))
		}
	}
	check("id", got.GetID(), want.ID)
	check("requested_at", got.GetRequestedAt().UTC(), want.RequestedAt.UTC())
	check("client", got.GetClient().GetID(), want.Client.GetID())
	check("requested_scope", got.GetRequestedScopes(), want.RequestedScope)
	check("granted_scope", got.GetGrantedScopes(), want.GrantedScope)
	check("requested_audience", got.GetRequestedAudience(), want.RequestedAudience)
	check("granted_audience", got.GetGrantedAudience(), want.GrantedAudience)
	check("form", got.GetRequestForm(), want.Form)
	check("subject", got.GetSession().GetSubject(), want.Session.GetSubject())
	if len(diffs) > 0 {
		return errors.New(fmt.Sprint(diffs))
	}
	return nil
}

func testGetClient(t *testing.T, s *oauth.Store, db *gorm.DB) {
	seedClient(t, db, "webapp")
	tests := []struct {
		name    string
		id      string
		wantErr error
	}{
		{"found", "webapp", nil},
		{"not found", "nope", fosite.ErrNotFound},
		{"empty id", "", fosite.ErrNotFound},
		{"case differs", "WEBAPP", fosite.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := s.GetClient(context.Background(), tc.id)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("GetClient(%q): got error %v, want %v", tc.id, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("GetClient(%q): %v", tc.id, err)
			}
			ac, ok := oauth.ClientOf(c)
			if !ok {
				t.Fatalf("GetClient(%q): got %T, want *oauth.Client", tc.id, c)
			}
			if ac.GetID() != tc.id || ac.Name != "Client webapp" || !ac.FirstParty || ac.IsPublic() {
				t.Errorf("client: got id %q name %q first party %v public %v", ac.GetID(), ac.Name, ac.FirstParty, ac.IsPublic())
			}
			if got, want := []string(ac.GetRedirectURIs()), []string{"https://client.example.test/cb"}; !slices.Equal(got, want) {
				t.Errorf("redirect URIs: got %v, want %v", got, want)
			}
			if got, want := []string(ac.GetGrantTypes()), []string{"authorization_code", "refresh_token"}; !slices.Equal(got, want) {
				t.Errorf("grant types: got %v, want %v", got, want)
			}
			if got, want := []string(ac.GetAudience()), []string{"https://api.example.test"}; !slices.Equal(got, want) {
				t.Errorf("audience: got %v, want %v", got, want)
			}
		})
	}
}

func testAuthorizeCode(t *testing.T, s *oauth.Store, db *gorm.DB) {
	ctx := context.Background()
	c := seedClient(t, db, "webapp")

	t.Run("unknown", func(t *testing.T) {
		_, err := s.GetAuthorizeCodeSession(ctx, sig(), oauth.NewSession(""))
		if !errors.Is(err, fosite.ErrNotFound) {
			t.Fatalf("got %v, want %v", err, fosite.ErrNotFound)
		}
	})

	t.Run("create, get, invalidate", func(t *testing.T) {
		r, code := newRequest(c, "user-1"), sig()
		if err := s.CreateAuthorizeCodeSession(ctx, code, r); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetAuthorizeCodeSession(ctx, code, oauth.NewSession(""))
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		if err := sameRequest(got, r); err != nil {
			t.Fatalf("get: %v", err)
		}
		if err := s.InvalidateAuthorizeCodeSession(ctx, code); err != nil {
			t.Fatalf("first invalidate: %v", err)
		}
		if err := s.InvalidateAuthorizeCodeSession(ctx, code); !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
			t.Fatalf("second invalidate: got %v, want %v", err, fosite.ErrInvalidatedAuthorizeCode)
		}
		// fosite needs the request of a used code to revoke what it issued.
		got, err = s.GetAuthorizeCodeSession(ctx, code, oauth.NewSession(""))
		if !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
			t.Fatalf("get after invalidate: got error %v, want %v", err, fosite.ErrInvalidatedAuthorizeCode)
		}
		if err := sameRequest(got, r); err != nil {
			t.Fatalf("get after invalidate: %v", err)
		}
	})

	t.Run("invalidating one code leaves another", func(t *testing.T) {
		r1, r2, code1, code2 := newRequest(c, "user-1"), newRequest(c, "user-1"), sig(), sig()
		for code, r := range map[string]*fosite.Request{code1: r1, code2: r2} {
			if err := s.CreateAuthorizeCodeSession(ctx, code, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.InvalidateAuthorizeCodeSession(ctx, code1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetAuthorizeCodeSession(ctx, code2, oauth.NewSession("")); err != nil {
			t.Fatalf("other code: got %v, want no error", err)
		}
	})

	t.Run("concurrent invalidation has one winner", func(t *testing.T) {
		r, code := newRequest(c, "user-1"), sig()
		if err := s.CreateAuthorizeCodeSession(ctx, code, r); err != nil {
			t.Fatal(err)
		}
		errs := concurrently(8, func() error { return s.InvalidateAuthorizeCodeSession(ctx, code) })
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode):
				t.Errorf("loser: got %v, want %v", err, fosite.ErrInvalidatedAuthorizeCode)
			}
		}
		if wins != 1 {
			t.Fatalf("successful invalidations: got %d, want 1", wins)
		}
	})
}

// concurrently runs fn n times at once and returns each result.
func concurrently(n int, fn func() error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn()
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func testCreateGetDelete(t *testing.T, s *oauth.Store, db *gorm.DB) {
	ctx := context.Background()
	c := seedClient(t, db, "webapp")
	for _, k := range kinds {
		if k.del == nil {
			continue
		}
		t.Run(k.name, func(t *testing.T) {
			r, key, other := newRequest(c, "user-1"), sig(), sig()
			if _, err := k.get(ctx, s, key, oauth.NewSession("")); !errors.Is(err, fosite.ErrNotFound) {
				t.Fatalf("get before create: got %v, want %v", err, fosite.ErrNotFound)
			}
			if err := k.create(ctx, s, key, r); err != nil {
				t.Fatalf("create: %v", err)
			}
			if err := k.create(ctx, s, other, newRequest(c, "user-2")); err != nil {
				t.Fatalf("create other: %v", err)
			}
			got, err := k.get(ctx, s, key, oauth.NewSession(""))
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if err := sameRequest(got, r); err != nil {
				t.Fatalf("get: %v", err)
			}
			if err := k.del(ctx, s, key); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if _, err := k.get(ctx, s, key, oauth.NewSession("")); !errors.Is(err, fosite.ErrNotFound) {
				t.Fatalf("get after delete: got %v, want %v", err, fosite.ErrNotFound)
			}
			if got, err := k.get(ctx, s, other, oauth.NewSession("")); err != nil || got.GetSession().GetSubject() != "user-2" {
				t.Fatalf("the other %s after delete: got %v, want it untouched", k.name, err)
			}
		})
	}

	t.Run("same signature, different kinds", func(t *testing.T) {
		key := sig()
		for _, k := range kinds {
			if err := k.create(ctx, s, key, newRequest(c, "user-"+k.name)); err != nil {
				t.Fatalf("create %s: %v", k.name, err)
			}
		}
		for _, k := range kinds {
			got, err := k.get(ctx, s, key, oauth.NewSession(""))
			if err != nil {
				t.Fatalf("get %s: %v", k.name, err)
			}
			if sub := got.GetSession().GetSubject(); sub != "user-"+k.name {
				t.Errorf("get %s: got subject %q, want %q", k.name, sub, "user-"+k.name)
			}
		}
	})

	t.Run("deleted client", func(t *testing.T) {
		gone := seedClient(t, db, "gone")
		key := sig()
		if err := s.CreateAccessTokenSession(ctx, key, newRequest(gone, "user-1")); err != nil {
			t.Fatal(err)
		}
		if err := db.Delete(&models.Client{ID: "gone"}).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetAccessTokenSession(ctx, key, oauth.NewSession("")); !errors.Is(err, fosite.ErrNotFound) {
			t.Fatalf("token of a deleted client: got %v, want %v", err, fosite.ErrNotFound)
		}
	})
}

func testRefreshToken(t *testing.T, s *oauth.Store, db *gorm.DB) {
	ctx := context.Background()
	c := seedClient(t, db, "webapp")

	// grant stores a refresh token and the access token issued with it.
	grant := func(t *testing.T) (r *fosite.Request, refresh, access string) {
		t.Helper()
		r, refresh, access = newRequest(c, "user-1"), sig(), sig()
		if err := s.CreateAccessTokenSession(ctx, access, r); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateRefreshTokenSession(ctx, refresh, access, r); err != nil {
			t.Fatal(err)
		}
		return r, refresh, access
	}

	t.Run("get", func(t *testing.T) {
		r, refresh, _ := grant(t)
		got, err := s.GetRefreshTokenSession(ctx, refresh, oauth.NewSession(""))
		if err != nil {
			t.Fatal(err)
		}
		if err := sameRequest(got, r); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("rotate retires the token and its access token", func(t *testing.T) {
		r, refresh, access := grant(t)
		if err := s.RotateRefreshToken(ctx, r.ID, refresh); err != nil {
			t.Fatalf("rotate: %v", err)
		}
		got, err := s.GetRefreshTokenSession(ctx, refresh, oauth.NewSession(""))
		if !errors.Is(err, fosite.ErrInactiveToken) {
			t.Fatalf("get rotated: got error %v, want %v", err, fosite.ErrInactiveToken)
		}
		// fosite needs the request of a reused token to revoke the grant.
		if err := sameRequest(got, r); err != nil {
			t.Fatalf("get rotated: %v", err)
		}
		if _, err := s.GetAccessTokenSession(ctx, access, oauth.NewSession("")); !errors.Is(err, fosite.ErrNotFound) {
			t.Fatalf("access token issued with the rotated refresh token: got %v, want %v", err, fosite.ErrNotFound)
		}
		if err := s.RotateRefreshToken(ctx, r.ID, refresh); !errors.Is(err, fosite.ErrInactiveToken) {
			t.Fatalf("second rotate: got %v, want %v", err, fosite.ErrInactiveToken)
		}
	})

	t.Run("rotate refuses", func(t *testing.T) {
		tests := []struct {
			name    string
			request func(r *fosite.Request) string
			token   func(refresh string) string
			wantErr error
		}{
			{"unknown token", func(r *fosite.Request) string { return r.ID }, func(string) string { return sig() }, fosite.ErrNotFound},
			{"another grant's request id", func(*fosite.Request) string { return rand.Text() }, func(s string) string { return s }, fosite.ErrInactiveToken},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r, refresh, access := grant(t)
				if err := s.RotateRefreshToken(ctx, tc.request(r), tc.token(refresh)); !errors.Is(err, tc.wantErr) {
					t.Fatalf("rotate: got %v, want %v", err, tc.wantErr)
				}
				if _, err := s.GetRefreshTokenSession(ctx, refresh, oauth.NewSession("")); err != nil {
					t.Errorf("refresh token after a refused rotation: got %v, want it active", err)
				}
				if _, err := s.GetAccessTokenSession(ctx, access, oauth.NewSession("")); err != nil {
					t.Errorf("access token after a refused rotation: got %v, want it kept", err)
				}
			})
		}
	})
}

// testConcurrentRotate exchanges one refresh token from several goroutines
// at once, each the way fosite's refresh handler does: in a transaction,
// rotate, then store the new tokens. Exactly one may win, and the losers
// leave nothing behind.
func testConcurrentRotate(t *testing.T, s *oauth.Store, db *gorm.DB) {
	ctx := context.Background()
	c := seedClient(t, db, "webapp")
	r, refresh, access := newRequest(c, "user-1"), sig(), sig()
	if err := s.CreateAccessTokenSession(ctx, access, r); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRefreshTokenSession(ctx, refresh, access, r); err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := concurrently(n, func() (err error) {
		if _, err := s.GetRefreshTokenSession(ctx, refresh, oauth.NewSession("")); err != nil {
			return err
		}
		tx, err := s.BeginTX(ctx)
		if err != nil {
			return err
		}
		defer func() {
			if err != nil {
				if rerr := s.Rollback(tx); rerr != nil {
					err = errors.Join(err, rerr)
				}
			}
		}()
		if err := s.RotateRefreshToken(tx, r.ID, refresh); err != nil {
			return err
		}
		newAccess, newRefresh := sig(), sig()
		if err := s.CreateAccessTokenSession(tx, newAccess, r); err != nil {
			return err
		}
		if err := s.CreateRefreshTokenSession(tx, newRefresh, newAccess, r); err != nil {
			return err
		}
		return s.Commit(tx)
	})
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, fosite.ErrInactiveToken):
		default:
			t.Errorf("loser: got %v, want %v", err, fosite.ErrInactiveToken)
		}
	}
	if wins != 1 {
		t.Fatalf("successful rotations: got %d, want 1", wins)
	}
	var active int64
	if err := db.Model(&models.OAuthRequest{}).Where("kind = ? AND request_id = ? AND active = ?", "refresh", r.ID, true).Count(&active).Error; err != nil {
		t.Fatal(err)
	}
	if active != 1 {
		t.Errorf("active refresh tokens of the grant: got %d, want 1 (the winner's)", active)
	}
	var accessTokens int64
	if err := db.Model(&models.OAuthRequest{}).Where("kind = ? AND request_id = ?", "access", r.ID).Count(&accessTokens).Error; err != nil {
		t.Fatal(err)
	}
	if accessTokens != 1 {
		t.Errorf("access tokens of the grant: got %d, want 1 (the winner's)", accessTokens)
	}
}

func testRevoke(t *testing.T, s *oauth.Store, db *gorm.DB) {
	ctx := context.Background()
	c := seedClient(t, db, "webapp")

	// grant is every token of one request, two of each kind that has a
	// token, as after a rotation.
	type grant struct {
		r                 *fosite.Request
		refresh, access   []string
		code, pkce, oidcs string
	}
	newGrant := func(t *testing.T) grant {
		t.Helper()
		g := grant{r: newRequest(c, "user-1"), refresh: []string{sig(), sig()}, access: []string{sig(), sig()}, code: sig(), pkce: sig(), oidcs: sig()}
		for i := range g.refresh {
			if err := s.CreateAccessTokenSession(ctx, g.access[i], g.r); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateRefreshTokenSession(ctx, g.refresh[i], g.access[i], g.r); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateAuthorizeCodeSession(ctx, g.code, g.r); err != nil {
			t.Fatal(err)
		}
		if err := s.CreatePKCERequestSession(ctx, g.pkce, g.r); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateOpenIDConnectSession(ctx, g.oidcs, g.r); err != nil {
			t.Fatal(err)
		}
		return g
	}
	// state reports, for each token of g, the error reading it gives.
	state := func(g grant) map[string]error {
		out := map[string]error{}
		for i, sig := range g.refresh {
			_, out[fmt.Sprintf("refresh%d", i)] = s.GetRefreshTokenSession(ctx, sig, oauth.NewSession(""))
		}
		for i, sig := range g.access {
			_, out[fmt.Sprintf("access%d", i)] = s.GetAccessTokenSession(ctx, sig, oauth.NewSession(""))
		}
		_, out["code"] = s.GetAuthorizeCodeSession(ctx, g.code, oauth.NewSession(""))
		_, out["pkce"] = s.GetPKCERequestSession(ctx, g.pkce, oauth.NewSession(""))
		_, out["oidc"] = s.GetOpenIDConnectSession(ctx, g.oidcs, &fosite.Request{Session: oauth.NewSession("")})
		return out
	}
	untouched := map[string]error{"refresh0": nil, "refresh1": nil, "access0": nil, "access1": nil, "code": nil, "pkce": nil, "oidc": nil}
	with := func(changes map[string]error) map[string]error {
		out := map[string]error{}
		for k, v := range untouched {
			out[k] = v
		}
		for k, v := range changes {
			out[k] = v
		}
		return out
	}

	tests := []struct {
		name   string
		revoke func(ctx context.Context, requestID string) error
		want   map[string]error
	}{
		{
			name:   "RevokeRefreshToken",
			revoke: s.RevokeRefreshToken,
			want:   with(map[string]error{"refresh0": fosite.ErrInactiveToken, "refresh1": fosite.ErrInactiveToken}),
		},
		{
			name:   "RevokeAccessToken",
			revoke: s.RevokeAccessToken,
			want:   with(map[string]error{"access0": fosite.ErrNotFound, "access1": fosite.ErrNotFound}),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target, bystander := newGrant(t), newGrant(t)
			if err := tc.revoke(ctx, target.r.ID); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			for name, got := range state(target) {
				if want := tc.want[name]; !errors.Is(got, want) {
					t.Errorf("revoked grant's %s: got %v, want %v", name, got, want)
				}
			}
			for name, got := range state(bystander) {
				if got != nil {
					t.Errorf("other grant's %s: got %v, want it untouched", name, got)
				}
			}
		})
	}

	t.Run("unknown request id", func(t *testing.T) {
		g := newGrant(t)
		for name, revoke := range map[string]func(context.Context, string) error{"refresh": s.RevokeRefreshToken, "access": s.RevokeAccessToken} {
			if err := revoke(ctx, rand.Text()); err != nil && !errors.Is(err, fosite.ErrNotFound) {
				t.Errorf("revoke %s of an unknown request: got %v, want nil or %v", name, err, fosite.ErrNotFound)
			}
		}
		for name, got := range state(g) {
			if got != nil {
				t.Errorf("%s: got %v, want it untouched", name, got)
			}
		}
	})
}

// testOIDCKeyedByHash checks that OpenID Connect sessions, which fosite
// keys by the authorization code itself, never store the code.
func testOIDCKeyedByHash(t *testing.T, s *oauth.Store, db *gorm.DB) {
	ctx := context.Background()
	c := seedClient(t, db, "webapp")
	r, code := newRequest(c, "user-1"), "ory_ac_"+sig()
	if err := s.CreateOpenIDConnectSession(ctx, code, r); err != nil {
		t.Fatal(err)
	}
	var rows []models.OAuthRequest
	if err := db.Where("request_id = ?", r.ID).Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("rows: got %d, want 1", len(rows))
	}
	if rows[0].Signature == code || bytes.Contains([]byte(fmt.Sprintf("%+v", rows[0])), []byte(code)) {
		t.Fatalf("the OpenID Connect session row holds the authorization code")
	}
	got, err := s.GetOpenIDConnectSession(ctx, code, &fosite.Request{Session: oauth.NewSession("")})
	if err != nil {
		t.Fatal(err)
	}
	if err := sameRequest(got, r); err != nil {
		t.Fatal(err)
	}
}

func testTransaction(t *testing.T, s *oauth.Store, db *gorm.DB) {
	c := seedClient(t, db, "webapp")
	tests := []struct {
		name      string
		end       func(s *oauth.Store, ctx context.Context) error
		wantFound bool
	}{
		{"commit", (*oauth.Store).Commit, true},
		{"rollback", (*oauth.Store).Rollback, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest(c, "user-1")
			keys := map[string]string{}
			ctx, err := s.BeginTX(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range kinds {
				keys[k.name] = sig()
				if err := k.create(ctx, s, keys[k.name], r); err != nil {
					t.Fatalf("create %s in transaction: %v", k.name, err)
				}
				if _, err := k.get(ctx, s, keys[k.name], oauth.NewSession("")); err != nil {
					t.Fatalf("get %s in its transaction: %v", k.name, err)
				}
			}
			if err := tc.end(s, ctx); err != nil {
				t.Fatal(err)
			}
			for _, k := range kinds {
				_, err := k.get(context.Background(), s, keys[k.name], oauth.NewSession(""))
				if tc.wantFound && err != nil {
					t.Errorf("%s after %s: got %v, want it stored", k.name, tc.name, err)
				}
				if !tc.wantFound && !errors.Is(err, fosite.ErrNotFound) {
					t.Errorf("%s after %s: got %v, want %v", k.name, tc.name, err, fosite.ErrNotFound)
				}
			}
			var n int64
			if err := db.Model(&models.OAuthRequest{}).Where("request_id = ?", r.ID).Count(&n).Error; err != nil {
				t.Fatal(err)
			}
			want := int64(0)
			if tc.wantFound {
				want = int64(len(kinds))
			}
			if n != want {
				t.Errorf("rows after %s: got %d, want %d", tc.name, n, want)
			}
		})
	}

	t.Run("a rolled back rotation keeps the token", func(t *testing.T) {
		ctx := context.Background()
		r, refresh, access := newRequest(c, "user-1"), sig(), sig()
		if err := s.CreateAccessTokenSession(ctx, access, r); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateRefreshTokenSession(ctx, refresh, access, r); err != nil {
			t.Fatal(err)
		}
		tx, err := s.BeginTX(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RotateRefreshToken(tx, r.ID, refresh); err != nil {
			t.Fatal(err)
		}
		if err := s.Rollback(tx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetRefreshTokenSession(ctx, refresh, oauth.NewSession("")); err != nil {
			t.Errorf("refresh token: got %v, want it active", err)
		}
		if _, err := s.GetAccessTokenSession(ctx, access, oauth.NewSession("")); err != nil {
			t.Errorf("access token: got %v, want it kept", err)
		}
	})

	t.Run("nested transactions defer to the outer one", func(t *testing.T) {
		for _, tc := range []struct {
			name       string
			inner      func(s *oauth.Store, ctx context.Context) error
			wantFound  bool
			wantCommit error
		}{
			{"inner commit, outer commit", (*oauth.Store).Commit, true, nil},
			{"inner rollback, outer commit", (*oauth.Store).Rollback, false, oauth.ErrRolledBack},
		} {
			t.Run(tc.name, func(t *testing.T) {
				outer, err := s.BeginTX(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				inner, err := s.BeginTX(outer)
				if err != nil {
					t.Fatal(err)
				}
				r, signature := newRequest(c, "user-1"), sig()
				if err := s.CreateAccessTokenSession(inner, signature, r); err != nil {
					t.Fatal(err)
				}
				if err := tc.inner(s, inner); err != nil {
					t.Fatalf("inner end: %v", err)
				}
				// The inner end neither commits nor aborts: the outer
				// transaction still sees the row.
				if _, err := s.GetAccessTokenSession(outer, signature, oauth.NewSession("")); err != nil {
					t.Fatalf("outer transaction after the inner end: got %v, want the row", err)
				}
				if err := s.Commit(outer); !errors.Is(err, tc.wantCommit) {
					t.Fatalf("outer commit: got %v, want %v", err, tc.wantCommit)
				}
				_, err = s.GetAccessTokenSession(context.Background(), signature, oauth.NewSession(""))
				if tc.wantFound && err != nil {
					t.Errorf("after the outer commit: got %v, want the row", err)
				}
				if !tc.wantFound && !errors.Is(err, fosite.ErrNotFound) {
					t.Errorf("after the outer commit: got %v, want %v", err, fosite.ErrNotFound)
				}
			})
		}
	})

	t.Run("commit without a transaction", func(t *testing.T) {
		if err := s.Commit(context.Background()); err == nil {
			t.Error("Commit: got nil, want an error")
		}
		if err := s.Rollback(context.Background()); err == nil {
			t.Error("Rollback: got nil, want an error")
		}
	})
}

// fullSession is an OpenID Connect session with every field set.
func fullSession(subject string) *openid.DefaultSession {
	at := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	return &openid.DefaultSession{
		Subject:  subject,
		Username: "alice",
		Claims: &jwt.IDTokenClaims{
			JTI:                                 "jti-1",
			Issuer:                              "https://id.example.test",
			Subject:                             subject,
			Audience:                            []string{"webapp"},
			Nonce:                               "nonce-123456789",
			ExpiresAt:                           at.Add(time.Hour),
			IssuedAt:                            at,
			RequestedAt:                         at.Add(-time.Minute),
			AuthTime:                            at.Add(-2 * time.Minute),
			AuthenticationContextClassReference: "0",
			AuthenticationMethodsReferences:     []string{"pwd"},
			Extra:                               map[string]any{"email": "alice@example.com", "preferred_username": "alice", "email_verified": false},
		},
		Headers: &jwt.Headers{Extra: map[string]any{"kid": "key-1"}},
		ExpiresAt: map[fosite.TokenType]time.Time{
			fosite.AuthorizeCode: at.Add(10 * time.Minute),
			fosite.AccessToken:   at.Add(time.Hour),
			fosite.RefreshToken:  at.Add(30 * 24 * time.Hour),
			fosite.IDToken:       at.Add(time.Hour),
		},
	}
}

func testSessionRoundTrip(t *testing.T, s *oauth.Store, db *gorm.DB) {
	ctx := context.Background()
	c := seedClient(t, db, "webapp")
	wantExpiry := map[string]fosite.TokenType{
		"code": fosite.AuthorizeCode, "pkce": fosite.AuthorizeCode, "oidc": fosite.AuthorizeCode,
		"access": fosite.AccessToken, "refresh": fosite.RefreshToken,
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			r := newRequest(c, "user-1")
			want := fullSession("user-1")
			r.Session = want
			key := sig()
			if err := k.create(ctx, s, key, r); err != nil {
				t.Fatal(err)
			}
			got := &openid.DefaultSession{}
			if _, err := k.get(ctx, s, key, got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("session:\ngot  %+v\n     %+v\nwant %+v\n     %+v", got, got.Claims, want, want.Claims)
			}
			// The row's own columns, which revocation and pruning use.
			var row models.OAuthRequest
			if err := db.Where("request_id = ?", r.ID).Take(&row).Error; err != nil {
				t.Fatal(err)
			}
			if row.Subject != "user-1" || row.ClientID != "webapp" || row.RequestID != r.ID {
				t.Errorf("row: got subject %q client %q request %q, want user-1 webapp %s", row.Subject, row.ClientID, row.RequestID, r.ID)
			}
			if exp := want.GetExpiresAt(wantExpiry[k.name]); row.ExpiresAt == nil || !row.ExpiresAt.Equal(exp) {
				t.Errorf("row expires_at: got %v, want %v", row.ExpiresAt, exp)
			}
		})
	}
}

// secretForm holds a value for each form parameter that must never reach
// the database.
var secretForm = map[string]string{
	"password":              "pw-3f9a1c-hunter2",
	"client_secret":         "cs-77b2e0-topsecret",
	"code_verifier":         "cv-5d41402abc4b2a76b9719d911017c592",
	"refresh_token":         "ory_rt_e4d909c290d0fb1ca068ffaddf22cbd0",
	"code":                  "ory_ac_9e107d9d372bb6826bd81d3542a419d6",
	"client_assertion":      "eyJhbGciOiJSUzI1NiJ9.assertion.sig",
	"security_token":        "st-0cc175b9c0f1b6a831c399e269772661",
	"new_password":          "np-92eb5ffee6ae2fec3ad71c777531578f",
	"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer-secretish",
}

func testFormAllowList(t *testing.T, s *oauth.Store, db *gorm.DB) {
	ctx := context.Background()
	c := seedClient(t, db, "webapp")
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			r := newRequest(c, "user-1")
			r.Form.Set("username", "alice")
			for name, v := range secretForm {
				r.Form.Set(name, v)
			}
			key := sig()
			if err := k.create(ctx, s, key, r); err != nil {
				t.Fatal(err)
			}
			var row models.OAuthRequest
			if err := db.Where("request_id = ?", r.ID).Take(&row).Error; err != nil {
				t.Fatal(err)
			}
			if len(row.Data) == 0 {
				t.Fatal("data column is empty")
			}
			whole := []byte(fmt.Sprintf("%s %+v", row.Data, row))
			for name, v := range secretForm {
				if bytes.Contains(whole, []byte(v)) {
					t.Errorf("stored row holds the %s value", name)
				}
			}
			if state := r.Form.Get("state"); !bytes.Contains(row.Data, []byte(state)) {
				t.Errorf("data column lacks the allowed state %q: %s", state, row.Data)
			}
			got, err := k.get(ctx, s, key, oauth.NewSession(""))
			if err != nil {
				t.Fatal(err)
			}
			form := got.GetRequestForm()
			for name := range secretForm {
				if form.Has(name) {
					t.Errorf("loaded form has %s", name)
				}
			}
			for _, name := range []string{"state", "redirect_uri", "scope", "response_type", "username"} {
				if g, w := form.Get(name), r.Form.Get(name); g != w {
					t.Errorf("loaded form %s: got %q, want %q", name, g, w)
				}
			}
		})
	}
}

func testPruneExpired(t *testing.T, s *oauth.Store, db *gorm.DB) {
	ctx := context.Background()
	c := seedClient(t, db, "webapp")
	now := time.Now().UTC().Truncate(time.Second)
	elsewhere := time.FixedZone("UTC+5", 5*60*60)
	rows := []struct {
		name     string
		kind     string
		expires  time.Time // zero: no expiry
		inactive bool
		wantKept bool
	}{
		{"expired code", "code", now.Add(-time.Hour), false, false},
		{"expired access token", "access", now.Add(-time.Minute), false, false},
		{"expired refresh token", "refresh", now.Add(-24 * time.Hour), false, false},
		{"expired rotated refresh token", "refresh", now.Add(-time.Hour), true, false},
		{"expired pkce", "pkce", now.Add(-time.Hour), false, false},
		{"expired oidc", "oidc", now.Add(-time.Hour), false, false},
		{"expired, expiry in another zone", "access", now.Add(-time.Hour).In(elsewhere), false, false},
		{"live code", "code", now.Add(time.Hour), false, true},
		{"live access token", "access", now.Add(time.Minute), false, true},
		{"live rotated refresh token", "refresh", now.Add(time.Hour), true, true},
		{"live, expiry in another zone", "access", now.Add(time.Hour).In(elsewhere), false, true},
		{"no expiry", "access", time.Time{}, false, true},
	}
	// Each case leaves only live rows behind, which the next cannot prune.
	cutoffs := []struct {
		name   string
		cutoff time.Time
	}{
		{"cutoff in UTC", now},
		{"cutoff in another zone", now.In(elsewhere)},
	}
	for _, tc := range cutoffs {
		t.Run(tc.name, func(t *testing.T) {
			keys := make([]string, len(rows))
			for i, row := range rows {
				r := newRequest(c, "user-1")
				sess := oauth.NewSession("user-1")
				if !row.expires.IsZero() {
					for _, tt := range []fosite.TokenType{fosite.AuthorizeCode, fosite.AccessToken, fosite.RefreshToken} {
						sess.SetExpiresAt(tt, row.expires)
					}
				}
				r.Session = sess
				keys[i] = sig()
				if err := kindNamed(row.kind).create(ctx, s, keys[i], r); err != nil {
					t.Fatalf("%s: %v", row.name, err)
				}
				if row.inactive {
					if err := s.RotateRefreshToken(ctx, r.ID, keys[i]); err != nil {
						t.Fatalf("%s: %v", row.name, err)
					}
				}
			}
			n, err := s.PruneExpired(ctx, tc.cutoff)
			if err != nil {
				t.Fatal(err)
			}
			wantPruned := 0
			for i, row := range rows {
				_, err := kindNamed(row.kind).get(ctx, s, keys[i], oauth.NewSession(""))
				kept := !errors.Is(err, fosite.ErrNotFound)
				if !row.wantKept {
					wantPruned++
				}
				if kept != row.wantKept {
					t.Errorf("%s: got kept=%v (%v), want kept=%v", row.name, kept, err, row.wantKept)
				}
			}
			if n != int64(wantPruned) {
				t.Errorf("pruned: got %d, want %d", n, wantPruned)
			}
		})
	}
}
