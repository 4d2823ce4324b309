package clients

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

var testNow = time.Date(2030, 3, 14, 9, 26, 53, 123456789, time.UTC)

type fixture struct {
	svc    *Service
	db     *gorm.DB
	hasher *oauth.SecretHasher
}

func setup(t *testing.T, db *gorm.DB) fixture {
	t.Helper()
	root := make([]byte, 48)
	if _, err := rand.Read(root); err != nil {
		t.Fatal(err)
	}
	keys, err := keyring.New(root)
	if err != nil {
		t.Fatalf("keyring.New: %v", err)
	}
	h := &oauth.SecretHasher{Keys: keys}
	return fixture{svc: New(storage.New(db), h, Options{Now: func() time.Time { return testNow }}), db: db, hasher: h}
}

// webApp is a valid confidential client using the authorization code grant.
func webApp() NewClient {
	return NewClient{
		Name:         "Web app",
		GrantTypes:   []string{GrantAuthorizationCode, GrantRefreshToken},
		RedirectURIs: []string{"https://app.example.com/callback"},
		Scopes:       []string{"openid", "profile", "email", "offline_access"},
	}
}

func (f fixture) mustCreate(t *testing.T, in NewClient) (models.Client, string) {
	t.Helper()
	c, s, err := f.svc.Create(t.Context(), "admin", in)
	if err != nil {
		t.Fatalf("Create(%+v): %v", in, err)
	}
	return c, s
}

// auditEntries returns the audit actions recorded for target, oldest first.
func auditEntries(t *testing.T, db *gorm.DB, target string) []models.AuditEntry {
	t.Helper()
	entries, err := storage.New(db).ListAudit(t.Context(), storage.AuditFilter{Target: target})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	slices.Reverse(entries)
	return entries
}

