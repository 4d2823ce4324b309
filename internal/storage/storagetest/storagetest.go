package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// Run runs every conformance test, each on a store of its own. newStore
// returns a Store on a fresh, migrated, empty database.
func Run(t *testing.T, newStore func(t *testing.T) *storage.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s *storage.Store)
	}{
		{"Users", testUsers},
		{"UserConflictKeepsTransaction", testUserConflictKeepsTransaction},
		{"UpdateUser", testUpdateUser},
		{"ListUsers", testListUsers},
		{"UnlockUser", testUnlockUser},
		{"TokenHistory", testTokenHistory},
		{"SetPasswordEndsSessions", testSetPasswordEndsSessions},
		{"DeleteUserCascades", testDeleteUserCascades},
		{"Sessions", testSessions},
		{"Consents", testConsents},
		{"SigningKeys", testSigningKeys},
		{"EnsureSigningKeyConcurrent", testEnsureSigningKeyConcurrent},
		{"Clients", testClients},
		{"DeleteClientCascades", testDeleteClientCascades},
		{"TrustedRanges", testTrustedRanges},
		{"LoginHistory", testLoginHistory},
		{"LoginAggregates", testLoginAggregates},
		{"Audit", testAudit},
		{"MailOutbox", testMailOutbox},
		{"MailClaimConcurrent", testMailClaimConcurrent},
		{"TransactionRollsBackEveryAggregate", testTransactionRollback},
		{"DisableUser", testDisableUser},
		{"EndSession", testEndSession},
		{"SessionsAndGrants", testSessionsAndGrants},
		{"LogoutOutbox", testLogoutOutbox},
		{"Passkeys", testPasskeys},
		{"PasskeySignCount", testPasskeySignCount},
		{"PasskeyCeremonies", testPasskeyCeremonies},
		{"TOTP", testTOTP},
		{"RecoveryCodes", testRecoveryCodes},
		{"SecondSteps", testSecondSteps},
		{"Brownouts", testBrownouts},
		{"ClientMigrationURL", testClientMigrationURL},
		{"NoticeClaims", testNoticeClaims},
		{"RecentUsersOfClient", testRecentUsersOfClient},
		{"LegacyUses", testLegacyUses},
		{"DeviceCodes", testDeviceCodes},
		{"OAuthRequests", testOAuthRequests},
		{"DeviceCodesConcurrent", testDeviceCodesConcurrent},
		{"DeviceCodeCascades", testDeviceCodeCascades},
		{"AppPasswords", testAppPasswords},
		{"AppPasswordCascades", testAppPasswordCascades},
		{"EmailTokens", testEmailTokens},
		{"EmailTokenUseConcurrent", testEmailTokenUseConcurrent},
		{"PruneExpiredRequestsInBatches", testPruneExpiredRequests},
		{"PruneStopsWhileResting", testPruneStopsWhileResting},
		{"ClientAuthSettings", testClientAuthSettings},
		{"ClientAssertionJTIs", testClientAssertionJTIs},
		{"PushedAuthRequests", testPushedAuthRequests},
		{"AppPasswordsEndWithDisable", testAppPasswordsEndWithDisable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

// now is a fixed time with the microsecond precision both databases keep.
var now = time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)

func user(id, username string) models.User {
	return models.User{
		ID: id, Username: username, Email: username + "@example.com", Name: "User " + username,
		PasswordHash: "argon2id$" + id, SecurityTokenHash: "tok-" + id,
		TokenIssuedAt: now, PasswordChangedAt: now,
	}
}

func mustCreateUser(t *testing.T, s *storage.Store, u models.User) models.User {
	t.Helper()
	if err := s.CreateUser(t.Context(), &u); err != nil {
		t.Fatalf("CreateUser(%s): %v", u.Username, err)
	}
	return u
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

// count counts the rows of model matching where, through the store's
// connection (the suite checks what the methods wrote, not only what they
// read back).
func count(t *testing.T, s *storage.Store, model any, where string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := s.Conn(t.Context()).Model(model).Where(where, args...).Count(&n).Error; err != nil {
		t.Fatalf("count %T: %v", model, err)
	}
	return n
}

// insert writes rows of the tables whose writers live in other files
// (sessions, consents, fosite's requests), to check cascades.
func insert(t *testing.T, s *storage.Store, rows ...any) {
	t.Helper()
	for _, r := range rows {
		if err := s.Conn(t.Context()).Create(r).Error; err != nil {
			t.Fatalf("insert %T: %v", r, err)
		}
	}
}

func session(id, userID string) *models.LoginSession {
	return &models.LoginSession{IDHash: id, UserID: userID, AuthTime: now, ExpiresAt: now.Add(time.Hour)}
}

func request(sig, clientID, subject string) *models.OAuthRequest {
	exp := now.Add(time.Hour)
	return &models.OAuthRequest{Kind: "access_token", Signature: sig, RequestID: "r-" + sig, ClientID: clientID, Subject: subject, RequestedAt: now, ExpiresAt: &exp, Active: true, Data: []byte("{}")}
}

func testUsers(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, user("u1", "alice"))
	for name, get := range map[string]func() (models.User, error){
		"UserByUsername":     func() (models.User, error) { return s.UserByUsername(ctx, "alice") },
		"UserByID":           func() (models.User, error) { return s.UserByID(ctx, "u1") },
		"LockUserByUsername": func() (models.User, error) { return s.LockUserByUsername(ctx, "alice") },
		"LockUserByID":       func() (models.User, error) { return s.LockUserByID(ctx, "u1") },
	} {
		got, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.ID != u.ID || got.Username != u.Username || got.Email != u.Email || got.PasswordHash != u.PasswordHash ||
			got.SecurityTokenHash != u.SecurityTokenHash || !got.TokenIssuedAt.Equal(now) || !got.PasswordChangedAt.Equal(now) {
			t.Errorf("%s: got %+v, want %+v", name, got, u)
		}
	}
	_, err := s.UserByUsername(ctx, "nobody")
	wantErr(t, "UserByUsername(unknown)", err, storage.ErrNotFound)
	_, err = s.UserByID(ctx, "nobody")
	wantErr(t, "UserByID(unknown)", err, storage.ErrNotFound)
	_, err = s.LockUserByID(ctx, "nobody")
	wantErr(t, "LockUserByID(unknown)", err, storage.ErrNotFound)

	taken, err := s.UsernameTaken(ctx, "alice")
	if err != nil || !taken {
		t.Errorf("UsernameTaken(alice): got %t, %v, want true", taken, err)
	}
	if taken, _ := s.UsernameTaken(ctx, "bob"); taken {
		t.Error("UsernameTaken(bob): got true, want false")
	}

	dupName := user("u2", "alice")
	wantErr(t, "CreateUser(same username)", s.CreateUser(ctx, &dupName), storage.ErrConflict)
	dupToken := user("u3", "carol")
	dupToken.SecurityTokenHash = u.SecurityTokenHash
	wantErr(t, "CreateUser(same security token)", s.CreateUser(ctx, &dupToken), storage.ErrConflict)
	dupID := user("u1", "dave")
	wantErr(t, "CreateUser(same id)", s.CreateUser(ctx, &dupID), storage.ErrConflict)

	mustCreateUser(t, s, user("u4", "erin"))
	got, err := s.UsersByID(ctx, []string{"u4", "u1", "missing"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range got {
		ids = append(ids, u.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"u1", "u4"}) {
		t.Errorf("UsersByID: got %v, want [u1 u4]", ids)
	}
	if got, err := s.UsersByID(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("UsersByID(none): got %v, %v, want nothing", got, err)
	}
}

// A conflict inside a transaction runs in a savepoint: the transaction
// goes on and commits what came before and after it.
func testUserConflictKeepsTransaction(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, user("u1", "alice"))
	err := s.InTx(ctx, func(ctx context.Context) error {
		if err := s.RecordTokenHash(ctx, "h-before", "u1", now); err != nil {
			return err
		}
		dup := user("u2", "alice")
		if err := s.CreateUser(ctx, &dup); !errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("CreateUser(same username) in a transaction: got %v, want ErrConflict", err)
		}
		if err := s.RecordTokenHash(ctx, "h-before", "u1", now); !errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("RecordTokenHash(same hash) in a transaction: got %v, want ErrConflict", err)
		}
		ok := user("u3", "bob")
		return s.CreateUser(ctx, &ok)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByID(ctx, "u3"); err != nil {
		t.Errorf("the user created after the conflict: %v, want it committed", err)
	}
	if seen, err := s.TokenHashIssued(ctx, "h-before"); err != nil || !seen {
		t.Errorf("the history row written before the conflict: got %t, %v, want committed", seen, err)
	}
}

func testUpdateUser(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, user("u1", "alice"))
	other := mustCreateUser(t, s, user("u2", "bob"))
	email, name, admin, hash := "new@example.com", "Alice New", true, "tok-new"
	issued := now.Add(time.Minute)
	err := s.UpdateUser(ctx, "u1", storage.UserChange{Email: &email, Name: &name, Admin: &admin, SecurityTokenHash: &hash, TokenIssuedAt: &issued})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.UserByID(ctx, "u1")
	if got.Email != email || got.Name != name || !got.Admin || got.SecurityTokenHash != hash || !got.TokenIssuedAt.Equal(issued) || got.Username != "alice" {
		t.Errorf("after UpdateUser: got %+v", got)
	}
	if err := s.UpdateUser(ctx, "u1", storage.UserChange{}); err != nil {
		t.Errorf("UpdateUser(no change): %v", err)
	}
	wantErr(t, "UpdateUser(unknown)", s.UpdateUser(ctx, "nobody", storage.UserChange{Email: &email}), storage.ErrNotFound)
	wantErr(t, "UpdateUser(another user's token)", s.UpdateUser(ctx, "u1", storage.UserChange{SecurityTokenHash: &other.SecurityTokenHash}), storage.ErrConflict)
	if got, _ := s.UserByID(ctx, "u1"); got.SecurityTokenHash != hash {
		t.Errorf("token after the refused update: got %q, want %q", got.SecurityTokenHash, hash)
	}
}

func testListUsers(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	for i, name := range []string{"carol", "alice", "bob", "al_x", "alfred"} {
		u := user(fmt.Sprintf("u%d", i), name)
		if name == "bob" {
			u.Email = "ALICE.fan@Example.com"
		}
		mustCreateUser(t, s, u)
	}
	names := func(us []models.User) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.Username)
		}
		return out
	}
	for _, tc := range []struct {
		f         storage.UserFilter
		want      []string
		wantTotal int64
	}{
		{storage.UserFilter{Limit: 100}, []string{"al_x", "alfred", "alice", "bob", "carol"}, 5},
		{storage.UserFilter{Query: "ALI", Limit: 100}, []string{"alice", "bob"}, 2},
		// LIKE's wildcards match only themselves.
		{storage.UserFilter{Query: "l_", Limit: 100}, []string{"al_x"}, 1},
		{storage.UserFilter{Query: "%", Limit: 100}, nil, 0},
		{storage.UserFilter{Limit: 2, Offset: 1}, []string{"alfred", "alice"}, 5},
		{storage.UserFilter{Limit: 2, Offset: 4}, []string{"carol"}, 5},
	} {
		got, total, err := s.ListUsers(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names(got), tc.want) || total != tc.wantTotal {
			t.Errorf("ListUsers(%+v): got %v (total %d), want %v (total %d)", tc.f, names(got), total, tc.want, tc.wantTotal)
		}
	}
}

