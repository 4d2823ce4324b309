package loadtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// userAgent identifies the load in the server's logs.
const userAgent = "authgate-bench/1"

// maxBody bounds how much of one response is read.
const maxBody = 4 << 20

var errTooLarge = errors.New("response body larger than 4 MiB")

// target is the server under load and how to reach it; every worker
// shares it, and with it one keep-alive connection pool.
type target struct {
	cfg       Config // endpoints filled in by resolve
	discovery string
	transport *http.Transport
	client    *http.Client // shared by workers without cookies; follows no redirects
	auth      string       // Authorization header authenticating the client; "" for a public client
}

func newTarget(cfg Config) *target {
	tr := &http.Transport{
		Proxy:             cfg.Proxy,
		DialContext:       (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2: true,
		// Every worker has at most one request in flight: with an idle slot
		// per worker no connection is ever closed for lack of room, so the
		// load measures requests, not TCP (and TLS) handshakes.
		MaxIdleConns:          max(100, 2*cfg.Concurrency),
		MaxIdleConnsPerHost:   max(cfg.Concurrency, 2),
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.Timeout,
		ExpectContinueTimeout: time.Second,
	}
	t := &target{cfg: cfg, transport: tr}
	t.client = t.newClient(nil)
	if cfg.ClientSecret != "" {
		t.auth = basicAuth(cfg.ClientID, cfg.ClientSecret)
	}
	return t
}

// newClient returns a client on the shared transport that returns
// redirects instead of following them.
func (t *target) newClient(jar http.CookieJar) *http.Client {
	return &http.Client{
		Transport:     t.transport,
		Jar:           jar,
		Timeout:       t.cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// basicAuth encodes client credentials the way RFC 6749 section 2.3.1
// asks: each part form-urlencoded before the Basic encoding.
func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// resolve fills in the endpoints the scenario needs that were not given
// explicitly, from the discovery document.
func (t *target) resolve(ctx context.Context) error {
	t.discovery = t.cfg.DiscoveryURL
	if t.discovery == "" && t.cfg.Issuer != "" {
		t.discovery = strings.TrimSuffix(t.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	}
	var missing []endpointField
	for _, e := range t.cfg.neededEndpoints() {
		if *e.explicit(&t.cfg) == "" {
			missing = append(missing, e)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	meta, from, err := t.metadata(ctx)
	if err != nil {
		return err
	}
	for _, e := range missing {
		v, _ := meta[e.doc].(string)
		if v == "" {
			return fmt.Errorf("the discovery document at %s has no %s; give the %s explicitly", from, e.doc, e.name)
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("the discovery document at %s has an invalid %s %q", from, e.doc, v)
		}
		*e.explicit(&t.cfg) = v
	}
	return nil
}

// metadata gets the provider's metadata: the OpenID configuration, or,
// when only the issuer was given and that is missing, the RFC 8414
// authorization server metadata.
func (t *target) metadata(ctx context.Context) (map[string]any, string, error) {
	urls := []string{t.discovery}
	if t.cfg.DiscoveryURL == "" {
		if u, err := url.Parse(strings.TrimSuffix(t.cfg.Issuer, "/")); err == nil {
			u.Path = "/.well-known/oauth-authorization-server" + u.Path
			urls = append(urls, u.String())
		}
	}
	var buf bytes.Buffer
	var lastErr error
	for _, u := range urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, u, err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := roundTrip(t.client, req, &buf)
		if err != nil {
			return nil, u, fmt.Errorf("discovery: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			lastErr = fmt.Errorf("discovery: GET %s: HTTP %d", u, resp.StatusCode)
			continue
		}
		var meta map[string]any
		if err := json.Unmarshal(buf.Bytes(), &meta); err != nil {
			return nil, u, fmt.Errorf("discovery: %s is not a JSON object: %w", u, err)
		}
		return meta, u, nil
	}
	return nil, "", lastErr
}

// workers prepares cfg.Concurrency workers for the scenario, getting the
// tokens it starts from, and returns the endpoint under load.
func (t *target) workers(ctx context.Context) (string, []worker, error) {
	c := t.cfg
	ws := make([]worker, c.Concurrency)
	each := func(fn func() worker) {
		for i := range ws {
			ws[i] = fn()
		}
	}
	switch c.Scenario {
	case ClientCredentials:
		form := t.clientCredentialsForm()
		each(func() worker { return &tokenWorker{t: t, form: form} })
		return c.TokenURL, ws, nil

	case Password:
		form := t.passwordForm()
		each(func() worker { return &tokenWorker{t: t, form: form} })
		return c.TokenURL, ws, nil

	case Introspect:
		var buf bytes.Buffer
		tok, o := t.token(ctx, t.client, t.clientCredentialsForm(), &buf)
		if !o.ok() {
			return "", nil, fmt.Errorf("get an access token to introspect (client_credentials grant at %s): %s", c.TokenURL, o)
		}
		form := url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}.Encode()
		each(func() worker { return &introspectWorker{t: t, form: form} })
		return c.IntrospectURL, ws, nil

	case Refresh:
		each(func() worker {
			w := &refreshWorker{t: t}
			if c.Flow == FlowCode {
				w.acquire = t.newCodeWorker(false).flow
			} else {
				form := t.passwordForm()
				w.acquire = func(ctx context.Context) (tokenResponse, outcome) {
					return t.token(ctx, t.client, form, &w.buf)
				}
			}
			return w
		})
		// Every worker needs a refresh token of its own: a rotated token
		// shared between workers would be reused, which revokes it.
		flow := c.Flow
		if flow == "" {
			flow = FlowPassword
		}
		if err := prepareAll(ctx, ws); err != nil {
			return "", nil, fmt.Errorf("get a refresh token (%s flow): %w", flow, err)
		}
		return c.TokenURL, ws, nil

	case AuthorizationCode:
		each(func() worker { return t.newCodeWorker(c.ReuseSession) })
		return c.AuthorizeURL, ws, nil

	case Device:
		each(func() worker { return t.newDeviceWorker(c.ReuseSession) })
		return c.DeviceAuthorizeURL, ws, nil

	case JWKS:
		each(func() worker { return &getWorker{t: t, url: c.JWKSURL} })
		return c.JWKSURL, ws, nil

	case Discovery:
		each(func() worker { return &getWorker{t: t, url: t.discovery} })
		return t.discovery, ws, nil
	}
	return "", nil, fmt.Errorf("unknown scenario %q", c.Scenario)
}

// prepareAll prepares every worker that needs it, concurrently.
func prepareAll(ctx context.Context, ws []worker) error {
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		p, ok := w.(preparer)
		if !ok {
			continue
		}
		wg.Go(func() {
			if o := p.prepare(ctx); !o.ok() {
				errs[i] = errors.New(o.String())
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// form encodes a token or introspection request, naming the client in
// the body when it is public (it has no secret to authenticate with).
func (t *target) form(v url.Values) string {
	if t.auth == "" {
		v.Set("client_id", t.cfg.ClientID)
	}
	return v.Encode()
}

// grantForm encodes a request for a new grant, with the scope asked for.
func (t *target) grantForm(v url.Values) string {
	if t.cfg.Scope != "" {
		v.Set("scope", t.cfg.Scope)
	}
	return t.form(v)
}

func (t *target) clientCredentialsForm() string {
	return t.grantForm(url.Values{"grant_type": {"client_credentials"}})
}

func (t *target) passwordForm() string {
	return t.grantForm(url.Values{"grant_type": {"password"}, "username": {t.cfg.Username}, "password": {t.cfg.Password}})
}

// roundTrip sends req, reads the whole response body into buf and closes
// it, so the connection goes back to the pool for the next request.
func roundTrip(c *http.Client, req *http.Request, buf *bytes.Buffer) (*http.Response, error) {
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxBody+1)); err != nil {
		return nil, err
	}
	if buf.Len() > maxBody {
		return resp, errTooLarge
	}
	return resp, nil
}

// post sends a form with the client's credentials.
func (t *target) post(ctx context.Context, c *http.Client, endpoint, form string, buf *bytes.Buffer) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if t.auth != "" {
		req.Header.Set("Authorization", t.auth)
	}
	return roundTrip(c, req, buf)
}

// tokenResponse holds the members of a token response bench uses.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// token posts form to the token endpoint and checks the response carries
// an access token.
func (t *target) token(ctx context.Context, c *http.Client, form string, buf *bytes.Buffer) (tokenResponse, outcome) {
	resp, err := t.post(ctx, c, t.cfg.TokenURL, form, buf)
	if err != nil {
		return tokenResponse{}, failure(err)
	}
	if !success(resp) {
		return tokenResponse{}, statusFailure(resp, buf.Bytes())
	}
	var tok tokenResponse
	if err := json.Unmarshal(buf.Bytes(), &tok); err != nil {
		return tokenResponse{}, outcome{protocol: "token response is not JSON"}
	}
	if tok.AccessToken == "" {
		return tokenResponse{}, outcome{protocol: "token response without access_token"}
	}
	return tok, outcome{}
}

func success(resp *http.Response) bool { return resp.StatusCode >= 200 && resp.StatusCode < 300 }

// failure classifies an error from roundTrip.
func failure(err error) outcome {
	if errors.Is(err, errTooLarge) {
		return outcome{protocol: "response body larger than 4 MiB"}
	}
	return outcome{transport: transportKind(err)}
}

// transportKind names the kind of a transport error, from a short fixed
// list so the counts stay readable.
func transportKind(err error) string {
	var netErr net.Error
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.As(err, &certErr):
		return "tls certificate"
	}
	return "other"
}

// statusFailure is a response with an unexpected status, with the OAuth
// error code it carries.
func statusFailure(resp *http.Response, body []byte) outcome {
	return outcome{status: resp.StatusCode, oauthError: oauthError(resp.Header, body)}
}

// oauthError returns the OAuth error code of an error response: the
// "error" member of a JSON body (RFC 6749 section 5.2), else the error
// attribute of a Bearer challenge (RFC 6750 section 3).
func oauthError(h http.Header, body []byte) string {
	var e struct {
		Error any `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil {
		if s, ok := e.Error.(string); ok {
			return errorCode(s)
		}
	}
	for _, v := range h.Values("WWW-Authenticate") {
		if _, rest, ok := strings.Cut(v, `error="`); ok {
			if code, _, ok := strings.Cut(rest, `"`); ok {
				return errorCode(code)
			}
		}
	}
	return ""
}

// errorCode accepts an error code made of the characters RFC 6749 allows
// and of a sane length, so a misbehaving server cannot fill the report.
func errorCode(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > 64 {
		return "(invalid error code)"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c > 0x7e {
			return "(invalid error code)"
		}
	}
	return s
}

// tokenWorker posts one fixed token request per iteration.
type tokenWorker struct {
	t    *target
	form string
	buf  bytes.Buffer
}

func (w *tokenWorker) do(ctx context.Context) outcome {
	_, o := w.t.token(ctx, w.t.client, w.form, &w.buf)
	return o
}

// introspectWorker introspects one access token per iteration and expects
// it to be active.
type introspectWorker struct {
	t    *target
	form string
	buf  bytes.Buffer
}

func (w *introspectWorker) do(ctx context.Context) outcome {
	resp, err := w.t.post(ctx, w.t.client, w.t.cfg.IntrospectURL, w.form, &w.buf)
	if err != nil {
		return failure(err)
	}
	if !success(resp) {
		return statusFailure(resp, w.buf.Bytes())
	}
	var r struct {
		Active bool `json:"active"`
	}
	if err := json.Unmarshal(w.buf.Bytes(), &r); err != nil {
		return outcome{protocol: "introspection response is not JSON"}
	}
	if !r.Active {
		return outcome{protocol: "token introspected as inactive"}
	}
	return outcome{}
}

// refreshWorker exchanges its current refresh token per iteration and
// keeps the one the server rotates it to.
type refreshWorker struct {
	t       *target
	acquire func(ctx context.Context) (tokenResponse, outcome)
	current string
	buf     bytes.Buffer
}

// prepare gets a refresh token when the worker has none: at the start,
// and after a failure, since the server may have rotated or revoked the
// token without the worker seeing the answer.
func (w *refreshWorker) prepare(ctx context.Context) outcome {
	if w.current != "" {
		return outcome{}
	}
	tok, o := w.acquire(ctx)
	if !o.ok() {
		return o
	}
	if tok.RefreshToken == "" {
		return outcome{protocol: "no refresh_token in the token response (ask for one with a scope such as offline_access)"}
	}
	w.current = tok.RefreshToken
	return outcome{}
}

func (w *refreshWorker) do(ctx context.Context) outcome {
	form := w.t.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {w.current}})
	tok, o := w.t.token(ctx, w.t.client, form, &w.buf)
	if !o.ok() {
		w.current = ""
		return o
	}
	// A server that does not rotate returns no new refresh token
	// (RFC 6749 section 6): the current one stays valid.
	if tok.RefreshToken != "" {
		w.current = tok.RefreshToken
	}
	return outcome{}
}

// getWorker gets one document per iteration and reads it whole.
type getWorker struct {
	t   *target
	url string
	buf bytes.Buffer
}

func (w *getWorker) do(ctx context.Context) outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.url, nil)
	if err != nil {
		return outcome{protocol: "bad URL"}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := roundTrip(w.t.client, req, &w.buf)
	if err != nil {
		return failure(err)
	}
	if !success(resp) {
		return statusFailure(resp, w.buf.Bytes())
	}
	// A cheap look at the shape rather than a full JSON parse: on a small
	// machine the load tool shares the CPU with the server, and parsing a
	// metadata document would cost more than the server spends serving it.
	if b := bytes.TrimSpace(w.buf.Bytes()); len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return outcome{protocol: "response is not a JSON object"}
	}
	return outcome{}
}