func auditActions(t *testing.T, db *gorm.DB, target string) []string {
	t.Helper()
	var out []string
	for _, e := range auditEntries(t, db, target) {
		out = append(out, e.Action)
	}
	return out
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db)
		tests := []struct {
			name  string
			edit  func(*NewClient)
			field string // "" when the client is valid
			msg   string // a substring of the message
		}{
			{name: "valid", edit: func(*NewClient) {}},
			{name: "client credentials only", edit: func(c *NewClient) {
				c.GrantTypes, c.RedirectURIs, c.Scopes = []string{GrantClientCredentials}, nil, []string{oauth.AdminScope}
			}},
			{name: "legacy only", edit: func(c *NewClient) { c.GrantTypes, c.RedirectURIs = []string{GrantPassword}, nil }},
			{name: "public with code", edit: func(c *NewClient) { c.Public = true }},
			{name: "http loopback ipv4", edit: func(c *NewClient) { c.RedirectURIs = []string{"http://127.0.0.1:8080/cb"} }},
			{name: "http loopback ipv6", edit: func(c *NewClient) { c.RedirectURIs = []string{"http://[::1]:8080/cb"} }},
			{name: "http localhost", edit: func(c *NewClient) { c.RedirectURIs = []string{"http://localhost/cb"} }},
			{name: "jwt format", edit: func(c *NewClient) { c.AccessTokenFormat = "jwt" }},
			{name: "ES256 and EdDSA", edit: func(c *NewClient) { c.IDTokenAlg, c.AccessTokenAlg = "ES256", "EdDSA" }},
			{name: "unknown ID token alg", edit: func(c *NewClient) { c.IDTokenAlg = "HS256" }, field: "id_token_signed_response_alg", msg: `"HS256" is not a supported signing algorithm; use RS256, ES256 or EdDSA`},
			{name: "unknown access token alg", edit: func(c *NewClient) { c.AccessTokenAlg = "none" }, field: "access_token_signed_response_alg", msg: `"none" is not a supported signing algorithm`},
			{name: "name of 200 characters", edit: func(c *NewClient) { c.Name = strings.Repeat("é", 200) }},

			{name: "no name", edit: func(c *NewClient) { c.Name = "  " }, field: "name", msg: "is required"},
			{name: "long name", edit: func(c *NewClient) { c.Name = strings.Repeat("a", 201) }, field: "name", msg: "at most 200"},
			{name: "control in name", edit: func(c *NewClient) { c.Name = "a\x00b" }, field: "name", msg: "control"},
			{name: "no grant types", edit: func(c *NewClient) { c.GrantTypes = nil }, field: "grant_types", msg: "at least one"},
			{name: "unknown grant type", edit: func(c *NewClient) { c.GrantTypes = []string{GrantAuthorizationCode, "implicit"} }, field: "grant_types", msg: `"implicit" is not a supported grant type`},
			{name: "public client credentials", edit: func(c *NewClient) {
				c.Public, c.GrantTypes, c.RedirectURIs = true, []string{GrantClientCredentials}, nil
			}, field: "grant_types", msg: "public client cannot use client_credentials"},
			{name: "public password", edit: func(c *NewClient) { c.Public, c.GrantTypes = true, []string{GrantAuthorizationCode, GrantPassword} }, field: "grant_types", msg: "public client cannot use password"},
			{name: "code without redirect", edit: func(c *NewClient) { c.RedirectURIs = nil }, field: "redirect_uris", msg: "required with the authorization_code grant"},
			{name: "redirect without code", edit: func(c *NewClient) { c.GrantTypes = []string{GrantClientCredentials} }, field: "redirect_uris", msg: "only by the authorization_code grant"},
			{name: "relative redirect", edit: func(c *NewClient) { c.RedirectURIs = []string{"foo"} }, field: "redirect_uris", msg: `"foo" is not an absolute URL`},
			{name: "malformed redirect", edit: func(c *NewClient) { c.RedirectURIs = []string{"https://[::1"} }, field: "redirect_uris", msg: "is not a valid URL"},
			{name: "no host", edit: func(c *NewClient) { c.RedirectURIs = []string{"https:///cb"} }, field: "redirect_uris", msg: "not an absolute URL"},
			{name: "opaque", edit: func(c *NewClient) { c.RedirectURIs = []string{"https:example.com"} }, field: "redirect_uris", msg: "not an absolute URL"},
			{name: "http remote", edit: func(c *NewClient) { c.RedirectURIs = []string{"http://app.example.com/cb"} }, field: "redirect_uris", msg: "must use https"},
			{name: "http loopback lookalike", edit: func(c *NewClient) { c.RedirectURIs = []string{"http://localhost.example.com/cb"} }, field: "redirect_uris", msg: "must use https"},
			{name: "custom scheme", edit: func(c *NewClient) { c.RedirectURIs = []string{"com.example.app://cb"} }, field: "redirect_uris", msg: "must use https"},
			{name: "fragment", edit: func(c *NewClient) { c.RedirectURIs = []string{"https://app.example.com/cb#x"} }, field: "redirect_uris", msg: "fragment"},
			{name: "empty fragment", edit: func(c *NewClient) { c.RedirectURIs = []string{"https://app.example.com/cb#"} }, field: "redirect_uris", msg: "fragment"},
			{name: "userinfo", edit: func(c *NewClient) { c.RedirectURIs = []string{"https://u:p@app.example.com/cb"} }, field: "redirect_uris", msg: "user name"},
			{name: "unknown scope", edit: func(c *NewClient) { c.Scopes = []string{"openid", "admin"} }, field: "scopes", msg: `"admin" is not a supported scope`},
			{name: "bad format", edit: func(c *NewClient) { c.AccessTokenFormat = "xml" }, field: "access_token_format", msg: `"xml" must be opaque or jwt`},
			{name: "bad audience", edit: func(c *NewClient) { c.Audience = []string{"two words"} }, field: "audience", msg: "single word"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				in := webApp()
				tt.edit(&in)
				c, secret, err := f.svc.Create(t.Context(), "admin", in)
				if tt.field == "" {
					if err != nil {
						t.Fatalf("Create: %v, want success", err)
					}
					if c.Public != (secret == "") {
						t.Errorf("Public = %t with secret %q, want a secret exactly for confidential clients", c.Public, secret)
					}
					return
				}
				var fe *apperr.Error
				if !errors.As(err, &fe) {
					t.Fatalf("Create = %v, want an apperr field error for %s", err, tt.field)
				}
				if apperr.CodeOf(err) != apperr.Invalid {
					t.Errorf("CodeOf(%v) = %q, want invalid", err, apperr.CodeOf(err))
				}
				if fe.Field != tt.field || !strings.Contains(fe.Message, tt.msg) {
					t.Errorf("got %s: %s, want %s: ...%s...", fe.Field, fe.Message, tt.field, tt.msg)
				}
				if err.Error() != fe.Field+": "+fe.Message {
					t.Errorf("Error() = %q, want the bare field error", err.Error())
				}
			})
		}
		var n int64
		if err := db.Model(&models.Client{}).Where("name <> ?", "").Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		if want := int64(10); n != want {
			t.Errorf("stored %d clients, want %d (only the valid cases)", n, want)
		}
	})
}

