package apppasswords_test

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/apppasswords"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

type fixture struct {
	svc   *apppasswords.Service
	store *storage.Store
	keys  *keyring.Keyring
	now   time.Time
}

func setup(t *testing.T, kind string, maxLife time.Duration) *fixture {
	t.Helper()
	root := make([]byte, 48)
	if _, err := rand.Read(root); err != nil {
		t.Fatal(err)
	}
	keys, err := keyring.New(root)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: testdb.Store(t, kind), keys: keys, now: time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)}
	f.svc = apppasswords.New(f.store, keys, apppasswords.Options{
		MaxLifetime: maxLife, Organization: "Example", AccountURL: "https://id.example.com/account",
		Now: func() time.Time { return f.now },
	})
	for _, u := range []models.User{
		{ID: "u1", Username: "alice", Email: "alice@example.com", PasswordHash: "x", SecurityTokenHash: "t1"},
		{ID: "u2", Username: "bob", Email: "bob@example.com", PasswordHash: "x", SecurityTokenHash: "t2"},
	} {
		if err := f.store.CreateUser(t.Context(), &u); err != nil {
			t.Fatal(err)
		}
	}
	c := models.Client{ID: "c1", Name: "Data Loader", Scopes: []string{"openid", "offline_access"}, GrantTypes: []string{"password"}, LegacyCredentials: "both"}
	if err := f.store.CreateClient(t.Context(), &c); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestService(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			t.Run("CreateListRevoke", func(t *testing.T) { testCreateListRevoke(t, setup(t, kind, 90*24*time.Hour)) })
			t.Run("Validation", func(t *testing.T) { testValidation(t, setup(t, kind, 90*24*time.Hour)) })
			t.Run("NoLimit", func(t *testing.T) { testNoLimit(t, setup(t, kind, 0)) })
		})
	}
}

