package oauth

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/ory/fosite"
)

// A stored request (OAuthRequest.Data) is written once per token and read
// on every use of one: encoding/json spent about 8% of the server's CPU on
// an introspection and 7% on a client-credentials token doing it. The form
// below is a version byte and the fields in a fixed order, each string
// prefixed by its length: no field names, no reflection, and one
// allocation for all the strings of a decoded request.
//
// A row written as JSON (by an earlier version, or for a session of
// another type) starts with '{' and is read as JSON, as before; the
// version byte of this form can never be '{'.
//
// Only the ID token's claims and the headers' extra values, which may hold
// any JSON value and are stored only with the code flow's sessions, stay
// JSON inside the binary form.

// requestFormat1 is the first byte of a request stored in the binary form.
const requestFormat1 = 0x01

// errBadRequestData is a stored request that cannot be decoded.
var errBadRequestData = errors.New("stored request is malformed")

// encodeRequest returns the stored form of sr, whose Session must be the
// *Session to store (anything else is stored as JSON).
func encodeRequest(sr storedRequest) ([]byte, error) {
	sess, ok := sr.Session.(*Session)
	if !ok || sess == nil {
		return json.Marshal(sr)
	}
	stored := sess.stored()
	var claims, headers []byte
	var err error
	if stored.Claims != nil {
		if claims, err = json.Marshal(stored.Claims); err != nil {
			return nil, err
		}
	}
	if stored.HeadersJSON != nil {
		if headers, err = json.Marshal(stored.HeadersJSON.Extra); err != nil {
			return nil, err
		}
	}
	b := make([]byte, 0, 96+len(sr.ID)+len(sr.ClientID)+len(claims)+len(headers))
	b = append(b, requestFormat1)
	b = appendString(b, sr.ID)
	b = appendTime(b, sr.RequestedAt)
	b = appendString(b, sr.ClientID)
	for _, list := range [][]string{sr.RequestedScope, sr.GrantedScope, sr.RequestedAudience, sr.GrantedAudience} {
		b = appendStrings(b, list)
	}
	keys := make([]string, 0, len(sr.Form))
	for k := range sr.Form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendStrings(b, sr.Form[k])
	}
	types := make([]string, 0, len(stored.ExpiresAt))
	for t := range stored.ExpiresAt {
		types = append(types, string(t))
	}
	slices.Sort(types)
	b = binary.AppendUvarint(b, uint64(len(types)))
	for _, t := range types {
		b = appendString(b, t)
		b = appendTime(b, stored.ExpiresAt[fosite.TokenType(t)])
	}
	b = appendString(b, stored.Username)
	b = appendString(b, stored.Subject)
	b = appendString(b, stored.Origin)
	b = appendTime(b, stored.BeganAt)
	b = appendString(b, stored.AppPasswordID)
	b = appendBytes(b, claims)
	b = appendBytes(b, headers)
	return b, nil
}

// decodeRequest reads data (either form) into sr, whose Session holds the
// session prototype to decode into.
func decodeRequest(data []byte, sr *storedRequest) error {
	if len(data) == 0 || data[0] != requestFormat1 {
		return json.Unmarshal(data, sr)
	}
	sess, ok := sr.Session.(*Session)
	if !ok || sess == nil {
		return fmt.Errorf("%w: a session of type %T cannot hold it", errBadRequestData, sr.Session)
	}
	d := decoder{s: string(data[1:])}
	sr.ID = d.string()
	sr.RequestedAt = d.time()
	sr.ClientID = d.string()
	sr.RequestedScope = d.strings()
	sr.GrantedScope = d.strings()
	sr.RequestedAudience = d.strings()
	sr.GrantedAudience = d.strings()
	if n := d.count(); n > 0 {
		sr.Form = make(url.Values, n)
		for range n {
			k := d.string()
			sr.Form[k] = d.strings()
		}
	}
	var in storedSession
	if n := d.count(); n > 0 {
		in.ExpiresAt = make(map[fosite.TokenType]time.Time, n)
		for range n {
			t := d.string()
			in.ExpiresAt[fosite.TokenType(t)] = d.time()
		}
	}
	in.Username = d.string()
	in.Subject = d.string()
	in.Origin = d.string()
	in.BeganAt = d.time()
	in.AppPasswordID = d.string()
	claims, headers := d.string(), d.string()
	if d.err != nil {
		return d.err
	}
	if d.s != "" {
		return fmt.Errorf("%w: %d bytes after the last field", errBadRequestData, len(d.s))
	}
	if claims != "" {
		in.Claims = &storedClaims{}
		if err := json.Unmarshal([]byte(claims), in.Claims); err != nil {
			return fmt.Errorf("%w: claims: %w", errBadRequestData, err)
		}
	}
	if headers != "" {
		in.HeadersJSON = &storedHeaders{}
		if err := json.Unmarshal([]byte(headers), &in.HeadersJSON.Extra); err != nil {
			return fmt.Errorf("%w: headers: %w", errBadRequestData, err)
		}
	}
	sess.load(in)
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendStrings writes a list; an empty list reads back as nil.
func appendStrings(b []byte, list []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(list)))
	for _, s := range list {
		b = appendString(b, s)
	}
	return b
}

// appendTime writes t's instant (seconds and nanoseconds since 1970); it
// reads back in UTC, and the zero time reads back as the zero time.
func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// decoder reads the binary form from s; the strings it returns share s's
// memory. The first error sticks, and every later read returns zero.
type decoder struct {
	s   string
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated %s", errBadRequestData, what)
	}
	d.s = ""
}

func (d *decoder) uvarint(what string) uint64 {
	var v uint64
	for i := 0; i < len(d.s) && i < binary.MaxVarintLen64 && d.err == nil; i++ {
		c := d.s[i]
		if i == binary.MaxVarintLen64-1 && c > 1 {
			break // overflows 64 bits
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			d.s = d.s[i+1:]
			return v
		}
	}
	d.fail(what)
	return 0
}

// count reads a number of items that each take at least one byte, so a
// corrupt count cannot ask for more memory than the row has.
func (d *decoder) count() int {
	n := d.uvarint("count")
	if n > uint64(len(d.s)) {
		d.fail("list")
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.uvarint("length")
	if n > uint64(len(d.s)) {
		d.fail("string")
		return ""
	}
	s := d.s[:n]
	d.s = d.s[n:]
	return s
}

func (d *decoder) strings() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.string()
	}
	return out
}

func (d *decoder) time() time.Time {
	u := d.uvarint("time")
	sec := int64(u >> 1) // zigzag, as binary.AppendVarint writes
	if u&1 != 0 {
		sec = ^sec
	}
	nsec := d.uvarint("time")
	if d.err != nil || nsec >= uint64(time.Second) {
		d.fail("time")
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}