func TestCreateGetList(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db)
		ctx := t.Context()
		in := webApp()
		in.GrantTypes = []string{" authorization_code", "refresh_token", "authorization_code"}
		in.FirstParty = true
		c, sec := f.mustCreate(t, in)
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(c.ID) {
			t.Errorf("ID = %q, want 32 hex digits", c.ID)
		}
		raw, err := base64.RawURLEncoding.DecodeString(sec)
		if err != nil || len(raw) != SecretBytes {
			t.Errorf("secret %q decodes to %d bytes (%v), want %d bytes of base64url", sec, len(raw), err, SecretBytes)
		}
		if !strings.HasPrefix(c.SecretHash, "hmac-sha256$") {
			t.Errorf("SecretHash = %q, want the HMAC form", c.SecretHash)
		}
		if err := f.hasher.Compare(ctx, []byte(c.SecretHash), []byte(sec)); err != nil {
			t.Errorf("Compare(hash, secret) = %v, want nil", err)
		}
		if want := []string{GrantAuthorizationCode, GrantRefreshToken}; !slices.Equal(c.GrantTypes, want) {
			t.Errorf("GrantTypes = %v, want %v (trimmed, deduplicated)", c.GrantTypes, want)
		}
		if !slices.Equal(c.ResponseTypes, []string{"code"}) || c.AccessTokenFormat != oauth.FormatOpaque || !c.FirstParty {
			t.Errorf("ResponseTypes, AccessTokenFormat, FirstParty = %v, %q, %t, want [code], opaque, true", c.ResponseTypes, c.AccessTokenFormat, c.FirstParty)
		}

		got, err := f.svc.Get(ctx, c.ID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if got.Name != c.Name || !slices.Equal(got.RedirectURIs, c.RedirectURIs) || !slices.Equal(got.Scopes, c.Scopes) ||
			got.SecretHash != c.SecretHash || !got.CreatedAt.Equal(c.CreatedAt) || !got.CreatedAt.Equal(testNow.Truncate(time.Microsecond)) {
			t.Errorf("Get = %+v, want %+v", got, c)
		}

		pub, sec2 := f.mustCreate(t, NewClient{Name: "Another app", GrantTypes: []string{GrantAuthorizationCode}, RedirectURIs: []string{"http://127.0.0.1/cb"}, Public: true})
		if sec2 != "" || pub.SecretHash != "" {
			t.Errorf("public client got secret %q, hash %q, want neither", sec2, pub.SecretHash)
		}
		svc, _ := f.mustCreate(t, NewClient{Name: "Batch job", GrantTypes: []string{GrantClientCredentials}, AccessTokenFormat: "jwt"})
		if len(svc.ResponseTypes) != 0 || svc.RedirectURIs == nil {
			t.Errorf("ResponseTypes, RedirectURIs = %#v, %#v, want both empty and not nil", svc.ResponseTypes, svc.RedirectURIs)
		}

		list, err := f.svc.List(ctx)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		var names []string
		for _, c := range list {
			names = append(names, c.Name)
		}
		if want := []string{"Another app", "Batch job", "Web app"}; !slices.Equal(names, want) {
			t.Errorf("List names = %v, want %v", names, want)
		}

		if _, err := f.svc.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
		}
		if got := auditActions(t, db, c.ID); !slices.Equal(got, []string{ActionCreate}) {
			t.Errorf("audit actions = %v, want [%s]", got, ActionCreate)
		}
		if e := auditEntries(t, db, c.ID)[0]; e.Actor != "admin" || !strings.Contains(e.Detail, `name="Web app"`) || strings.Contains(e.Detail, c.SecretHash) {
			t.Errorf("audit entry = %+v, want actor admin, the name and no hash", e)
		}
	})
}