func testUnlockUser(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	u := user("u1", "alice")
	until := now.Add(time.Hour)
	u.LegacyFailures, u.LegacyLockedUntil, u.LoginFailures, u.LoginLockedUntil = 7, &until, 9, &until
	mustCreateUser(t, s, u)
	if err := s.UnlockUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	got, _ := s.UserByID(ctx, "u1")
	if got.LegacyFailures != 0 || got.LegacyLockedUntil != nil || got.LoginFailures != 0 || got.LoginLockedUntil != nil {
		t.Errorf("after UnlockUser: got %+v, want counters and locks cleared", got)
	}
	wantErr(t, "UnlockUser(unknown)", s.UnlockUser(ctx, "nobody"), storage.ErrNotFound)
}

func testTokenHistory(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, user("u1", "alice"))
	if seen, err := s.TokenHashIssued(ctx, "h1"); err != nil || seen {
		t.Fatalf("TokenHashIssued before: got %t, %v, want false", seen, err)
	}
	if err := s.RecordTokenHash(ctx, "h1", "u1", now); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordTokenHash(ctx, "h2", "u1", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if seen, err := s.TokenHashIssued(ctx, "h1"); err != nil || !seen {
		t.Errorf("TokenHashIssued after: got %t, %v, want true", seen, err)
	}
	wantErr(t, "RecordTokenHash(again, for anyone)", s.RecordTokenHash(ctx, "h1", "u2", now), storage.ErrConflict)
	hist, err := s.TokenHistory(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].Hash != "h1" || hist[1].Hash != "h2" || !hist[0].CreatedAt.Equal(now) {
		t.Errorf("TokenHistory: got %+v, want h1 then h2", hist)
	}
	if held, err := s.TokenHashHeld(ctx, "tok-u1"); err != nil || !held {
		t.Errorf("TokenHashHeld(alice's): got %t, %v, want true", held, err)
	}
	if held, _ := s.TokenHashHeld(ctx, "h1"); held {
		t.Error("TokenHashHeld(a history-only hash): got true, want false")
	}
}

