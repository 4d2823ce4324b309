package oauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
)

// fullRequest is a stored request with every field set.
func fullRequest() storedRequest {
	return storedRequest{
		ID:                "req-1",
		RequestedAt:       time.Date(2026, 12, 1, 3, 4, 5, 987654321, time.UTC),
		ClientID:          "client-1",
		RequestedScope:    []string{"openid", "profile"},
		GrantedScope:      []string{"openid"},
		RequestedAudience: []string{"https://api.example"},
		GrantedAudience:   []string{"https://api.example", "other"},
		Form:              url.Values{"state": {"s-1"}, "scope": {"openid profile"}, "nonce": {"n", "m"}},
		Session:           fullSession(),
	}
}

func decodeInto(t *testing.T, data []byte) storedRequest {
	t.Helper()
	got := storedRequest{Session: NewSession("")}
	if err := decodeRequest(data, &got); err != nil {
		t.Fatalf("decode %q: %v", data, err)
	}
	return got
}

func TestRequestCodecRoundTrip(t *testing.T) {
	cc := NewSession("")
	cc.ExpiresAt = map[fosite.TokenType]time.Time{fosite.AccessToken: time.Date(2026, 12, 1, 4, 0, 0, 1, time.UTC)}
	for name, want := range map[string]storedRequest{
		"full":               fullRequest(),
		"client credentials": {ID: "r", RequestedAt: time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC), ClientID: "svc", GrantedScope: []string{"profile"}, Form: url.Values{"grant_type": {"client_credentials"}}, Session: cc},
		"empty":              {Session: NewSession("")},
	} {
		t.Run(name, func(t *testing.T) {
			data, err := encodeRequest(want)
			if err != nil {
				t.Fatal(err)
			}
			if data[0] != requestFormat1 {
				t.Fatalf("a *Session's request was not stored in the binary form: %q", data)
			}
			got := decodeInto(t, data)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip changed the request:\n got %#v\nwant %#v", got, want)
			}
			// The JSON form of the same request (a row of an earlier
			// version) reads the same.
			old, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			if fromJSON := decodeInto(t, old); !reflect.DeepEqual(fromJSON, got) {
				t.Fatalf("the JSON and binary forms read differently:\n json %#v\n binary %#v", fromJSON, got)
			}
		})
	}
}

// A time in another zone is stored as its instant and reads back in UTC.
func TestRequestCodecTimesAreInstants(t *testing.T) {
	zone := time.FixedZone("x", 5*3600+1800)
	at := time.Date(2026, 12, 1, 9, 30, 0, 42, zone)
	sess := NewSession("u")
	sess.BeganAt = at
	data, err := encodeRequest(storedRequest{RequestedAt: at, Session: sess})
	if err != nil {
		t.Fatal(err)
	}
	got := decodeInto(t, data)
	if !got.RequestedAt.Equal(at) || got.RequestedAt.Location() != time.UTC || !got.Session.(*Session).BeganAt.Equal(at) {
		t.Fatalf("times changed: requested %v, began %v, want the instant %v in UTC", got.RequestedAt, got.Session.(*Session).BeganAt, at)
	}
}

// Every cut or corrupted row is an error, never a panic or a request read
// from garbage.
func TestRequestCodecRejectsDamage(t *testing.T) {
	data, err := encodeRequest(fullRequest())
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n < len(data); n++ {
		sr := storedRequest{Session: NewSession("")}
		if err := decodeRequest(data[:n], &sr); !errors.Is(err, errBadRequestData) {
			t.Fatalf("a row cut to %d of %d bytes decoded (err %v)", n, len(data), err)
		}
	}
	long := append(bytes.Clone(data), 0)
	if err := decodeRequest(long, &storedRequest{Session: NewSession("")}); !errors.Is(err, errBadRequestData) {
		t.Fatalf("a row with a trailing byte decoded (err %v)", err)
	}
	huge := []byte{requestFormat1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}
	if err := decodeRequest(huge, &storedRequest{Session: NewSession("")}); !errors.Is(err, errBadRequestData) {
		t.Fatalf("an impossible length decoded (err %v)", err)
	}
	for i := 1; i < len(data); i++ {
		bad := bytes.Clone(data)
		bad[i] ^= 0xa5
		_ = decodeRequest(bad, &storedRequest{Session: NewSession("")}) // must not panic
	}
}

// A binary row cannot be read into a session of another type.
func TestRequestCodecNeedsOwnSession(t *testing.T) {
	data, err := encodeRequest(fullRequest())
	if err != nil {
		t.Fatal(err)
	}
	if err := decodeRequest(data, &storedRequest{Session: &openid.DefaultSession{}}); !errors.Is(err, errBadRequestData) {
		t.Fatalf("decoded into another session type (err %v)", err)
	}
	// A request with another session type is stored as JSON, and reads back.
	other := storedRequest{ID: "r", Session: &openid.DefaultSession{Subject: "s"}}
	data, err = encodeRequest(other)
	if err != nil {
		t.Fatal(err)
	}
	if data[0] != '{' {
		t.Fatalf("another session type was not stored as JSON: %q", data)
	}
	got := storedRequest{Session: &openid.DefaultSession{}}
	if err := decodeRequest(data, &got); err != nil || got.Session.(*openid.DefaultSession).Subject != "s" {
		t.Fatalf("JSON row read as %#v, %v", got.Session, err)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	data, err := encodeRequest(fullRequest())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte{requestFormat1})
	f.Fuzz(func(t *testing.T, data []byte) {
		sr := storedRequest{Session: NewSession("")}
		if decodeRequest(data, &sr) != nil || len(data) == 0 || data[0] != requestFormat1 {
			return
		}
		// What decodes encodes to the same bytes, up to the order the
		// encoder gives maps and lists it keeps.
		again, err := encodeRequest(sr)
		if err != nil {
			t.Fatal(err)
		}
		if sr2 := (storedRequest{Session: NewSession("")}); decodeRequest(again, &sr2) != nil || !reflect.DeepEqual(sr2.Form, sr.Form) || sr2.ID != sr.ID {
			t.Fatalf("a decoded request did not survive another round trip")
		}
	})
}