// TestSecretNeverStored dumps every table and looks for the plaintext
// secrets, in the encodings a careless implementation might use.
func TestSecretNeverStored(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db)
		c, first := f.mustCreate(t, webApp())
		second, err := f.svc.RotateSecret(t.Context(), "admin", c.ID)
		if err != nil {
			t.Fatalf("RotateSecret: %v", err)
		}
		stored, err := f.svc.Get(t.Context(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		sawHash := false
		for _, m := range models.All() {
			stmt := &gorm.Statement{DB: db}
			if err := stmt.Parse(m); err != nil {
				t.Fatal(err)
			}
			var rows []map[string]any
			if err := db.Table(stmt.Schema.Table).Find(&rows).Error; err != nil {
				t.Fatalf("read %T: %v", m, err)
			}
			dump := fmt.Sprint(rows)
			sawHash = sawHash || strings.Contains(dump, stored.SecretHash)
			for _, s := range []string{first, second} {
				raw, _ := base64.RawURLEncoding.DecodeString(s)
				for _, enc := range []string{s, base64.StdEncoding.EncodeToString(raw), fmt.Sprintf("%x", raw), fmt.Sprint(raw)} {
					if strings.Contains(dump, enc) {
						t.Errorf("table of %T holds a client secret", m)
					}
				}
			}
		}
		if !sawHash {
			t.Errorf("no table dump holds the stored hash %q; the dump is not reading the rows", stored.SecretHash)
		}
	})
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db)
		ctx := t.Context()
		c, _ := f.mustCreate(t, webApp())

		name, format, fp := "  Renamed  ", "jwt", true
		uris := []string{"https://a.example.com/cb", "http://localhost:9000/cb"}
		got, err := f.svc.Update(ctx, "ops", c.ID, ClientUpdate{Name: &name, AccessTokenFormat: &format, FirstParty: &fp, RedirectURIs: &uris})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if got.Name != "Renamed" || got.AccessTokenFormat != "jwt" || !got.FirstParty || !slices.Equal(got.RedirectURIs, uris) {
			t.Errorf("Update = %+v, want the new name, format, first party and URIs", got)
		}
		if !slices.Equal(got.Scopes, c.Scopes) || got.SecretHash != c.SecretHash {
			t.Errorf("Update changed fields it was not given: %+v", got)
		}
		stored, err := f.svc.Get(ctx, c.ID)
		if err != nil || stored.Name != "Renamed" || !slices.Equal(stored.RedirectURIs, uris) || !stored.UpdatedAt.Equal(got.UpdatedAt) {
			t.Errorf("Get after Update = %+v, %v, want %+v", stored, err, got)
		}

		// The same rules apply to the resulting client.
		grants := []string{GrantClientCredentials}
		_, err = f.svc.Update(ctx, "ops", c.ID, ClientUpdate{GrantTypes: &grants})
		if fe := (*apperr.Error)(nil); !errors.As(err, &fe) || fe.Field != "redirect_uris" {
			t.Errorf("Update(drop code, keep URIs) = %v, want a redirect_uris field error", err)
		}
		bad := []string{"foo"}
		if _, err := f.svc.Update(ctx, "ops", c.ID, ClientUpdate{RedirectURIs: &bad}); err == nil || err.Error() != `redirect_uris: "foo" is not an absolute URL` {
			t.Errorf("Update(bad URI) = %v, want the bare field error", err)
		}
		none := []string{}
		if _, err := f.svc.Update(ctx, "ops", c.ID, ClientUpdate{GrantTypes: &none}); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("Update(no grant types) = %v, want an invalid error", err)
		}
		got, err = f.svc.Update(ctx, "ops", c.ID, ClientUpdate{GrantTypes: &grants, RedirectURIs: &none})
		if err != nil || !slices.Equal(got.GrantTypes, grants) || len(got.ResponseTypes) != 0 {
			t.Errorf("Update(to client credentials) = %+v, %v, want grant types %v and no response types", got, err, grants)
		}

		// A no-op writes no audit entry.
		if _, err := f.svc.Update(ctx, "ops", c.ID, ClientUpdate{FirstParty: &fp}); err != nil {
			t.Fatalf("Update(no-op): %v", err)
		}
		if _, err := f.svc.Update(ctx, "ops", "nope", ClientUpdate{Name: &name}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Update(unknown) = %v, want ErrNotFound", err)
		}
		entries := auditEntries(t, db, c.ID)
		if len(entries) != 3 || entries[1].Action != ActionUpdate || entries[2].Action != ActionUpdate || entries[1].Actor != "ops" {
			t.Fatalf("audit = %+v, want create and two updates by ops", entries)
		}
		if d := entries[1].Detail; !strings.Contains(d, `name "Web app" -> "Renamed"`) || !strings.Contains(d, "access_token_format opaque -> jwt") {
			t.Errorf("update detail = %q, want the changes", d)
		}
	})
}