func testCreateListRevoke(t *testing.T, f *fixture) {
	ctx := t.Context()
	p, value, err := f.svc.Create(ctx, "user:alice", "u1", apppasswords.Spec{Name: "Loader", ClientID: "c1", Scopes: []string{"openid"}})
	if err != nil {
		t.Fatal(err)
	}
	if !apppasswords.LooksLike(value) {
		t.Fatalf("value %q does not look like an app password", value)
	}
	if p.Hash == "" || strings.Contains(p.Hash, value) || p.Hash != f.svc.Hash(value) {
		t.Errorf("stored hash %q: want the keyed hash of the value", p.Hash)
	}
	if want := f.now.Add(90 * 24 * time.Hour); p.ExpiresAt == nil || !p.ExpiresAt.Equal(want) {
		t.Errorf("expiry without a choice: got %v, want the maximum %v", p.ExpiresAt, want)
	}
	// The value is nowhere in the database: not in the row, the audit log
	// or the (sealed) outbox.
	for _, m := range models.All() {
		stmt := &gorm.Statement{DB: f.store.Conn(ctx)}
		if err := stmt.Parse(m); err != nil {
			t.Fatal(err)
		}
		var rows []map[string]any
		if err := f.store.Conn(ctx).Table(stmt.Schema.Table).Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			for k, v := range r {
				if s, ok := v.(string); ok && strings.Contains(s, value[4:]) {
					t.Errorf("%T.%s holds the app password in plain text", m, k)
				}
				if b, ok := v.([]byte); ok && strings.Contains(string(b), value[4:]) {
					t.Errorf("%T.%s holds the app password in plain text", m, k)
				}
			}
		}
	}
	// The email names it, without the value.
	var mailRows []models.MailMessage
	if err := f.store.Conn(ctx).Find(&mailRows).Error; err != nil {
		t.Fatal(err)
	}
	if len(mailRows) != 1 || mailRows[0].To != "alice@example.com" || mailRows[0].Subject != "Example app password created" {
		t.Fatalf("outbox: got %+v, want one mail to alice", mailRows)
	}
	body, err := f.keys.Open("mail-outbox", mailRows[0].BodySealed)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Name: Loader", "Data Loader (c1)", "https://id.example.com/account"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("email body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(string(body), value) {
		t.Error("the email holds the app password")
	}

	// Lookup by value.
	got, found, err := f.svc.Lookup(ctx, value)
	if err != nil || !found || got.ID != p.ID {
		t.Fatalf("Lookup(value): got %+v %t %v", got, found, err)
	}
	typo := value[:10] + string(value[10]^1) + value[11:]
	if _, found, err := f.svc.Lookup(ctx, typo); err != nil || found {
		t.Errorf("Lookup(typo): got found=%t, %v; want not found", found, err)
	}
	other, _ := apppasswords.Generate()
	if _, found, err := f.svc.Lookup(ctx, other); err != nil || found {
		t.Errorf("Lookup(never issued): got found=%t, %v; want not found", found, err)
	}

	// The same name twice is refused while the first stands.
	_, _, err = f.svc.Create(ctx, "user:alice", "u1", apppasswords.Spec{Name: "loader"})
	if apperr.CodeOf(err) != apperr.Conflict {
		t.Errorf("second app password named loader: got %v, want a conflict", err)
	}
	p2, _, err := f.svc.Create(ctx, "user:alice", "u1", apppasswords.Spec{Name: "Mail"})
	if err != nil {
		t.Fatal(err)
	}
	list, err := f.svc.List(ctx, "u1", false)
	if err != nil || len(list) != 2 {
		t.Fatalf("List: got %d, %v; want 2", len(list), err)
	}

	// Another user cannot revoke it.
	if err := f.svc.Revoke(ctx, "user:bob", "u2", p.ID); !errors.Is(err, apppasswords.ErrNotFound) {
		t.Errorf("bob revokes alice's: got %v, want ErrNotFound", err)
	}
	if err := f.svc.Revoke(ctx, "user:alice", "u1", p.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.svc.Get(ctx, p.ID); apppasswords.StateAt(got, f.now) != apppasswords.StateRevoked {
		t.Errorf("state after revoke: %s", apppasswords.StateAt(got, f.now))
	}
	// Now the name is free again.
	if _, _, err := f.svc.Create(ctx, "user:alice", "u1", apppasswords.Spec{Name: "Loader"}); err != nil {
		t.Errorf("reuse the name of a revoked one: %v", err)
	}
	n, err := f.svc.RevokeAll(ctx, "cli:root", "u1", "test")
	if err != nil || n != 2 {
		t.Fatalf("RevokeAll: got %d, %v; want 2", n, err)
	}
	if got, _ := f.svc.Get(ctx, p2.ID); got.RevokedAt == nil {
		t.Error("RevokeAll left one standing")
	}
	var actions []string
	if err := f.store.Conn(ctx).Model(&models.AuditEntry{}).Order("id").Pluck("action", &actions).Error; err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(actions, ","), "app_password.create,app_password.create,app_password.revoke,app_password.create,app_password.revoke_all"; got != want {
		t.Errorf("audit actions: got %s, want %s", got, want)
	}

	// Expiry.
	f.now = f.now.Add(91 * 24 * time.Hour)
	p3, _, err := f.svc.Create(ctx, "user:alice", "u1", apppasswords.Spec{Name: "Short", ExpiresAt: new(f.now.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if apppasswords.StateAt(p3, f.now) != apppasswords.StateActive || apppasswords.StateAt(p3, f.now.Add(time.Hour)) != apppasswords.StateExpired {
		t.Error("StateAt does not follow the expiry")
	}
}

func testValidation(t *testing.T, f *fixture) {
	ctx := t.Context()
	for _, tc := range []struct {
		name  string
		in    apppasswords.Spec
		field string
	}{
		{"no name", apppasswords.Spec{Name: "  "}, "name"},
		{"long name", apppasswords.Spec{Name: strings.Repeat("n", 101)}, "name"},
		{"control in name", apppasswords.Spec{Name: "a\nb"}, "name"},
		{"admin scope", apppasswords.Spec{Name: "x", Scopes: []string{"authgate:admin"}}, "scopes"},
		{"unknown scope", apppasswords.Spec{Name: "x", Scopes: []string{"write"}}, "scopes"},
		{"scope beyond the client's", apppasswords.Spec{Name: "x", ClientID: "c1", Scopes: []string{"email"}}, "scopes"},
		{"unknown client", apppasswords.Spec{Name: "x", ClientID: "nope"}, "client_id"},
		{"past expiry", apppasswords.Spec{Name: "x", ExpiresAt: new(f.now.Add(-time.Second))}, "expires_at"},
		{"beyond the maximum", apppasswords.Spec{Name: "x", ExpiresAt: new(f.now.Add(91 * 24 * time.Hour))}, "expires_at"},
	} {
		_, _, err := f.svc.Create(ctx, "user:alice", "u1", tc.in)
		e, ok := apperr.As(err)
		if !ok || e.Field != tc.field {
			t.Errorf("%s: got %v, want an error for field %s", tc.name, err, tc.field)
		}
	}
	if _, _, err := f.svc.Create(ctx, "user:ghost", "nobody", apppasswords.Spec{Name: "x"}); !errors.Is(err, apppasswords.ErrNoUser) {
		t.Errorf("unknown user: got %v, want ErrNoUser", err)
	}
	var n int64
	f.store.Conn(ctx).Model(&models.AppPassword{}).Count(&n)
	if n != 0 {
		t.Errorf("refused creations left %d rows", n)
	}
	for i := range apppasswords.MaxActive {
		if _, _, err := f.svc.Create(ctx, "user:alice", "u1", apppasswords.Spec{Name: "n" + strings.Repeat("x", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.svc.Create(ctx, "user:alice", "u1", apppasswords.Spec{Name: "one more"}); !errors.Is(err, apppasswords.ErrTooMany) {
		t.Errorf("past the limit: got %v, want ErrTooMany", err)
	}
}

func testNoLimit(t *testing.T, f *fixture) {
	p, _, err := f.svc.Create(t.Context(), "user:alice", "u1", apppasswords.Spec{Name: "forever"})
	if err != nil {
		t.Fatal(err)
	}
	if p.ExpiresAt != nil {
		t.Errorf("without a maximum and a choice: got expiry %v, want none", p.ExpiresAt)
	}
	far := f.now.Add(10 * 365 * 24 * time.Hour)
	if _, _, err := f.svc.Create(t.Context(), "user:alice", "u1", apppasswords.Spec{Name: "far", ExpiresAt: &far}); err != nil {
		t.Errorf("a far expiry without a maximum: %v", err)
	}
}
