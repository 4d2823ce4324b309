// Command limit is the "limit server" that scripts/perf.sh runs beside
// authgate: the least a server on the same stack (net/http, PostgreSQL
// through pgx's database/sql driver, HMAC-SHA256 client secrets, argon2id
// passwords, hashed over reused memory as authgate hashes them) can do to
// answer the same requests. authgate's throughput
// divided by the limit server's, measured in the same run, is how far
// authgate's own overhead keeps it from the machine's limit.
//
// It is a measuring tool, not a server to deploy: one client, one user,
// no expiry janitor, no revocation, no logging.
//
//	POST /token        client_credentials or password: HMAC client check,
//	                   (argon2id for password), 32 random bytes, one INSERT
//	POST /introspect   HMAC client check, one SELECT by key
//	GET  /.well-known/openid-configuration, /.well-known/jwks.json
//	                   static bytes (the JWKS copied from authgate, so the
//	                   answer has the same size)
//
// It is never built into the authgate binary.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/minio/argon2"
)

// config is what one limit server serves.
type config struct {
	listen       string
	databaseURL  string
	maxConns     int
	clientID     string
	clientSecret string
	username     string
	password     string
	argonTime    uint32
	argonMemKiB  uint32
	argonThreads uint8
	argonSlots   int
	jwksFrom     string
	discFrom     string
}

func main() {
	var c config
	flag.StringVar(&c.listen, "listen", "127.0.0.1:18090", "address to listen on")
	flag.StringVar(&c.databaseURL, "database-url", os.Getenv("LIMIT_DATABASE_URL"), "PostgreSQL URL (the limit_tokens table is created if missing)")
	flag.IntVar(&c.maxConns, "max-conns", 20, "database pool size (authgate's AUTHGATE_DB_MAX_OPEN_CONNS default)")
	flag.StringVar(&c.clientID, "client-id", "limit", "the one client's id")
	flag.StringVar(&c.username, "username", "perf", "the one user's name for the password grant")
	flag.StringVar(&c.jwksFrom, "jwks-from", "", "URL of a JWKS to serve as static bytes (authgate's, for an answer of the same size)")
	flag.StringVar(&c.discFrom, "discovery-from", "", "URL of a discovery document to serve as static bytes (authgate's; then give the load tool --token-url and --introspect-url)")
	argonTime := flag.Uint("argon2-time", 1, "argon2id passes (authgate's default)")
	argonMem := flag.Uint("argon2-memory-kib", 64*1024, "argon2id memory in KiB (authgate's default)")
	argonThreads := flag.Uint("argon2-threads", 2, "argon2id lanes (authgate's default)")
	flag.IntVar(&c.argonSlots, "argon2-concurrency", 0, "hashes at once; 0 means the number of CPUs")
	flag.Parse()
	c.argonTime, c.argonMemKiB, c.argonThreads = uint32(*argonTime), uint32(*argonMem), uint8(*argonThreads)
	// Secrets come from the environment, never the command line (ps shows it).
	c.clientSecret = os.Getenv("LIMIT_CLIENT_SECRET")
	c.password = os.Getenv("LIMIT_PASSWORD")
	if c.databaseURL == "" || c.clientSecret == "" {
		fmt.Fprintln(os.Stderr, "limit: need --database-url (or LIMIT_DATABASE_URL) and LIMIT_CLIENT_SECRET in the environment")
		os.Exit(2)
	}
	ctx := context.Background()
	srv, err := newServer(ctx, c)
	if err != nil {
		log.Fatalf("limit: %v", err)
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		log.Fatalf("limit: %v", err)
	}
	log.Printf("limit server on http://%s", ln.Addr())
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(hs.Serve(ln))
}

// server answers the limit endpoints.
type server struct {
	db        *sql.DB
	clientID  string
	clientMAC []byte // HMAC-SHA256 of the client secret under key
	key       []byte
	username  string
	pwSalt    []byte
	pwKey     []byte
	argon     config
	// idKey is argon2id over reused memory, as authgate hashes.
	idKey     func(password, salt, secret, data []byte, keyLen uint32) []byte
	slots     chan struct{}
	discovery []byte
	jwks      []byte
	mux       *http.ServeMux
}