func TestDelete(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db)
		ctx := t.Context()
		c, _ := f.mustCreate(t, webApp())
		other, _ := f.mustCreate(t, webApp())
		for i, id := range []string{c.ID, other.ID} {
			rows := []any{
				&models.OAuthRequest{Kind: "access", Signature: fmt.Sprintf("sig-%d", i), RequestID: "r", ClientID: id, Data: []byte("{}")},
				&models.Consent{UserID: "u1", ClientID: id, Scopes: []string{"openid"}},
			}
			for _, r := range rows {
				if err := db.Create(r).Error; err != nil {
					t.Fatalf("create %T: %v", r, err)
				}
			}
		}
		if err := f.svc.Delete(ctx, "admin", c.ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := f.svc.Get(ctx, c.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get after Delete = %v, want ErrNotFound", err)
		}
		for _, m := range []any{&models.OAuthRequest{}, &models.Consent{}} {
			var gone, kept int64
			db.Model(m).Where("client_id = ?", c.ID).Count(&gone)
			db.Model(m).Where("client_id = ?", other.ID).Count(&kept)
			if gone != 0 || kept != 1 {
				t.Errorf("%T rows of deleted client = %d, of the other = %d; want 0 and 1", m, gone, kept)
			}
		}
		if err := f.svc.Delete(ctx, "admin", c.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Delete again = %v, want ErrNotFound", err)
		}
		if got := auditActions(t, db, c.ID); !slices.Equal(got, []string{ActionCreate, ActionDelete}) {
			t.Errorf("audit actions = %v, want create, delete", got)
		}
	})
}

func TestRotateSecret(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db)
		ctx := t.Context()
		c, old := f.mustCreate(t, webApp())
		sec, err := f.svc.RotateSecret(ctx, "admin", c.ID)
		if err != nil {
			t.Fatalf("RotateSecret: %v", err)
		}
		got, err := f.svc.Get(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if sec == old || got.SecretHash == c.SecretHash {
			t.Fatalf("secret or hash unchanged after rotation")
		}
		if err := f.hasher.Compare(ctx, []byte(got.SecretHash), []byte(sec)); err != nil {
			t.Errorf("new secret does not match the stored hash: %v", err)
		}
		if err := f.hasher.Compare(ctx, []byte(got.SecretHash), []byte(old)); err == nil {
			t.Errorf("old secret still matches after rotation")
		}

		pub, _ := f.mustCreate(t, NewClient{Name: "SPA", GrantTypes: []string{GrantAuthorizationCode}, RedirectURIs: []string{"https://spa.example.com/"}, Public: true})
		if _, err := f.svc.RotateSecret(ctx, "admin", pub.ID); !errors.Is(err, ErrPublicClient) || apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("RotateSecret(public) = %v, want ErrPublicClient, invalid", err)
		}
		if _, err := f.svc.RotateSecret(ctx, "admin", "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("RotateSecret(unknown) = %v, want ErrNotFound", err)
		}
		if got := auditActions(t, db, c.ID); !slices.Equal(got, []string{ActionCreate, ActionRotateSecret}) {
			t.Errorf("audit actions = %v, want create, rotate", got)
		}
		if got := auditActions(t, db, pub.ID); !slices.Equal(got, []string{ActionCreate}) {
			t.Errorf("audit actions of public client = %v, want only create", got)
		}
	})
}

