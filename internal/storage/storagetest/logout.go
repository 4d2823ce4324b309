package storagetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// signedIn inserts a session with a sid for userID that signed in to
// clientIDs.
func signedIn(t *testing.T, s *storage.Store, idHash, sid, userID string, clientIDs ...string) {
	t.Helper()
	ls := session(idHash, userID)
	ls.SID, ls.Surface = sid, "authgate"
	insert(t, s, ls)
	for _, c := range clientIDs {
		if err := s.RecordSessionClient(t.Context(), sid, userID, c, now); err != nil {
			t.Fatal(err)
		}
		// Twice is once.
		if err := s.RecordSessionClient(t.Context(), sid, userID, c, now); err != nil {
			t.Fatal(err)
		}
	}
}

// logoutClients makes three clients: one with a back-channel URI, one with
// a front-channel URI, one with neither.
func logoutClients(t *testing.T, s *storage.Store) {
	t.Helper()
	back, front, plain := client("back", "Back"), client("front", "Front"), client("plain", "Plain")
	back.BackchannelLogoutURI, back.BackchannelLogoutSessionRequired = "https://back.example.com/logout", true
	front.FrontchannelLogoutURI = "https://front.example.com/logout"
	for _, c := range []models.Client{back, front, plain} {
		if err := s.CreateClient(t.Context(), &c); err != nil {
			t.Fatal(err)
		}
	}
}

// Ending a session, whoever asks, takes its list of clients with it and
// queues a logout token for each client with a back-channel URI.
func testEndSession(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	logoutClients(t, s)
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	signedIn(t, s, "h1", "sid-1", "u1", "back", "front", "plain")
	signedIn(t, s, "h2", "sid-2", "u1", "back")
	signedIn(t, s, "h3", "sid-3", "u2", "back")

	e, ok, err := s.EndSession(ctx, "h1", now)
	if err != nil || !ok {
		t.Fatalf("EndSession(h1): got ok=%t, %v", ok, err)
	}
	var ids []string
	for _, c := range e.Clients {
		ids = append(ids, c.ID)
	}
	if e.Session.SID != "sid-1" || !slices.Equal(ids, []string{"back", "front", "plain"}) {
		t.Fatalf("EndSession(h1): got sid %q clients %v, want sid-1 [back front plain]", e.Session.SID, ids)
	}
	if e.Clients[1].FrontchannelLogoutURI != "https://front.example.com/logout" {
		t.Errorf("the front client's URI: got %q", e.Clients[1].FrontchannelLogoutURI)
	}
	if n := count(t, s, &models.LoginSession{}, "id_hash = ?", "h1"); n != 0 {
		t.Errorf("session rows after EndSession: %d, want 0", n)
	}
	if n := count(t, s, &models.SessionClient{}, "sid = ?", "sid-1"); n != 0 {
		t.Errorf("session clients after EndSession: %d, want 0", n)
	}
	var ds []models.LogoutDelivery
	if err := s.Conn(ctx).Find(&ds).Error; err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].ClientID != "back" || ds[0].SID != "sid-1" || ds[0].Subject != "u1" ||
		ds[0].URI != "https://back.example.com/logout" || len(ds[0].JTI) < 20 {
		t.Fatalf("deliveries after EndSession: got %+v, want one for back, sid-1, u1", ds)
	}
	if _, ok, err := s.EndSession(ctx, "h1", now); ok || err != nil {
		t.Errorf("EndSession(h1) again: got ok=%t, %v; want false, nil", ok, err)
	}

	// Another user cannot end alice's session by its sid.
	if _, ok, err := s.EndUserSession(ctx, "u2", "sid-2", now); ok || err != nil {
		t.Errorf("EndUserSession(bob, alice's sid): got ok=%t, %v; want false, nil", ok, err)
	}
	if _, ok, err := s.EndUserSession(ctx, "u1", "sid-2", now); !ok || err != nil {
		t.Errorf("EndUserSession(alice, sid-2): got ok=%t, %v; want true, nil", ok, err)
	}
	// A password change (or deleting the user) ends the rest the same way.
	if err := s.DeleteUserSessions(ctx, "u2"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, &models.LogoutDelivery{}, "1 = 1"); n != 3 {
		t.Errorf("deliveries: got %d, want 3", n)
	}
	// So does disabling the user.
	signedIn(t, s, "h4", "sid-4", "u2", "back")
	disabled := true
	if err := s.UpdateUser(ctx, "u2", storage.UserChange{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, &models.LogoutDelivery{}, "sid = ?", "sid-4"); n != 1 {
		t.Errorf("deliveries after disabling the user: got %d for its session, want 1", n)
	}
	if n := count(t, s, &models.SessionClient{}, "1 = 1"); n != 0 {
		t.Errorf("session clients left: %d, want 0", n)
	}
}

