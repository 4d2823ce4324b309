package storagetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// A client's authentication settings are stored and read back; a client
// created without them gets the defaults of migration 0015.
func testClientAuthSettings(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	plain := client("c1", "Plain")
	if err := s.CreateClient(ctx, &plain); err != nil {
		t.Fatal(err)
	}
	got, err := s.ClientByID(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if want := (models.ClientAuth{TokenEndpointAuthMethod: "client_secret_basic"}); got.ClientAuth != want {
		t.Errorf("defaults: got %+v, want %+v", got.ClientAuth, want)
	}
	jwt := client("c2", "Keys")
	jwt.ClientAuth = models.ClientAuth{
		TokenEndpointAuthMethod: "private_key_jwt", TokenEndpointAuthSigningAlg: "ES256",
		JWKS: `{"keys":[]}`, JWKSURI: "https://rp.example/jwks", RequirePAR: true, RequirePKCE: true,
	}
	if err := s.CreateClient(ctx, &jwt); err != nil {
		t.Fatal(err)
	}
	if got, err = s.ClientByID(ctx, "c2"); err != nil || got.ClientAuth != jwt.ClientAuth {
		t.Errorf("ClientByID(c2): got %+v, %v, want %+v", got.ClientAuth, err, jwt.ClientAuth)
	}
	got.RequirePAR, got.JWKSURI = false, ""
	if err := s.SaveClient(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.ClientByID(ctx, "c2"); again.RequirePAR || again.JWKSURI != "" || !again.RequirePKCE {
		t.Errorf("after SaveClient: got %+v", again.ClientAuth)
	}
}

// A jti is accepted once, however many replicas try it at once; expired
// ones are pruned.
func testClientAssertionJTIs(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	if used, err := s.ClientAssertionJTIUsed(ctx, "j1"); err != nil || used {
		t.Fatalf("ClientAssertionJTIUsed(new): got %t, %v, want false", used, err)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.UseClientAssertionJTI(ctx, "j1", now.Add(time.Minute)) })
	}
	wg.Wait()
	ok, conflict := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, storage.ErrConflict):
			conflict++
		default:
			t.Fatalf("UseClientAssertionJTI: %v", err)
		}
	}
	if ok != 1 || conflict != n-1 {
		t.Errorf("parallel uses of one jti: %d accepted, %d conflicts, want 1 and %d", ok, conflict, n-1)
	}
	if used, err := s.ClientAssertionJTIUsed(ctx, "j1"); err != nil || !used {
		t.Errorf("ClientAssertionJTIUsed(used): got %t, %v, want true", used, err)
	}
	if err := s.UseClientAssertionJTI(ctx, "j0", now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	n2, err := s.PruneClientAuth(ctx, now)
	if err != nil || n2 != 1 {
		t.Errorf("PruneClientAuth: got %d, %v, want 1", n2, err)
	}
	if used, _ := s.ClientAssertionJTIUsed(ctx, "j0"); used {
		t.Error("an expired jti survived pruning")
	}
	if used, _ := s.ClientAssertionJTIUsed(ctx, "j1"); !used {
		t.Error("pruning took a jti that had not expired")
	}
}

func pushed(hash, clientID string, expires time.Time) *models.PushedAuthRequest {
	return &models.PushedAuthRequest{RequestURIHash: hash, ClientID: clientID, Data: []byte(`{"form":{}}`), CreatedAt: now, ExpiresAt: expires}
}

// A pushed authorization request is read while it lives, used once
// however many replicas try at once, and goes with its client.
func testPushedAuthRequests(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	for _, p := range []*models.PushedAuthRequest{
		pushed("p1", "c1", now.Add(time.Minute)), pushed("p2", "c1", now.Add(-time.Second)), pushed("p3", "c2", now.Add(time.Minute)),
	} {
		if err := s.CreatePushedAuthRequest(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "CreatePushedAuthRequest(same hash)", s.CreatePushedAuthRequest(ctx, pushed("p1", "c1", now)), storage.ErrConflict)
	got, err := s.PushedAuthRequest(ctx, "p1", now)
	if err != nil || got.ClientID != "c1" || string(got.Data) != `{"form":{}}` || !got.ExpiresAt.Equal(now.Add(time.Minute)) {
		t.Errorf("PushedAuthRequest(p1): got %+v, %v", got, err)
	}
	_, err = s.PushedAuthRequest(ctx, "p2", now)
	wantErr(t, "PushedAuthRequest(expired)", err, storage.ErrNotFound)
	wantErr(t, "ConsumePushedAuthRequest(expired)", s.ConsumePushedAuthRequest(ctx, "p2", now), storage.ErrNotFound)

	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.ConsumePushedAuthRequest(ctx, "p1", now) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("ConsumePushedAuthRequest: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("parallel uses of one request_uri: %d succeeded, want 1", ok)
	}
	_, err = s.PushedAuthRequest(ctx, "p1", now)
	wantErr(t, "PushedAuthRequest(used)", err, storage.ErrNotFound)

	if n, err := s.PruneClientAuth(ctx, now); err != nil || n != 1 {
		t.Errorf("PruneClientAuth: got %d, %v, want 1 (p2)", n, err)
	}
	c2 := client("c2", "Two")
	if err := s.CreateClient(ctx, &c2); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteClient(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	if got := count(t, s, &models.PushedAuthRequest{}, "client_id = ?", "c2"); got != 0 {
		t.Errorf("after DeleteClient: %d pushed requests of the client remain, want 0", got)
	}
}