func TestSetLegacy(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db)
		ctx := t.Context()
		c, _ := f.mustCreate(t, webApp())

		got, err := f.svc.SetLegacy(ctx, "admin", c.ID, true)
		if err != nil {
			t.Fatalf("SetLegacy(true): %v", err)
		}
		want := []string{GrantAuthorizationCode, GrantRefreshToken, GrantPassword}
		if !slices.Equal(got.GrantTypes, want) {
			t.Errorf("GrantTypes after enable = %v, want %v", got.GrantTypes, want)
		}
		if stored, _ := f.svc.Get(ctx, c.ID); !slices.Equal(stored.GrantTypes, want) {
			t.Errorf("stored GrantTypes = %v, want %v", stored.GrantTypes, want)
		}
		if _, err := f.svc.SetLegacy(ctx, "admin", c.ID, true); err != nil {
			t.Fatalf("SetLegacy(true) again: %v", err)
		}
		got, err = f.svc.SetLegacy(ctx, "admin", c.ID, false)
		if err != nil {
			t.Fatalf("SetLegacy(false): %v", err)
		}
		if want := []string{GrantAuthorizationCode, GrantRefreshToken}; !slices.Equal(got.GrantTypes, want) {
			t.Errorf("GrantTypes after disable = %v, want %v", got.GrantTypes, want)
		}
		if got := auditActions(t, db, c.ID); !slices.Equal(got, []string{ActionCreate, ActionLegacyEnable, ActionLegacyDisable}) {
			t.Errorf("audit actions = %v, want create, enable, disable (the repeated enable changed nothing)", got)
		}

		// Disabling may leave a legacy-only client without grant types.
		only, _ := f.mustCreate(t, NewClient{Name: "Old app", GrantTypes: []string{GrantPassword}})
		got, err = f.svc.SetLegacy(ctx, "admin", only.ID, false)
		if err != nil || len(got.GrantTypes) != 0 {
			t.Errorf("SetLegacy(false) on a legacy-only client = %v, %v, want no grant types", got.GrantTypes, err)
		}

		pub, _ := f.mustCreate(t, NewClient{Name: "SPA", GrantTypes: []string{GrantAuthorizationCode}, RedirectURIs: []string{"https://spa.example.com/"}, Public: true})
		_, err = f.svc.SetLegacy(ctx, "admin", pub.ID, true)
		if fe := (*apperr.Error)(nil); !errors.As(err, &fe) || fe.Field != "grant_types" {
			t.Errorf("SetLegacy(public, true) = %v, want a grant_types field error", err)
		}
		if _, err := f.svc.SetLegacy(ctx, "admin", pub.ID, false); err != nil {
			t.Errorf("SetLegacy(public, false) = %v, want nil", err)
		}
		if _, err := f.svc.SetLegacy(ctx, "admin", "nope", true); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetLegacy(unknown) = %v, want ErrNotFound", err)
		}
	})
}

