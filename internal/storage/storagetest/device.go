package storagetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

func deviceCode(hash, userHash, clientID string) *models.DeviceCode {
	return &models.DeviceCode{
		DeviceCodeHash: hash, UserCodeHash: userHash, ClientID: clientID, Scopes: []string{"openid", "offline_access"},
		Status: storage.DevicePending, SourceIP: "192.0.2.7", UserAgent: "cli/1.0", Interval: 5,
		CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute),
	}
}

func testDeviceCodes(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	if err := s.CreateDeviceCode(ctx, deviceCode("d1", "u1", "cli")); err != nil {
		t.Fatal(err)
	}
	// A user code in use is a conflict: the caller draws another.
	wantErr(t, "CreateDeviceCode(same user code)", s.CreateDeviceCode(ctx, deviceCode("d2", "u1", "cli")), storage.ErrConflict)

	got, err := s.DeviceCodeByUserCode(ctx, "u1", now)
	if err != nil {
		t.Fatal(err)
	}
	if got.DeviceCodeHash != "d1" || got.ClientID != "cli" || !slices.Equal(got.Scopes, []string{"openid", "offline_access"}) ||
		got.Status != storage.DevicePending || got.SourceIP != "192.0.2.7" || got.UserAgent != "cli/1.0" || got.Interval != 5 ||
		!got.CreatedAt.Equal(now) || !got.ExpiresAt.Equal(now.Add(10*time.Minute)) {
		t.Errorf("DeviceCodeByUserCode: got %+v", got)
	}
	_, err = s.DeviceCodeByUserCode(ctx, "u1", now.Add(10*time.Minute))
	wantErr(t, "DeviceCodeByUserCode(expired)", err, storage.ErrNotFound)
	_, err = s.DeviceCodeByUserCode(ctx, "nope", now)
	wantErr(t, "DeviceCodeByUserCode(unknown)", err, storage.ErrNotFound)
	_, err = s.DeviceCode(ctx, "nope")
	wantErr(t, "DeviceCode(unknown)", err, storage.ErrNotFound)

	// Polls: the first is never too soon; one within the interval is,
	// and grows the interval by five seconds for good.
	d, soon, err := s.PollDeviceCode(ctx, "d1", now)
	if err != nil || soon || d.Interval != 5 || d.Polls != 1 {
		t.Fatalf("first poll: got %+v, %t, %v, want interval 5, not too soon", d, soon, err)
	}
	d, soon, err = s.PollDeviceCode(ctx, "d1", now.Add(4*time.Second))
	if err != nil || !soon || d.Interval != 10 {
		t.Fatalf("poll after 4s: got interval %d, %t, %v, want 10, too soon", d.Interval, soon, err)
	}
	d, soon, err = s.PollDeviceCode(ctx, "d1", now.Add(14*time.Second))
	if err != nil || soon || d.Interval != 10 {
		t.Fatalf("poll after another 10s: got interval %d, %t, %v, want 10, not too soon", d.Interval, soon, err)
	}
	if stored, _ := s.DeviceCode(ctx, "d1"); stored.Interval != 10 || stored.Polls != 3 || stored.LastPolledAt == nil || !stored.LastPolledAt.Equal(now.Add(14*time.Second)) {
		t.Errorf("stored after polls: got %+v", stored)
	}
	_, _, err = s.PollDeviceCode(ctx, "nope", now)
	wantErr(t, "PollDeviceCode(unknown)", err, storage.ErrNotFound)

	// Redeeming a pending code fails; deciding it once works, twice not.
	wantErr(t, "RedeemDeviceCode(pending)", s.RedeemDeviceCode(ctx, "d1", now), storage.ErrConflict)
	dec := storage.DeviceDecision{Approve: true, UserID: "user1", AuthTime: now.Add(-time.Minute), ApproverIP: "198.51.100.1"}
	if err := s.DecideDeviceCode(ctx, "d1", dec, now); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "DecideDeviceCode(again)", s.DecideDeviceCode(ctx, "d1", storage.DeviceDecision{UserID: "user2"}, now), storage.ErrConflict)
	wantErr(t, "DecideDeviceCode(unknown)", s.DecideDeviceCode(ctx, "nope", dec, now), storage.ErrNotFound)
	got, _ = s.DeviceCode(ctx, "d1")
	if got.Status != storage.DeviceApproved || got.UserID != "user1" || got.ApproverIP != "198.51.100.1" ||
		got.AuthTime == nil || !got.AuthTime.Equal(now.Add(-time.Minute)) || got.DecidedAt == nil || !got.DecidedAt.Equal(now) {
		t.Errorf("after approval: got %+v", got)
	}
	// Expired, it cannot be redeemed; in time, once.
	wantErr(t, "RedeemDeviceCode(expired)", s.RedeemDeviceCode(ctx, "d1", now.Add(11*time.Minute)), storage.ErrConflict)
	if err := s.RedeemDeviceCode(ctx, "d1", now); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "RedeemDeviceCode(again)", s.RedeemDeviceCode(ctx, "d1", now), storage.ErrConflict)
	if err := s.RevokeDeviceCode(ctx, "d1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.DeviceCode(ctx, "d1"); got.Status != storage.DeviceDenied {
		t.Errorf("after revoke: got status %q, want denied", got.Status)
	}

	// A denied code; an expired pending code cannot be decided.
	if err := s.CreateDeviceCode(ctx, deviceCode("d3", "u3", "cli")); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "DecideDeviceCode(expired)", s.DecideDeviceCode(ctx, "d3", dec, now.Add(time.Hour)), storage.ErrConflict)
	if err := s.DecideDeviceCode(ctx, "d3", storage.DeviceDecision{UserID: "user1", AuthTime: now}, now); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.DeviceCode(ctx, "d3"); got.Status != storage.DeviceDenied {
		t.Errorf("after deny: got status %q, want denied", got.Status)
	}
	wantErr(t, "RedeemDeviceCode(denied)", s.RedeemDeviceCode(ctx, "d3", now), storage.ErrConflict)

	// Pruning takes what expired before the cutoff only.
	late := deviceCode("d4", "u4", "cli")
	late.ExpiresAt = now.Add(time.Hour)
	if err := s.CreateDeviceCode(ctx, late); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteExpiredDeviceCodes(ctx, now.Add(30*time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredDeviceCodes: got %d, %v, want 2", n, err)
	}
	if c := count(t, s, &models.DeviceCode{}, "device_code_hash = ?", "d4"); c != 1 {
		t.Errorf("the unexpired code was pruned")
	}
}