// A user's sessions and grants are listed for the account page, and
// revoking a grant deletes its tokens and consent only.
func testSessionsAndGrants(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	logoutClients(t, s)
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	signedIn(t, s, "h1", "sid-1", "u1")
	console := session("h2", "u1")
	console.SID, console.Surface = "sid-2", "authgate_admin"
	insert(t, s, console)
	expired := session("h3", "u1")
	expired.ExpiresAt = now.Add(-time.Minute)
	insert(t, s, expired)

	got, err := s.UserSessions(ctx, "u1", "authgate", now)
	if err != nil || len(got) != 1 || got[0].SID != "sid-1" {
		t.Fatalf("UserSessions: got %+v, %v; want sid-1 only", got, err)
	}
	if err := s.TouchSession(ctx, "h1", now); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.UserSessions(ctx, "u1", "authgate", now); got[0].LastSeenAt == nil || !got[0].LastSeenAt.Equal(now) {
		t.Errorf("LastSeenAt after TouchSession: got %v, want %v", got[0].LastSeenAt, now)
	}

	if err := s.SaveConsent(ctx, "u1", "back", []string{"openid"}); err != nil {
		t.Fatal(err)
	}
	insert(t, s, request("a1", "front", "u1"), request("a2", "front", "u1"), request("a3", "back", "u1"), request("b1", "front", "u2"))
	grants, err := s.UserGrants(ctx, "u1", now)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range grants {
		names = append(names, fmt.Sprintf("%s:%d:%v", g.Client.ID, g.Tokens, g.Scopes))
	}
	if want := []string{"back:1:[openid]", "front:2:[]"}; !slices.Equal(names, want) {
		t.Fatalf("UserGrants: got %v, want %v", names, want)
	}
	if ok, err := s.RevokeGrant(ctx, "u1", "back"); !ok || err != nil {
		t.Fatalf("RevokeGrant(back): got %t, %v", ok, err)
	}
	if ok, err := s.RevokeGrant(ctx, "u1", "back"); ok || err != nil {
		t.Errorf("RevokeGrant(back) again: got %t, %v; want false, nil", ok, err)
	}
	if n := count(t, s, &models.OAuthRequest{}, "1 = 1"); n != 3 {
		t.Errorf("requests after revoking back: %d, want 3 (front's and bob's)", n)
	}
	if n := count(t, s, &models.Consent{}, "1 = 1"); n != 0 {
		t.Errorf("consents after revoking back: %d, want 0", n)
	}
}

// The logout outbox: claim, failure with backoff, delete; and each
// delivery claimed by one of several concurrent senders.
func testLogoutOutbox(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	logoutClients(t, s)
	mustCreateUser(t, s, user("u1", "alice"))
	const sessions, senders = 12, 4
	for i := range sessions {
		signedIn(t, s, fmt.Sprintf("h%d", i), fmt.Sprintf("sid-%d", i), "u1", "back")
	}
	if err := s.DeleteUserSessions(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	at := now.Add(time.Hour) // after the rows' next attempt, whatever the clock
	var mu sync.Mutex
	claimed := map[uint64]int{}
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for range senders {
		wg.Go(func() {
			for {
				d, ok, err := s.ClaimLogout(ctx, at, at.Add(time.Minute))
				if err != nil {
					errs <- err
					return
				}
				if !ok {
					return
				}
				mu.Lock()
				claimed[d.ID]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(claimed) != sessions {
		t.Errorf("claimed %d distinct deliveries, want %d", len(claimed), sessions)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("delivery %d claimed %d times, want once", id, n)
		}
	}

	// A lapsed claim can be taken again; the first sender's failure is
	// then not recorded over the second's claim.
	later := at.Add(2 * time.Minute)
	d, ok, err := s.ClaimLogout(ctx, later, later.Add(time.Minute))
	if err != nil || !ok {
		t.Fatalf("ClaimLogout after the claims lapsed: got %t, %v", ok, err)
	}
	if rec, err := s.RecordLogoutFailure(ctx, d.ID, at.Add(time.Minute), storage.LogoutFailure{Attempts: 1}); rec || err != nil {
		t.Errorf("RecordLogoutFailure with a lapsed claim: got %t, %v; want false, nil", rec, err)
	}
	f := storage.LogoutFailure{Attempts: 1, LastError: "the client answered 500", NextAttempt: later.Add(time.Hour)}
	if rec, err := s.RecordLogoutFailure(ctx, d.ID, *d.ClaimedUntil, f); !rec || err != nil {
		t.Fatalf("RecordLogoutFailure: got %t, %v; want true, nil", rec, err)
	}
	// Not due again before its next attempt (the others are still
	// claimed until later+1m... they lapsed at at+1m, so they are due).
	seen := map[uint64]bool{}
	for {
		c, ok, err := s.ClaimLogout(ctx, later.Add(time.Minute+time.Second), later.Add(2*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		seen[c.ID] = true
		if err := s.DeleteLogout(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	if seen[d.ID] || len(seen) != sessions-1 {
		t.Errorf("claimed %d deliveries before the failed one's next attempt (failed one among them: %t), want %d without it", len(seen), seen[d.ID], sessions-1)
	}
	f = storage.LogoutFailure{Attempts: 10, LastError: "gave up", NextAttempt: later, Failed: true}
	c, ok, err := s.ClaimLogout(ctx, later.Add(2*time.Hour), later.Add(3*time.Hour))
	if err != nil || !ok || c.ID != d.ID || c.Attempts != 1 {
		t.Fatalf("ClaimLogout after the next attempt: got %+v, %t, %v; want the failed one with 1 attempt", c, ok, err)
	}
	if rec, err := s.RecordLogoutFailure(ctx, c.ID, *c.ClaimedUntil, f); !rec || err != nil {
		t.Fatalf("RecordLogoutFailure(failed): got %t, %v", rec, err)
	}
	if _, ok, _ := s.ClaimLogout(ctx, later.Add(5*time.Hour), later.Add(6*time.Hour)); ok {
		t.Error("a delivery that failed for good was claimed again")
	}
	if q, fl, err := s.LogoutCounts(ctx); q != 0 || fl != 1 || err != nil {
		t.Errorf("LogoutCounts: got %d queued %d failed, %v; want 0, 1", q, fl, err)
	}
}