func TestSetSunset(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db)
		ctx := t.Context()
		c, _ := f.mustCreate(t, webApp())
		at := time.Date(2031, 6, 30, 0, 0, 0, 0, time.FixedZone("CEST", 2*3600))
		got, err := f.svc.SetSunset(ctx, "admin", c.ID, &at)
		if err != nil {
			t.Fatalf("SetSunset: %v", err)
		}
		if got.LegacySunset == nil || !got.LegacySunset.Equal(at) {
			t.Errorf("LegacySunset = %v, want %v", got.LegacySunset, at)
		}
		announced := testNow.Truncate(time.Microsecond)
		if got.LegacyDeprecatedAt == nil || !got.LegacyDeprecatedAt.Equal(announced) {
			t.Errorf("LegacyDeprecatedAt = %v, want now (%v)", got.LegacyDeprecatedAt, announced)
		}
		stored, err := f.svc.Get(ctx, c.ID)
		if err != nil || stored.LegacySunset == nil || !stored.LegacySunset.Equal(at) {
			t.Errorf("stored LegacySunset = %v (%v), want %v", stored.LegacySunset, err, at)
		}
		// Moving the date keeps the original announcement.
		f.svc.now = func() time.Time { return announced.Add(time.Hour) }
		later := at.AddDate(0, 1, 0)
		got, err = f.svc.SetSunset(ctx, "admin", c.ID, &later)
		if err != nil || !got.LegacySunset.Equal(later) || got.LegacyDeprecatedAt == nil || !got.LegacyDeprecatedAt.Equal(announced) {
			t.Errorf("SetSunset(later) = sunset %v, deprecated %v, %v; want %v, %v", got.LegacySunset, got.LegacyDeprecatedAt, err, later, announced)
		}
		got, err = f.svc.SetSunset(ctx, "admin", c.ID, nil)
		if err != nil || got.LegacySunset != nil || got.LegacyDeprecatedAt != nil {
			t.Errorf("SetSunset(nil) = %v, %v, %v, want both cleared", got.LegacySunset, got.LegacyDeprecatedAt, err)
		}
		if stored, _ := f.svc.Get(ctx, c.ID); stored.LegacySunset != nil || stored.LegacyDeprecatedAt != nil {
			t.Errorf("stored LegacySunset, LegacyDeprecatedAt after clearing = %v, %v, want nil", stored.LegacySunset, stored.LegacyDeprecatedAt)
		}
		if _, err := f.svc.SetSunset(ctx, "admin", "nope", &at); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetSunset(unknown) = %v, want ErrNotFound", err)
		}
		entries := auditEntries(t, db, c.ID)
		if len(entries) != 4 || entries[1].Action != ActionLegacySunset || entries[1].Detail != "sunset=2031-06-29T22:00:00Z" ||
			entries[3].Action != ActionLegacySunset || entries[3].Detail != "sunset cleared" {
			t.Errorf("audit = %+v, want create, set sunset (in UTC), move it, clear", entries)
		}
	})
}

// A client with the refresh_token grant may always hold offline_access:
// without it, a refresh token issued to it could never be used.
func TestRefreshGrantImpliesOfflineAccess(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db)
		c, _ := f.mustCreate(t, NewClient{Name: "loader", GrantTypes: []string{GrantPassword, GrantRefreshToken}, Scopes: []string{"profile"}})
		if !slices.Contains(c.Scopes, "offline_access") {
			t.Fatalf("scopes after create: got %v, want offline_access added", c.Scopes)
		}
		other, _ := f.mustCreate(t, NewClient{Name: "svc", GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"profile"}})
		if slices.Contains(other.Scopes, "offline_access") {
			t.Fatalf("scopes without refresh_token: got %v, want offline_access not added", other.Scopes)
		}
		grants := []string{GrantClientCredentials, GrantRefreshToken}
		updated, err := f.svc.Update(t.Context(), "admin", other.ID, ClientUpdate{GrantTypes: &grants})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(updated.Scopes, "offline_access") {
			t.Fatalf("scopes after adding refresh_token: got %v, want offline_access added", updated.Scopes)
		}
	})
}