func testSetPasswordEndsSessions(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	insert(t, s, session("a1", "u1"), session("a2", "u1"), session("a3", "u1"), session("b1", "u2"))
	at := now.Add(time.Hour)
	if err := s.SetPassword(ctx, "u1", "argon2id$new", at, "a2"); err != nil {
		t.Fatal(err)
	}
	got, _ := s.UserByID(ctx, "u1")
	if got.PasswordHash != "argon2id$new" || !got.PasswordChangedAt.Equal(at) {
		t.Errorf("after SetPassword: got hash %q changed %v", got.PasswordHash, got.PasswordChangedAt)
	}
	if n := count(t, s, &models.LoginSession{}, "user_id = ?", "u1"); n != 1 || count(t, s, &models.LoginSession{}, "id_hash = ?", "a2") != 1 {
		t.Errorf("alice's sessions after SetPassword except a2: got %d, want only a2", n)
	}
	if n := count(t, s, &models.LoginSession{}, "user_id = ?", "u2"); n != 1 {
		t.Errorf("bob's sessions: got %d, want 1", n)
	}
	if err := s.SetPassword(ctx, "u1", "argon2id$newer", at, ""); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, &models.LoginSession{}, "user_id = ?", "u1"); n != 0 {
		t.Errorf("alice's sessions after SetPassword with no exception: got %d, want 0", n)
	}
	wantErr(t, "SetPassword(unknown)", s.SetPassword(ctx, "nobody", "x", at, ""), storage.ErrNotFound)
}

