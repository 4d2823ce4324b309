package storagetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

func testNoticeClaims(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	c := client("c1", "One")
	if err := s.CreateClient(ctx, &c); err != nil {
		t.Fatal(err)
	}
	sunset := now.AddDate(0, 0, 7)
	n := func(userID string, days int) *models.LegacyNotice {
		return &models.LegacyNotice{ClientID: "c1", UserID: userID, Sunset: sunset, Days: days, SentAt: now}
	}
	for _, tc := range []struct {
		notice *models.LegacyNotice
		want   bool
	}{
		{n("u1", 7), true},
		{n("u1", 7), false}, // the same notice again
		{n("u1", 1), true},  // another milestone
		{n("u2", 7), true},  // another user
		{&models.LegacyNotice{ClientID: "c1", UserID: "u1", Sunset: sunset.AddDate(0, 0, 1), Days: 7, SentAt: now}, true}, // a moved sunset
	} {
		got, err := s.ClaimNotice(ctx, tc.notice)
		if err != nil || got != tc.want {
			t.Errorf("ClaimNotice(%s, %d days, %s): got %v, %v; want %v", tc.notice.UserID, tc.notice.Days, tc.notice.Sunset, got, err, tc.want)
		}
	}
	// A claim that loses inside a transaction leaves the transaction usable
	// (PostgreSQL aborts a transaction on a failed statement).
	err := s.InTx(ctx, func(ctx context.Context) error {
		if ok, err := s.ClaimNotice(ctx, n("u2", 7)); err != nil || ok {
			t.Errorf("ClaimNotice(taken) in a transaction: got %v, %v", ok, err)
		}
		_, err := s.ClaimNotice(ctx, n("u2", 1))
		return err
	})
	if err != nil {
		t.Fatalf("a transaction after a lost claim: %v", err)
	}
	list, err := s.NoticesOfClient(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 5 || list[0].Days != 7 || !list[0].Sunset.Equal(sunset) {
		t.Errorf("NoticesOfClient: got %+v, want 5 rows, the 7-day notices of the first sunset first", list)
	}

	if ids, err := s.NoticedUsers(ctx, "c1", sunset, 7); err != nil || !slices.Equal(sorted(ids), []string{"u1", "u2"}) {
		t.Errorf("NoticedUsers(7 days): got %v, %v; want [u1 u2]", ids, err)
	}
	if ids, err := s.NoticedUsers(ctx, "c1", sunset, 30); err != nil || len(ids) != 0 {
		t.Errorf("NoticedUsers(30 days): got %v, %v; want none", ids, err)
	}

	// Replicas claiming at once: exactly one wins each notice.
	const replicas = 8
	var wg sync.WaitGroup
	wins := make([]bool, replicas)
	for i := range replicas {
		wg.Go(func() {
			ok, err := s.ClaimNotice(ctx, &models.LegacyNotice{ClientID: "c1", UserID: "u2", Sunset: sunset, Days: 30, SentAt: now})
			if err != nil {
				t.Errorf("concurrent ClaimNotice: %v", err)
			}
			wins[i] = ok
		})
	}
	wg.Wait()
	if won := len(slices.DeleteFunc(wins, func(b bool) bool { return !b })); won != 1 {
		t.Errorf("concurrent claims of one notice: %d won, want 1", won)
	}

	// Notices go with their user and with their client.
	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if got := count(t, s, &models.LegacyNotice{}, "user_id = ?", "u1"); got != 0 {
		t.Errorf("notices of a deleted user: %d", got)
	}
	if err := s.DeleteClient(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if got := count(t, s, &models.LegacyNotice{}, "1 = 1"); got != 0 {
		t.Errorf("notices of a deleted client: %d", got)
	}
}

func testRecentUsersOfClient(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	for _, u := range []models.User{user("u1", "carol"), user("u2", "alice"), user("u3", "bob"), user("u4", "dave")} {
		mustCreateUser(t, s, u)
	}
	old := now.AddDate(0, 0, -100)
	insert(t, s,
		event(now, "u1", "carol", "c1", "password_grant", "Success"),
		event(now, "u1", "carol", "c1", "password_grant", "Success"), // twice: listed once
		event(now, "u2", "alice", "c1", "password_grant_refresh", "Success"),
		event(now, "u3", "bob", "c1", "password_grant", "Invalid password"), // a failure is no use
		event(old, "u4", "dave", "c1", "password_grant", "Success"),         // too long ago
		event(now, "u4", "dave", "c2", "password_grant", "Success"),         // another client
		event(now, "u3", "bob", "c1", "login_page", "Success"),              // another method
		event(now, "", "ghost", "c1", "password_grant", "Success"),          // no user
	)
	got, err := s.RecentUsersOfClient(ctx, "c1", []string{"password_grant", "password_grant_refresh"}, "Success", now.AddDate(0, 0, -90))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range got {
		names = append(names, u.Username)
	}
	if !slices.Equal(names, []string{"alice", "carol"}) {
		t.Errorf("RecentUsersOfClient: got %v, want [alice carol]", names)
	}
	if got[0].Email != "alice@example.com" {
		t.Errorf("RecentUsersOfClient: got email %q", got[0].Email)
	}
}

func testLegacyUses(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	ev := func(at time.Time, user, client, method, result, ua, ip string) *models.LoginEvent {
		return &models.LoginEvent{Time: at, UserID: "u-" + user, Username: user, ClientID: client, Method: method, Result: result, UserAgent: ua, SourceIP: ip}
	}
	insert(t, s,
		ev(now.Add(-2*time.Hour), "ana", "c1", "password_grant", "Success", "curl/8.0", "192.0.2.1"),
		ev(now.Add(-time.Hour), "ana", "c1", "password_grant", "Success", "curl/8.0", "192.0.2.1"),
		ev(now, "ana", "c1", "password_grant_refresh", "Success", "curl/8.0", "192.0.2.1"),
		ev(now, "ana", "c1", "password_grant", "Success", "Java/17", "198.51.100.7"),
		ev(now, "ben", "c1", "password_grant", "Invalid password", "curl/8.0", "192.0.2.9"),
		ev(now.AddDate(0, 0, -100), "ben", "c1", "password_grant", "Success", "curl/8.0", "192.0.2.9"),
		ev(now, "ben", "c1", "login_page", "Success", "Firefox", "192.0.2.9"),
	)
	got, err := s.LegacyUses(ctx, []string{"password_grant", "password_grant_refresh"}, "Success", now.AddDate(0, 0, -90))
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b storage.LegacyUse) int {
		return cmpString(a.Method+"\x00"+a.UserAgent, b.Method+"\x00"+b.UserAgent)
	})
	if len(got) != 3 {
		t.Fatalf("LegacyUses: got %+v, want 3 groups", got)
	}
	if g := got[1]; g.UserID != "u-ana" || g.Username != "ana" || g.UserAgent != "curl/8.0" || g.SourceIP != "192.0.2.1" || g.Count != 2 || !g.Last.Equal(now.Add(-time.Hour)) {
		t.Errorf("LegacyUses: curl group %+v, want ana's two password grants, the last an hour ago", g)
	}
	if g := got[2]; g.Method != "password_grant_refresh" || g.Count != 1 || !g.Last.Equal(now) {
		t.Errorf("LegacyUses: refresh group %+v", g)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
