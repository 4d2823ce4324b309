package oauth

import (
	"encoding/json"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// fullSession is a session with every field set, as the code flow stores
// for its OpenID Connect request.
func fullSession() *Session {
	at := time.Date(2026, 11, 30, 12, 0, 0, 123456789, time.UTC)
	s := NewSession("user-1")
	s.Username = "alice"
	s.Origin = OriginCode
	s.BeganAt = at
	s.AppPasswordID = "ap-1"
	s.ExpiresAt = map[fosite.TokenType]time.Time{fosite.AccessToken: at.Add(time.Hour), fosite.RefreshToken: at.Add(24 * time.Hour)}
	s.Claims = &jwt.IDTokenClaims{
		JTI: "j", Issuer: "https://id.example", Subject: "user-1", Audience: []string{"a", "b"},
		Nonce: "n", ExpiresAt: at.Add(time.Hour), IssuedAt: at, RequestedAt: at, AuthTime: at,
		AccessTokenHash: "ath", AuthenticationContextClassReference: "acr", AuthenticationMethodsReferences: []string{"pwd", "otp"},
		CodeHash: "ch", Extra: map[string]any{"email": "alice@example.com", "n": float64(2)},
	}
	s.Headers = &jwt.Headers{Extra: map[string]any{"kid": "k1"}}
	return s
}

func roundTrip(t *testing.T, s *Session) *Session {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	got := &Session{}
	if err := json.Unmarshal(data, got); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return got
}

func TestSessionRoundTrip(t *testing.T) {
	want := fullSession()
	if got := roundTrip(t, want); !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip changed the session:\n got %#v\nwant %#v", got, want)
	}
	// An empty session (client credentials) comes back as NewSession
	// makes it: claims and headers present, with extras to write into.
	empty := NewSession("")
	empty.ExpiresAt = map[fosite.TokenType]time.Time{fosite.AccessToken: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if got := roundTrip(t, empty); !reflect.DeepEqual(got, empty) {
		t.Fatalf("round trip changed the empty session:\n got %#v\nwant %#v", got, empty)
	}
}

func TestSessionStoredFormLeavesOutEmptyClaims(t *testing.T) {
	s := NewSession("")
	s.ExpiresAt = map[fosite.TokenType]time.Time{fosite.AccessToken: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"expires_at":{"access_token":"2026-01-01T00:00:00Z"}}`; string(data) != want {
		t.Fatalf("stored form %s, want %s", data, want)
	}
}

// A row written by an earlier version holds fosite's full encoding of the
// session (every field, empty or not); it decodes to the same session.
func TestSessionDecodesEarlierForm(t *testing.T) {
	type earlier struct {
		openid.DefaultSession
		Origin        string    `json:"origin,omitempty"`
		BeganAt       time.Time `json:"began_at,omitzero"`
		AppPasswordID string    `json:"app_password_id,omitempty"`
	}
	for _, want := range []*Session{fullSession(), NewSession("user-2"), NewSession("")} {
		data, err := json.Marshal(earlier{DefaultSession: want.DefaultSession, Origin: want.Origin, BeganAt: want.BeganAt, AppPasswordID: want.AppPasswordID})
		if err != nil {
			t.Fatal(err)
		}
		got := &Session{}
		if err := json.Unmarshal(data, got); err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("earlier form %s decoded as\n %#v\nwant %#v", data, got, want)
		}
	}
}

func BenchmarkStoredRequest(b *testing.B) {
	sess := NewSession("")
	sess.ExpiresAt = map[fosite.TokenType]time.Time{fosite.AccessToken: time.Now().Add(time.Hour)}
	req := storedRequest{ID: "req", RequestedAt: time.Now(), ClientID: "c", GrantedScope: []string{"profile"}, Form: url.Values{"grant_type": {"client_credentials"}}, Session: sess}
	data, err := encodeRequest(req)
	if err != nil {
		b.Fatal(err)
	}
	old, err := json.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := encodeRequest(req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			sr := storedRequest{Session: NewSession("")}
			if err := decodeRequest(data, &sr); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A row an earlier version wrote as JSON.
	b.Run("decode-json", func(b *testing.B) {
		for b.Loop() {
			sr := storedRequest{Session: NewSession("")}
			if err := decodeRequest(old, &sr); err != nil {
				b.Fatal(err)
			}
		}
	})
}