// TestProtectedClientIsNotDeleted: the console's own client (Protected)
// can be neither deleted nor changed, by any caller of the service.
func TestProtectedClientIsNotDeleted(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := t.Context()
		f := setup(t, db)
		c, _, err := f.svc.Create(ctx, "test", webApp())
		if err != nil {
			t.Fatal(err)
		}
		svc := New(storage.New(db), f.hasher, Options{Protected: []string{c.ID}})
		if err := svc.Delete(ctx, "test", c.ID); !errors.Is(err, ErrProtected) {
			t.Fatalf("delete a protected client: got %v, want ErrProtected", err)
		}
		name := "renamed"
		if _, err := svc.Update(ctx, "test", c.ID, ClientUpdate{Name: &name}); !errors.Is(err, ErrProtected) {
			t.Fatalf("update a protected client: got %v, want ErrProtected", err)
		}
		if _, err := svc.RotateSecret(ctx, "test", c.ID); !errors.Is(err, ErrProtected) {
			t.Fatalf("rotate the secret of a protected client: got %v, want ErrProtected", err)
		}
		if _, err := svc.SetLegacy(ctx, "test", c.ID, true); !errors.Is(err, ErrProtected) {
			t.Fatalf("enable the legacy grant of a protected client: got %v, want ErrProtected", err)
		}
		got, err := svc.Get(ctx, c.ID)
		if err != nil {
			t.Fatalf("the protected client is gone: %v", err)
		}
		if got.Name != c.Name || got.SecretHash != c.SecretHash || !slices.Equal(got.GrantTypes, c.GrantTypes) {
			t.Errorf("protected client changed: got %+v, want %+v", got, c)
		}
	})
}

// TestUpdateAllOrNothing: an update with one invalid field changes none of
// the fields, and every field of ClientUpdate can be changed.
func TestUpdateAllOrNothing(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := t.Context()
		f := setup(t, db)
		c, _ := f.mustCreate(t, webApp())
		name, format := "renamed", "jwt"
		bad := []string{"http://example.com/cb"} // plain http off loopback
		_, err := f.svc.Update(ctx, "test", c.ID, ClientUpdate{Name: &name, AccessTokenFormat: &format, RedirectURIs: &bad})
		if e, ok := apperr.As(err); !ok || e.Field != "redirect_uris" {
			t.Fatalf("bad redirect URI: got %v, want a redirect_uris field error", err)
		}
		if got, _ := f.svc.Get(ctx, c.ID); got.Name != c.Name || got.AccessTokenFormat != c.AccessTokenFormat || !slices.Equal(got.RedirectURIs, c.RedirectURIs) {
			t.Fatalf("after a refused update: %+v, want it unchanged", got)
		}
		for _, tc := range []struct {
			field string
			up    ClientUpdate
		}{
			{"grant_types", ClientUpdate{GrantTypes: &[]string{"implicit"}}},
			{"scopes", ClientUpdate{Scopes: &[]string{"everything"}}},
			{"access_token_format", ClientUpdate{AccessTokenFormat: ptrTo("xml")}},
			{"name", ClientUpdate{Name: ptrTo("")}},
			{"redirect_uris", ClientUpdate{RedirectURIs: &[]string{}}},
		} {
			if _, err := f.svc.Update(ctx, "test", c.ID, tc.up); !isField(err, tc.field) {
				t.Errorf("%s: got %v, want a field error for it", tc.field, err)
			}
		}
		uris := []string{"https://app.example/cb2"}
		scopes := []string{"openid", "email"}
		grants := []string{GrantAuthorizationCode, GrantRefreshToken}
		first := true
		got, err := f.svc.Update(ctx, "test", c.ID, ClientUpdate{Name: &name, RedirectURIs: &uris, Scopes: &scopes, GrantTypes: &grants, FirstParty: &first, AccessTokenFormat: &format})
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != name || !slices.Equal(got.RedirectURIs, uris) || !slices.Equal(got.GrantTypes, grants) || !got.FirstParty || got.AccessTokenFormat != format ||
			!slices.Contains(got.Scopes, "email") || !slices.Contains(got.Scopes, "offline_access") {
			t.Errorf("after a full update: %+v", got)
		}
	})
}

func ptrTo[T any](v T) *T { return &v }

func isField(err error, field string) bool {
	e, ok := apperr.As(err)
	return ok && e.Field == field
}