func newServer(ctx context.Context, c config) (*server, error) {
	db, err := sql.Open("pgx", c.databaseURL)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(c.maxConns)
	db.SetMaxIdleConns(c.maxConns)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS limit_tokens (
		signature text PRIMARY KEY,
		client_id text NOT NULL,
		subject text NOT NULL,
		expires_at timestamptz NOT NULL)`); err != nil {
		return nil, fmt.Errorf("create limit_tokens: %w", err)
	}
	s := &server{db: db, clientID: c.clientID, username: c.username, argon: c}
	s.key = make([]byte, 32)
	if _, err := rand.Read(s.key); err != nil {
		return nil, err
	}
	s.clientMAC = s.mac(c.clientSecret)
	if c.password != "" {
		s.pwSalt = make([]byte, 16)
		if _, err := rand.Read(s.pwSalt); err != nil {
			return nil, err
		}
		s.idKey = argon2.NewIDKey(c.argonTime, c.argonMemKiB, c.argonThreads)
		s.pwKey = s.idKey([]byte(c.password), s.pwSalt, nil, nil, 32)
	}
	n := c.argonSlots
	if n <= 0 {
		n = runtime.NumCPU()
	}
	s.slots = make(chan struct{}, n)
	if s.jwks, err = fetchStatic(ctx, c.jwksFrom, `{"keys":[]}`); err != nil {
		return nil, err
	}
	issuer := "http://" + c.listen
	own, _ := json.Marshal(map[string]any{
		"issuer":                 issuer,
		"token_endpoint":         issuer + "/token",
		"introspection_endpoint": issuer + "/introspect",
		"jwks_uri":               issuer + "/.well-known/jwks.json",
		"grant_types_supported":  []string{"client_credentials", "password"},
	})
	if s.discovery, err = fetchStatic(ctx, c.discFrom, string(own)); err != nil {
		return nil, err
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /.well-known/openid-configuration", s.static(s.discovery))
	s.mux.HandleFunc("GET /.well-known/jwks.json", s.static(s.jwks))
	s.mux.HandleFunc("POST /token", s.token)
	s.mux.HandleFunc("POST /introspect", s.introspect)
	return s, nil
}

// fetchStatic returns the document at from, or def when from is empty.
func fetchStatic(ctx context.Context, from, def string) ([]byte, error) {
	if from == "" {
		return []byte(def), nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, from, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", from, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch %s: HTTP %d", from, resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *server) mac(secret string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

func (s *server) static(b []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(b)
	}
}

// client checks the Basic credentials (or the form's, RFC 6749 §2.3.1).
func (s *server) client(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	return id == s.clientID && hmac.Equal(s.mac(secret), s.clientMAC)
}

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"error":%q}`, code)
}

func (s *server) token(w http.ResponseWriter, r *http.Request) {
	if !s.client(r) {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	subject := s.clientID
	switch r.PostFormValue("grant_type") {
	case "client_credentials":
	case "password":
		if !s.checkPassword(r.Context(), r.PostFormValue("username"), r.PostFormValue("password")) {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		subject = s.username
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error")
		return
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	if _, err := s.db.ExecContext(r.Context(),
		`INSERT INTO limit_tokens (signature, client_id, subject, expires_at) VALUES ($1, $2, $3, $4)`,
		token, s.clientID, subject, time.Now().Add(time.Hour)); err != nil {
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":3600}`, token)
}

// checkPassword costs one argon2id verification, at most len(slots) at once,
// as authgate's hasher does.
func (s *server) checkPassword(ctx context.Context, username, password string) bool {
	if s.pwKey == nil {
		return false
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	defer func() { <-s.slots }()
	got := s.idKey([]byte(password), s.pwSalt, nil, nil, 32)
	return subtle.ConstantTimeCompare(got, s.pwKey) == 1 && username == s.username
}

func (s *server) introspect(w http.ResponseWriter, r *http.Request) {
	if !s.client(r) {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	var clientID, subject string
	var exp time.Time
	err := s.db.QueryRowContext(r.Context(),
		`SELECT client_id, subject, expires_at FROM limit_tokens WHERE signature = $1`,
		r.PostFormValue("token")).Scan(&clientID, &subject, &exp)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case errors.Is(err, sql.ErrNoRows) || (err == nil && time.Now().After(exp)):
		_, _ = w.Write([]byte(`{"active":false}`))
	case err != nil:
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable")
	default:
		_, _ = fmt.Fprintf(w, `{"active":true,"client_id":%q,"sub":%q,"exp":%s}`,
			clientID, subject, strconv.FormatInt(exp.Unix(), 10))
	}
}