// Parallel decisions, polls and redemptions of one code: one decision,
// one redemption, and every poll but one of a burst is too soon.
func testDeviceCodesConcurrent(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	if err := s.CreateDeviceCode(ctx, deviceCode("d1", "u1", "cli")); err != nil {
		t.Fatal(err)
	}
	const n = 8
	run := func(f func(i int) error) (ok, conflict int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { errs[i] = f(i) })
		}
		wg.Wait()
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, storage.ErrConflict):
				conflict++
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		return ok, conflict
	}
	var mu sync.Mutex
	soon := 0
	okPolls, _ := run(func(int) error {
		_, tooSoon, err := s.PollDeviceCode(ctx, "d1", now)
		if tooSoon {
			mu.Lock()
			soon++
			mu.Unlock()
		}
		return err
	})
	if okPolls != n || soon != n-1 {
		t.Errorf("parallel polls: %d answered, %d too soon, want %d and %d", okPolls, soon, n, n-1)
	}
	if d, _ := s.DeviceCode(ctx, "d1"); d.Polls != n || d.Interval != 5+(n-1)*storage.SlowDownStep {
		t.Errorf("after parallel polls: got polls %d, interval %d, want %d, %d", d.Polls, d.Interval, n, 5+(n-1)*storage.SlowDownStep)
	}
	if ok, conflict := run(func(i int) error {
		return s.DecideDeviceCode(ctx, "d1", storage.DeviceDecision{Approve: i%2 == 0, UserID: "user1", AuthTime: now}, now)
	}); ok != 1 || conflict != n-1 {
		t.Errorf("parallel decisions: %d recorded, %d conflicts, want 1 and %d", ok, conflict, n-1)
	}
	if d, _ := s.DeviceCode(ctx, "d1"); d.Status != storage.DeviceApproved {
		// The decision that won may have been a denial: approve another code.
		if err := s.CreateDeviceCode(ctx, deviceCode("d2", "u2", "cli")); err != nil {
			t.Fatal(err)
		}
		if err := s.DecideDeviceCode(ctx, "d2", storage.DeviceDecision{Approve: true, UserID: "user1", AuthTime: now}, now); err != nil {
			t.Fatal(err)
		}
		if ok, conflict := run(func(int) error { return s.RedeemDeviceCode(ctx, "d2", now) }); ok != 1 || conflict != n-1 {
			t.Errorf("parallel redemptions: %d redeemed, %d conflicts, want 1 and %d", ok, conflict, n-1)
		}
		return
	}
	if ok, conflict := run(func(int) error { return s.RedeemDeviceCode(ctx, "d1", now) }); ok != 1 || conflict != n-1 {
		t.Errorf("parallel redemptions: %d redeemed, %d conflicts, want 1 and %d", ok, conflict, n-1)
	}
}

// Deleting a user takes the codes they decided; deleting a client, its
// codes.
func testDeviceCodeCascades(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, user("u1", "alice"))
	c := client("cli", "CLI")
	if err := s.CreateClient(ctx, &c); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*models.DeviceCode{deviceCode("d1", "h1", "cli"), deviceCode("d2", "h2", "other"), deviceCode("d3", "h3", "other")} {
		if err := s.CreateDeviceCode(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DecideDeviceCode(ctx, "d2", storage.DeviceDecision{Approve: true, UserID: u.ID, AuthTime: now}, now); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if got := count(t, s, &models.DeviceCode{}, "1 = 1"); got != 2 {
		t.Errorf("after deleting the user: %d codes, want 2", got)
	}
	if err := s.DeleteClient(ctx, "cli"); err != nil {
		t.Fatal(err)
	}
	if got := count(t, s, &models.DeviceCode{}, "device_code_hash = ?", "d3"); got != 1 {
		t.Errorf("deleting a client took another client's code")
	}
	if got := count(t, s, &models.DeviceCode{}, "client_id = ?", "cli"); got != 0 {
		t.Errorf("after deleting the client: %d of its codes, want 0", got)
	}
}