func testDeleteUserCascades(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	for _, u := range []models.User{user("u1", "alice"), user("u2", "bob")} {
		mustCreateUser(t, s, u)
		insert(t, s, session("s-"+u.ID, u.ID),
			&models.Consent{UserID: u.ID, ClientID: "app", Scopes: []string{"openid"}},
			request("sig-"+u.ID, "app", u.ID),
			&models.AppPassword{ID: "ap-" + u.ID, UserID: u.ID, Name: "n", Hash: "aph-" + u.ID, CreatedAt: now})
		if err := s.RecordTokenHash(ctx, "h-"+u.ID, u.ID, now); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordLogin(ctx, &models.LoginEvent{Time: now, UserID: u.ID, Method: "login_page", Result: "Success"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		model      any
		where      string
		afterwards int64
	}{
		{&models.User{}, "id = ?", 0},
		{&models.LoginSession{}, "user_id = ?", 0},
		{&models.Consent{}, "user_id = ?", 0},
		{&models.OAuthRequest{}, "subject = ?", 0},
		{&models.AppPassword{}, "user_id = ?", 0},
		// Kept: no token is issued twice, and the history is the history.
		{&models.SecurityTokenHistory{}, "user_id = ?", 1},
		{&models.LoginEvent{}, "user_id = ?", 1},
	} {
		if n := count(t, s, c.model, c.where, "u1"); n != c.afterwards {
			t.Errorf("%T rows of the deleted user: got %d, want %d", c.model, n, c.afterwards)
		}
		if n := count(t, s, c.model, c.where, "u2"); n != 1 {
			t.Errorf("%T rows of the other user: got %d, want 1", c.model, n)
		}
	}
	wantErr(t, "DeleteUser(again)", s.DeleteUser(ctx, "u1"), storage.ErrNotFound)
}

func client(id, name string) models.Client {
	return models.Client{
		ID: id, Name: name, SecretHash: "hmac-sha256$" + id,
		RedirectURIs: []string{"https://app.example.com/cb"}, GrantTypes: []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"}, Scopes: []string{"openid", "offline_access"}, Audience: []string{"api"},
		AccessTokenFormat: "opaque", CreatedAt: now, UpdatedAt: now,
	}
}

func testClients(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	for _, c := range []models.Client{client("c2", "Zeta"), client("c1", "Alpha"), client("c3", "Alpha")} {
		if err := s.CreateClient(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	dup := client("c1", "Other")
	wantErr(t, "CreateClient(same id)", s.CreateClient(ctx, &dup), storage.ErrConflict)

	got, err := s.ClientByID(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := client("c1", "Alpha")
	if got.Name != want.Name || got.SecretHash != want.SecretHash || !slices.Equal(got.RedirectURIs, want.RedirectURIs) ||
		!slices.Equal(got.GrantTypes, want.GrantTypes) || !slices.Equal(got.Scopes, want.Scopes) || !slices.Equal(got.Audience, want.Audience) ||
		got.AccessTokenFormat != "opaque" || got.Public || got.LegacySunset != nil || !got.CreatedAt.Equal(now) {
		t.Errorf("ClientByID: got %+v, want %+v", got, want)
	}
	_, err = s.ClientByID(ctx, "nope")
	wantErr(t, "ClientByID(unknown)", err, storage.ErrNotFound)
	_, err = s.LockClient(ctx, "nope")
	wantErr(t, "LockClient(unknown)", err, storage.ErrNotFound)

	list, err := s.ListClients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(ids, []string{"c1", "c3", "c2"}) {
		t.Errorf("ListClients: got %v, want [c1 c3 c2] (by name, then id)", ids)
	}
	byID, err := s.ClientsByID(ctx, []string{"c2", "gone"})
	if err != nil || len(byID) != 1 || byID[0].ID != "c2" {
		t.Errorf("ClientsByID: got %+v, %v, want c2 only", byID, err)
	}

	err = s.InTx(ctx, func(ctx context.Context) error {
		c, err := s.LockClient(ctx, "c1")
		if err != nil {
			return err
		}
		sunset := now.Add(48 * time.Hour)
		c.Name, c.Public, c.LegacySunset, c.Scopes = "Alpha 2", true, &sunset, []string{"openid"}
		return s.SaveClient(ctx, &c)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = s.ClientByID(ctx, "c1")
	if got.Name != "Alpha 2" || !got.Public || got.LegacySunset == nil || !got.LegacySunset.Equal(now.Add(48*time.Hour)) || !slices.Equal(got.Scopes, []string{"openid"}) {
		t.Errorf("after SaveClient: got %+v", got)
	}
}

func testDeleteClientCascades(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, user("u1", "alice"))
	for _, id := range []string{"c1", "c2"} {
		c := client(id, id)
		if err := s.CreateClient(ctx, &c); err != nil {
			t.Fatal(err)
		}
		insert(t, s, &models.Consent{UserID: "u1", ClientID: id, Scopes: []string{"openid"}}, request("sig-"+id, id, "u1"))
	}
	if err := s.DeleteClient(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		model any
		where string
	}{
		{&models.Client{}, "id = ?"},
		{&models.Consent{}, "client_id = ?"},
		{&models.OAuthRequest{}, "client_id = ?"},
	} {
		if n := count(t, s, c.model, c.where, "c1"); n != 0 {
			t.Errorf("%T rows of the deleted client: got %d, want 0", c.model, n)
		}
		if n := count(t, s, c.model, c.where, "c2"); n != 1 {
			t.Errorf("%T rows of the other client: got %d, want 1", c.model, n)
		}
	}
	wantErr(t, "DeleteClient(again)", s.DeleteClient(ctx, "c1"), storage.ErrNotFound)
}

func testTrustedRanges(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	for _, cidr := range []string{"192.168.0.0/16", "10.0.0.0/8", "2001:db8::/32"} {
		if err := s.AddTrustedRange(ctx, &models.TrustedRange{CIDR: cidr, Description: "office " + cidr, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "AddTrustedRange(again)", s.AddTrustedRange(ctx, &models.TrustedRange{CIDR: "10.0.0.0/8"}), storage.ErrConflict)
	list, err := s.ListTrustedRanges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range list {
		got = append(got, r.CIDR)
	}
	if !slices.Equal(got, []string{"10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"}) || list[0].Description != "office 10.0.0.0/8" || !list[0].CreatedAt.Equal(now) {
		t.Errorf("ListTrustedRanges: got %+v", list)
	}
	cidrs, err := s.TrustedCIDRs(ctx)
	slices.Sort(cidrs)
	if err != nil || !slices.Equal(cidrs, got) {
		t.Errorf("TrustedCIDRs: got %v, %v, want %v", cidrs, err, got)
	}
	if err := s.RemoveTrustedRange(ctx, "10.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "RemoveTrustedRange(again)", s.RemoveTrustedRange(ctx, "10.0.0.0/8"), storage.ErrNotFound)
	if cidrs, _ := s.TrustedCIDRs(ctx); len(cidrs) != 2 {
		t.Errorf("TrustedCIDRs after removal: got %v, want 2", cidrs)
	}
}

func event(at time.Time, userID, username, clientID, method, result string) *models.LoginEvent {
	return &models.LoginEvent{Time: at, UserID: userID, Username: username, ClientID: clientID, SourceIP: "192.0.2.1", Method: method, Result: result, UserAgent: "test"}
}

func testLoginHistory(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	events := []*models.LoginEvent{
		event(now.Add(-3*time.Hour), "u1", "alice", "c1", "password_grant", "Success"),
		event(now.Add(-2*time.Hour), "u1", "alice", "", "login_page", "Invalid password"),
		event(now.Add(-1*time.Hour), "u2", "bob", "c2", "password_grant", "Success"),
		event(now, "", "mallory", "c1", "password_grant", "Unknown user"),
	}
	for _, e := range events {
		if err := s.RecordLogin(ctx, e); err != nil {
			t.Fatal(err)
		}
		if e.ID == 0 {
			t.Fatal("RecordLogin left the ID zero")
		}
	}
	usernames := func(es []models.LoginEvent) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Username)
		}
		return out
	}
	for _, tc := range []struct {
		f     storage.LoginFilter
		want  []string
		total int64
	}{
		{storage.LoginFilter{Limit: 100}, []string{"mallory", "bob", "alice", "alice"}, 4},
		{storage.LoginFilter{UserID: "u1", Limit: 100}, []string{"alice", "alice"}, 2},
		{storage.LoginFilter{Username: "bob", Limit: 100}, []string{"bob"}, 1},
		{storage.LoginFilter{ClientID: "c1", Limit: 100}, []string{"mallory", "alice"}, 2},
		{storage.LoginFilter{Result: "Success", Limit: 100}, []string{"bob", "alice"}, 2},
		{storage.LoginFilter{Method: "login_page", Limit: 100}, []string{"alice"}, 1},
		// Since is inclusive, Until exclusive.
		{storage.LoginFilter{Since: now.Add(-2 * time.Hour), Until: now, Limit: 100}, []string{"bob", "alice"}, 2},
		{storage.LoginFilter{Limit: 2, Offset: 1}, []string{"bob", "alice"}, 4},
	} {
		got, total, err := s.ListLogins(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(usernames(got), tc.want) || total != tc.total {
			t.Errorf("ListLogins(%+v): got %v (total %d), want %v (total %d)", tc.f, usernames(got), total, tc.want, tc.total)
		}
	}
	got, _, _ := s.ListLogins(ctx, storage.LoginFilter{Username: "bob", Limit: 1})
	if len(got) != 1 || !got[0].Time.Equal(now.Add(-time.Hour)) || got[0].SourceIP != "192.0.2.1" || got[0].UserAgent != "test" || got[0].ClientID != "c2" {
		t.Errorf("stored event: got %+v", got)
	}
	n, err := s.PruneLogins(ctx, now.Add(-90*time.Minute))
	if err != nil || n != 2 {
		t.Errorf("PruneLogins: got %d, %v, want 2", n, err)
	}
	if _, total, _ := s.ListLogins(ctx, storage.LoginFilter{Limit: 100}); total != 2 {
		t.Errorf("events after pruning: got %d, want 2", total)
	}
}

func testLoginAggregates(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	sunset := now.Add(24 * time.Hour)
	early := now.Add(12 * time.Hour)
	for _, c := range []models.Client{client("c1", "One"), client("c2", "Two"), client("c3", "Three")} {
		switch c.ID {
		case "c1":
			c.LegacySunset = &sunset
		case "c2":
			c.LegacySunset = &early
		}
		if err := s.CreateClient(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []*models.LoginEvent{
		event(now.Add(-48*time.Hour), "u1", "alice", "c1", "password_grant", "Success"),
		event(now.Add(-24*time.Hour), "u1", "alice", "c1", "password_grant", "Success"),
		event(now, "u1", "alice", "c2", "password_grant", "Success"),
		event(now, "u1", "alice", "c3", "password_grant", "Success"),
		event(now, "u1", "alice", "c1", "password_grant", "Invalid password"),
		event(now.Add(time.Hour), "u2", "bob", "c1", "login_page", "Success"),
		event(now.Add(time.Hour), "u2", "bob", "c2", "password_grant", "Invalid password"),
	} {
		if err := s.RecordLogin(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	counts, err := s.CountLogins(ctx, "password_grant", "Success")
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(counts, func(a, b storage.LoginCount) int { return cmpString(a.ClientID+a.UserID, b.ClientID+b.UserID) })
	want := []storage.LoginCount{
		{ClientID: "c1", UserID: "u1", Username: "alice", Count: 2, Last: now.Add(-24 * time.Hour)},
		{ClientID: "c2", UserID: "u1", Username: "alice", Count: 1, Last: now},
		{ClientID: "c3", UserID: "u1", Username: "alice", Count: 1, Last: now},
	}
	if len(counts) != len(want) {
		t.Fatalf("CountLogins: got %+v, want %+v", counts, want)
	}
	for i := range want {
		g, w := counts[i], want[i]
		if g.ClientID != w.ClientID || g.UserID != w.UserID || g.Username != w.Username || g.Count != w.Count || !g.Last.Equal(w.Last) {
			t.Errorf("CountLogins[%d]: got %+v, want %+v", i, g, w)
		}
	}

	var seen []string
	err = s.EachLoginTime(ctx, "Success", []string{"password_grant", "login_page"}, now.Add(-24*time.Hour), func(at time.Time, method string) {
		seen = append(seen, at.UTC().Format(time.RFC3339)+" "+method)
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(seen)
	wantSeen := []string{
		now.Add(-24*time.Hour).Format(time.RFC3339) + " password_grant",
		now.Format(time.RFC3339) + " password_grant",
		now.Format(time.RFC3339) + " password_grant",
		now.Add(time.Hour).Format(time.RFC3339) + " login_page",
	}
	slices.Sort(wantSeen)
	if !slices.Equal(seen, wantSeen) {
		t.Errorf("EachLoginTime: got %v, want %v", seen, wantSeen)
	}

	sunsets, err := s.ClientsWithSunsetUsedBy(ctx, "u1", "password_grant", "Success")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range sunsets {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(ids, []string{"c2", "c1"}) {
		t.Errorf("ClientsWithSunsetUsedBy(alice): got %v, want [c2 c1] (earliest sunset first, c3 has none)", ids)
	}
	if got, _ := s.ClientsWithSunsetUsedBy(ctx, "u2", "password_grant", "Success"); len(got) != 0 {
		t.Errorf("ClientsWithSunsetUsedBy(bob): got %+v, want none (his only grant failed)", got)
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testAudit(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	for i, e := range []struct{ actor, action, target string }{
		{"alice", "user.create", "bob"},
		{"alice", "client.create", "c1"},
		{"", "user.delete", "bob"},
		{"carol", "user.create", "dave"},
	} {
		if err := s.Audit(ctx, e.actor, e.action, e.target, fmt.Sprintf("detail %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	details := func(es []models.AuditEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Detail)
		}
		return out
	}
	all, err := s.ListAudit(ctx, storage.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(details(all), []string{"detail 3", "detail 2", "detail 1", "detail 0"}) {
		t.Fatalf("ListAudit: got %v, want newest first", details(all))
	}
	if all[1].Actor != "unknown" {
		t.Errorf("empty actor: got %q, want %q", all[1].Actor, "unknown")
	}
	if d := time.Since(all[0].Time); d < -time.Minute || d > time.Hour {
		t.Errorf("entry time: got %v, want about now", all[0].Time)
	}
	for _, tc := range []struct {
		f    storage.AuditFilter
		want []string
	}{
		{storage.AuditFilter{Actor: "alice"}, []string{"detail 1", "detail 0"}},
		{storage.AuditFilter{Action: "user.create"}, []string{"detail 3", "detail 0"}},
		{storage.AuditFilter{Target: "bob"}, []string{"detail 2", "detail 0"}},
		{storage.AuditFilter{Limit: 2}, []string{"detail 3", "detail 2"}},
		{storage.AuditFilter{BeforeID: all[1].ID}, []string{"detail 1", "detail 0"}},
		{storage.AuditFilter{Since: time.Now().Add(time.Hour)}, nil},
	} {
		got, err := s.ListAudit(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(details(got), tc.want) {
			t.Errorf("ListAudit(%+v): got %v, want %v", tc.f, details(got), tc.want)
		}
	}
}

func mailMessage(to string, next time.Time) *models.MailMessage {
	return &models.MailMessage{To: to, Subject: "subject " + to, BodySealed: []byte("sealed " + to), NextAttempt: next}
}

func testMailOutbox(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	first, later, future := mailMessage("a@example.com", now.Add(-time.Minute)), mailMessage("b@example.com", now), mailMessage("c@example.com", now.Add(time.Hour))
	for _, m := range []*models.MailMessage{later, first, future} {
		if err := s.EnqueueMail(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	until := now.Add(5 * time.Minute)
	m, ok, err := s.ClaimMail(ctx, now, until)
	if err != nil || !ok || m.ID != first.ID || string(m.BodySealed) != "sealed a@example.com" || m.To != "a@example.com" {
		t.Fatalf("first ClaimMail: got %+v, %t, %v, want the earliest due message", m, ok, err)
	}
	m2, ok, err := s.ClaimMail(ctx, now, until)
	if err != nil || !ok || m2.ID != later.ID {
		t.Fatalf("second ClaimMail: got %+v, %t, %v, want the next due message", m2, ok, err)
	}
	if _, ok, err := s.ClaimMail(ctx, now, until); err != nil || ok {
		t.Fatalf("third ClaimMail: got %t, %v, want nothing due (two claimed, one in the future)", ok, err)
	}
	// A lapsed claim may be taken again.
	if m3, ok, _ := s.ClaimMail(ctx, until.Add(time.Second), until.Add(time.Minute)); !ok || m3.ID != first.ID {
		t.Errorf("ClaimMail after the claim lapsed: got %+v, %t, want the first message again", m3, ok)
	}
	// The first claim lapsed and was taken again: recording it does nothing.
	recorded, err := s.RecordMailFailure(ctx, first.ID, until, storage.MailFailure{Attempts: 1, LastError: "x", NextAttempt: now})
	if err != nil || recorded {
		t.Errorf("RecordMailFailure with a lapsed claim: got %t, %v, want not recorded", recorded, err)
	}
	recorded, err = s.RecordMailFailure(ctx, later.ID, until, storage.MailFailure{Attempts: 12, LastError: "550 no such user", NextAttempt: now.Add(time.Hour), Failed: true})
	if err != nil || !recorded {
		t.Fatalf("RecordMailFailure: got %t, %v, want recorded", recorded, err)
	}
	queued, failed, err := s.MailCounts(ctx)
	if err != nil || queued != 2 || failed != 1 {
		t.Errorf("MailCounts: got %d queued, %d failed, %v, want 2 and 1", queued, failed, err)
	}
	list, err := s.ListFailedMail(ctx, 10)
	if err != nil || len(list) != 1 || list[0].ID != later.ID || list[0].LastError != "550 no such user" || list[0].Attempts != 12 || list[0].BodySealed != nil {
		t.Errorf("ListFailedMail: got %+v, %v, want the failed message without its body", list, err)
	}
	if err := s.RetryMail(ctx, later.ID, now); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "RetryMail(not failed)", s.RetryMail(ctx, later.ID, now), storage.ErrNotFound)
	wantErr(t, "RetryMail(unknown)", s.RetryMail(ctx, 999999, now), storage.ErrNotFound)
	if m, ok, _ := s.ClaimMail(ctx, now, until); !ok || m.ID != later.ID || m.Attempts != 0 || m.LastError != "" {
		t.Errorf("ClaimMail after RetryMail: got %+v, %t, want the retried message with a fresh count", m, ok)
	}
	if err := s.DeleteMail(ctx, later.ID); err != nil {
		t.Fatal(err)
	}
	if queued, failed, _ := s.MailCounts(ctx); queued != 2 || failed != 0 {
		t.Errorf("MailCounts after delete: got %d queued, %d failed, want 2 and 0", queued, failed)
	}
}

// Senders claiming at once never get the same message.
func testMailClaimConcurrent(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const messages, senders = 12, 4
	for i := range messages {
		if err := s.EnqueueMail(ctx, mailMessage(fmt.Sprintf("m%d@example.com", i), now.Add(-time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	claimed := map[uint64]int{}
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, ok, err := s.ClaimMail(ctx, now, now.Add(time.Minute))
				if err != nil {
					errs <- err
					return
				}
				if !ok {
					return
				}
				mu.Lock()
				claimed[m.ID]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(claimed) != messages {
		t.Errorf("claimed %d distinct messages, want %d", len(claimed), messages)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("message %d claimed %d times, want once", id, n)
		}
	}
}

// A transaction that fails leaves nothing of any aggregate behind.
func testTransactionRollback(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	boom := errors.New("boom")
	err := s.InTx(ctx, func(ctx context.Context) error {
		u := user("u1", "alice")
		c := client("c1", "One")
		steps := []error{
			s.CreateUser(ctx, &u),
			s.RecordTokenHash(ctx, "h1", "u1", now),
			s.CreateClient(ctx, &c),
			s.AddTrustedRange(ctx, &models.TrustedRange{CIDR: "10.0.0.0/8"}),
			s.RecordLogin(ctx, event(now, "u1", "alice", "c1", "login_page", "Success")),
			s.Audit(ctx, "admin", "user.create", "alice", ""),
			s.EnqueueMail(ctx, mailMessage("a@example.com", now)),
		}
		if err := errors.Join(steps...); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, "InTx", err, boom)
	for _, model := range []any{&models.User{}, &models.SecurityTokenHistory{}, &models.Client{}, &models.TrustedRange{}, &models.LoginEvent{}, &models.AuditEntry{}, &models.MailMessage{}} {
		if n := count(t, s, model, "1 = 1"); n != 0 {
			t.Errorf("%T rows after the rollback: got %d, want 0", model, n)
		}
	}
}

func testSessions(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	live := models.LoginSession{IDHash: "live", UserID: "u1", AuthTime: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)}
	expired := models.LoginSession{IDHash: "expired", UserID: "u1", AuthTime: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}
	for _, ls := range []models.LoginSession{live, expired, {IDHash: "bobs", UserID: "u2", AuthTime: now, ExpiresAt: now.Add(time.Hour)}} {
		if err := s.CreateSession(ctx, ls); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateSession(ctx, live); err == nil {
		t.Error("CreateSession(same id hash): got nil, want an error")
	}
	got, ok, err := s.Session(ctx, "live", now)
	if err != nil || !ok || got.UserID != "u1" || !got.AuthTime.Equal(live.AuthTime) || !got.ExpiresAt.Equal(live.ExpiresAt) {
		t.Errorf("Session(live): got %+v, %t, %v", got, ok, err)
	}
	for _, id := range []string{"expired", "unknown"} {
		if _, ok, err := s.Session(ctx, id, now); err != nil || ok {
			t.Errorf("Session(%s): got %t, %v, want not found", id, ok, err)
		}
	}
	// Expiry is exclusive: a session is over at its ExpiresAt.
	if _, ok, _ := s.Session(ctx, "live", live.ExpiresAt); ok {
		t.Error("Session at its expiry: got live, want over")
	}

	if err := s.SaveConsent(ctx, "u1", "app", []string{"openid", "email"}); err != nil {
		t.Fatal(err)
	}
	in, ok, err := s.SessionForClient(ctx, "live", "app", now)
	if err != nil || !ok || in.User.ID != u.ID || in.User.Username != "alice" || in.Session.UserID != "u1" ||
		!in.Session.AuthTime.Equal(live.AuthTime) || !slices.Equal(in.Consented, []string{"openid", "email"}) {
		t.Errorf("SessionForClient(consented): got %+v, %t, %v", in, ok, err)
	}
	if in, ok, err := s.SessionForClient(ctx, "live", "other", now); err != nil || !ok || len(in.Consented) != 0 {
		t.Errorf("SessionForClient(no consent): got %+v, %t, %v, want the session without scopes", in, ok, err)
	}
	if _, ok, _ := s.SessionForClient(ctx, "expired", "app", now); ok {
		t.Error("SessionForClient(expired): got a session, want none")
	}
	// What lets an authorization skip its writes: whether the session
	// knows the client already, and when it was last seen.
	withSID := models.LoginSession{IDHash: "with-sid", UserID: "u1", SID: "sid-1", AuthTime: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateSession(ctx, withSID); err != nil {
		t.Fatal(err)
	}
	if in, _, err := s.SessionForClient(ctx, "with-sid", "app", now); err != nil || in.ClientRecorded || !in.NeedsTouch(now) {
		t.Errorf("new session: recorded %t, needs touch %t, %v; want not recorded, needs touch", in.ClientRecorded, in.NeedsTouch(now), err)
	}
	if err := s.RecordSessionClient(ctx, "sid-1", "u1", "app", now); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchSession(ctx, "with-sid", now); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		client   string
		at       time.Time
		recorded bool
		touch    bool
	}{
		{"app", now.Add(30 * time.Second), true, false},
		{"other", now.Add(30 * time.Second), false, false},
		{"app", now.Add(storage.SessionTouchInterval), true, true},
	} {
		in, ok, err := s.SessionForClient(ctx, "with-sid", tc.client, tc.at)
		if err != nil || !ok || in.ClientRecorded != tc.recorded || in.NeedsTouch(tc.at) != tc.touch {
			t.Errorf("SessionForClient(%s at +%v): recorded %t, needs touch %t, %t, %v; want %t, %t",
				tc.client, tc.at.Sub(now), in.ClientRecorded, in.NeedsTouch(tc.at), ok, err, tc.recorded, tc.touch)
		}
	}

	n, err := s.DeleteExpiredSessions(ctx, now)
	if err != nil || n != 1 {
		t.Errorf("DeleteExpiredSessions: got %d, %v, want 1", n, err)
	}
	if err := s.DeleteSession(ctx, "live"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, "live"); err != nil {
		t.Errorf("DeleteSession(gone): got %v, want nil", err)
	}
	if _, ok, _ := s.Session(ctx, "live", now); ok {
		t.Error("Session after DeleteSession: still there")
	}
	if err := s.CreateSession(ctx, models.LoginSession{IDHash: "again", UserID: "u1", AuthTime: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUserSessions(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, &models.LoginSession{}, "user_id = ?", "u1"); n != 0 {
		t.Errorf("alice's sessions after DeleteUserSessions: got %d, want 0", n)
	}
	if _, ok, _ := s.Session(ctx, "bobs", now); !ok {
		t.Error("bob's session went with alice's")
	}
	// A session whose user is gone signs nobody in.
	if err := s.CreateSession(ctx, models.LoginSession{IDHash: "orphan", UserID: "ghost", AuthTime: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.SessionForClient(ctx, "orphan", "app", now); ok {
		t.Error("SessionForClient(session of a deleted user): got a session, want none")
	}
}

func testConsents(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	if _, ok, err := s.Consent(ctx, "u1", "app"); err != nil || ok {
		t.Fatalf("Consent before: got %t, %v, want none", ok, err)
	}
	for _, c := range []struct{ user, client string }{{"u1", "app"}, {"u1", "other"}, {"u2", "app"}} {
		if err := s.SaveConsent(ctx, c.user, c.client, []string{"openid"}); err != nil {
			t.Fatal(err)
		}
	}
	// Saving again replaces the scopes.
	if err := s.SaveConsent(ctx, "u1", "app", []string{"openid", "profile"}); err != nil {
		t.Fatal(err)
	}
	if scopes, ok, err := s.Consent(ctx, "u1", "app"); err != nil || !ok || !slices.Equal(scopes, []string{"openid", "profile"}) {
		t.Errorf("Consent after a second save: got %v, %t, %v, want [openid profile]", scopes, ok, err)
	}
	if err := s.DeleteUserConsents(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Consent(ctx, "u1", "other"); ok {
		t.Error("Consent after DeleteUserConsents: still there")
	}
	if _, ok, _ := s.Consent(ctx, "u2", "app"); !ok {
		t.Error("bob's consent went with alice's")
	}
	if err := s.SaveConsent(ctx, "u1", "app", []string{"openid"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteClientConsents(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, &models.Consent{}, "client_id = ?", "app"); n != 0 {
		t.Errorf("consents to app after DeleteClientConsents: got %d, want 0", n)
	}
}

func signingKey(id, alg string, created, activates time.Time) models.SigningKey {
	return models.SigningKey{ID: id, Algorithm: alg, PublicPEM: "public " + id, PrivateSealed: []byte("sealed " + id), CreatedAt: created, ActivatesAt: activates}
}

func keyIDs(ks []models.SigningKey) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.ID)
	}
	return out
}

func keyByID(t *testing.T, ks []models.SigningKey, id string) models.SigningKey {
	t.Helper()
	for _, k := range ks {
		if k.ID == id {
			return k
		}
	}
	t.Fatalf("no key %s in %v", id, keyIDs(ks))
	return models.SigningKey{}
}

// timeIs reports whether p is set to want.
func timeIs(p *time.Time, want time.Time) bool { return p != nil && p.Equal(want) }

// One key per algorithm is ensured; a rotation publishes the new key at
// once and retires the one it replaces at its activation, so that the
// stored times alone say which key signs when.
func testSigningKeys(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	made := 0
	newKey := func(alg string) (models.SigningKey, error) {
		made++
		return signingKey(fmt.Sprintf("%s-%d", alg, made), alg, now, now), nil
	}
	for range 2 {
		if err := s.EnsureSigningKeys(ctx, []string{"RS256", "ES256"}, newKey); err != nil {
			t.Fatal(err)
		}
	}
	if made != 2 {
		t.Fatalf("EnsureSigningKeys twice made %d keys, want 2 (one per algorithm)", made)
	}
	const retention = 2 * time.Hour
	// r2 is published at +1h and signs from +2h: RS256-1 signs until then.
	if err := s.RotateSigningKey(ctx, signingKey("r2", "RS256", now.Add(time.Hour), now.Add(2*time.Hour)), retention, "admin", "pre-published"); err != nil {
		t.Fatal(err)
	}
	all, err := s.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := keyIDs(all); !slices.Equal(got, []string{"r2", "ES256-2", "RS256-1"}) && !slices.Equal(got, []string{"r2", "RS256-1", "ES256-2"}) {
		t.Fatalf("SigningKeys: got %v, want r2 first (latest activation)", got)
	}
	for _, k := range all {
		if len(k.PrivateSealed) != 0 {
			t.Errorf("SigningKeys returned the private part of %s", k.ID)
		}
	}
	r1 := keyByID(t, all, "RS256-1")
	if !timeIs(r1.RetiredAt, now.Add(2*time.Hour)) || !timeIs(r1.ExpiresAt, now.Add(2*time.Hour+retention)) {
		t.Errorf("RS256-1 after rotation: retired %v, expires %v, want %v and %v", r1.RetiredAt, r1.ExpiresAt, now.Add(2*time.Hour), now.Add(2*time.Hour+retention))
	}
	if e := keyByID(t, all, "ES256-2"); e.RetiredAt != nil || e.ExpiresAt != nil {
		t.Errorf("ES256 key after an RS256 rotation: retired %v, expires %v, want untouched", e.RetiredAt, e.ExpiresAt)
	}
	if r2 := keyByID(t, all, "r2"); !r2.ActivatesAt.Equal(now.Add(2*time.Hour)) || r2.RetiredAt != nil {
		t.Errorf("r2: activates %v retired %v, want %v and unset", r2.ActivatesAt, r2.RetiredAt, now.Add(2*time.Hour))
	}
	// r3 is an emergency rotation at +90m, before r2 ever signed: RS256-1
	// stops at once, r2 is withdrawn without having signed anything.
	if err := s.RotateSigningKey(ctx, signingKey("r3", "RS256", now.Add(90*time.Minute), now.Add(90*time.Minute)), retention, "admin", "now"); err != nil {
		t.Fatal(err)
	}
	all, _ = s.SigningKeys(ctx)
	if r1 := keyByID(t, all, "RS256-1"); !timeIs(r1.RetiredAt, now.Add(90*time.Minute)) || !timeIs(r1.ExpiresAt, now.Add(90*time.Minute+retention)) {
		t.Errorf("RS256-1 after the emergency rotation: retired %v expires %v, want %v and %v", r1.RetiredAt, r1.ExpiresAt, now.Add(90*time.Minute), now.Add(90*time.Minute+retention))
	}
	if r2 := keyByID(t, all, "r2"); !timeIs(r2.RetiredAt, now.Add(90*time.Minute)) || !timeIs(r2.ExpiresAt, now.Add(90*time.Minute)) {
		t.Errorf("r2 after the emergency rotation: retired %v expires %v, want both %v (never signed)", r2.RetiredAt, r2.ExpiresAt, now.Add(90*time.Minute))
	}
	for _, tc := range []struct {
		at   time.Time
		want []string
	}{
		{now.Add(80 * time.Minute), []string{"r2", "r3", "ES256-2", "RS256-1"}},
		// r2 leaves when r3 takes over; RS256-1 stays for the retention.
		{now.Add(90 * time.Minute), []string{"r3", "ES256-2", "RS256-1"}},
		{now.Add(90*time.Minute + retention), []string{"r3", "ES256-2"}},
	} {
		got, err := s.PublishedSigningKeys(ctx, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		gotIDs := keyIDs(got)
		slices.Sort(gotIDs)
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !slices.Equal(gotIDs, want) {
			t.Errorf("PublishedSigningKeys(%v): got %v, want %v", tc.at, keyIDs(got), tc.want)
		}
		for _, k := range got {
			if string(k.PrivateSealed) != "sealed "+k.ID {
				t.Errorf("PublishedSigningKeys: key %s has private part %q, want its sealed key", k.ID, k.PrivateSealed)
			}
		}
	}
	entries, err := s.ListAudit(ctx, storage.AuditFilter{Action: storage.AuditSigningKeyRotate})
	if err != nil || len(entries) != 2 || entries[0].Target != "r3" || entries[0].Actor != "admin" || entries[0].Detail != "now" {
		t.Errorf("rotation audit entries: got %+v, %v, want two, the newest for r3 by admin", entries, err)
	}
	// A rotation that fails (the key ID is taken) changes nothing.
	if err := s.RotateSigningKey(ctx, signingKey("r3", "RS256", now.Add(6*time.Hour), now.Add(6*time.Hour)), retention, "admin", ""); err == nil {
		t.Fatal("RotateSigningKey(taken id): got nil, want an error")
	}
	all, _ = s.SigningKeys(ctx)
	if r3 := keyByID(t, all, "r3"); r3.RetiredAt != nil {
		t.Errorf("after a failed rotation: r3 retired at %v, want still current", r3.RetiredAt)
	}
	// A client keeps the algorithms it chose; RS256 is the default.
	c := models.Client{ID: "es-app", Name: "ES", IDTokenAlg: "ES256", BackchannelLogoutURI: "https://es.example/logout", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateClient(ctx, &c); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ClientByID(ctx, "es-app"); err != nil || got.IDTokenAlg != "ES256" || got.AccessTokenAlg != "RS256" {
		t.Errorf("client algorithms: got %q, %q (%v), want ES256 and the default RS256", got.IDTokenAlg, got.AccessTokenAlg, err)
	}
}

// Replicas starting together store exactly one key per algorithm.
func testEnsureSigningKeyConcurrent(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const replicas = 4
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.EnsureSigningKeys(ctx, []string{"RS256", "EdDSA"}, func(alg string) (models.SigningKey, error) {
				return signingKey(fmt.Sprintf("%s-%d", alg, i), alg, now, now), nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	keys, err := s.SigningKeys(ctx)
	if err != nil || len(keys) != 2 || keys[0].Algorithm == keys[1].Algorithm {
		t.Errorf("after %d concurrent EnsureSigningKeys: got %v, %v, want one key per algorithm", replicas, keyIDs(keys), err)
	}
}
