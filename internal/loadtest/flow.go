package loadtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// maxFlowSteps bounds the HTTP requests of one authorization: redirects,
// the login form and the consent form.
const maxFlowSteps = 12

// codeWorker runs the authorization-code flow as a browser would, with a
// cookie jar of its own.
type codeWorker struct {
	t        *target
	client   *http.Client
	reuse    bool // keep the cookies (the signed-in session) between flows
	redirect *url.URL
	buf      bytes.Buffer
}

func (t *target) newCodeWorker(reuse bool) *codeWorker {
	// RedirectURI was checked by Validate.
	redirect, _ := url.Parse(t.cfg.RedirectURI)
	return &codeWorker{t: t, client: t.newClient(newJar()), reuse: reuse, redirect: redirect}
}

func newJar() http.CookieJar {
	jar, _ := cookiejar.New(nil) // never fails without options
	return jar
}

func (w *codeWorker) do(ctx context.Context) outcome {
	_, o := w.flow(ctx)
	return o
}

// flow authorizes and exchanges the code for tokens.
func (w *codeWorker) flow(ctx context.Context) (tokenResponse, outcome) {
	if !w.reuse {
		w.client.Jar = newJar()
	}
	verifier := randomString(32)
	code, o := w.authorize(ctx, verifier)
	if !o.ok() {
		return tokenResponse{}, o
	}
	form := w.t.form(url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {w.t.cfg.RedirectURI},
		"code_verifier": {verifier},
	})
	return w.t.token(ctx, w.client, form, &w.buf)
}

// authorize sends the authorization request with a PKCE S256 challenge
// and follows it through the login and consent forms to the redirect to
// the client, which it does not follow: it returns the code instead.
func (w *codeWorker) authorize(ctx context.Context, verifier string) (string, outcome) {
	sum := sha256.Sum256([]byte(verifier))
	state := randomString(16)
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {w.t.cfg.ClientID},
		"redirect_uri":          {w.t.cfg.RedirectURI},
		"state":                 {state},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	if w.t.cfg.Scope != "" {
		q.Set("scope", w.t.cfg.Scope)
		if hasScope(w.t.cfg.Scope, "openid") {
			q.Set("nonce", randomString(16))
		}
	}
	sep := "?"
	if strings.Contains(w.t.cfg.AuthorizeURL, "?") {
		sep = "&"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.t.cfg.AuthorizeURL+sep+q.Encode(), nil)
	if err != nil {
		return "", outcome{protocol: "bad authorization URL"}
	}
	signedIn, consented := false, false
	for range maxFlowSteps {
		resp, err := roundTrip(w.client, req, &w.buf)
		if err != nil {
			return "", failure(err)
		}
		switch {
		case isRedirect(resp.StatusCode):
			loc, err := resp.Location()
			if err != nil {
				return "", outcome{protocol: "redirect without a valid Location"}
			}
			if w.isCallback(loc) {
				return callback(resp.StatusCode, loc, state)
			}
			method, body := http.MethodGet, ""
			if (resp.StatusCode == http.StatusTemporaryRedirect || resp.StatusCode == http.StatusPermanentRedirect) && req.Method == http.MethodPost {
				method, body = http.MethodPost, lastForm(req)
			}
			if req, err = newFormRequest(ctx, method, loc.String(), body); err != nil {
				return "", outcome{protocol: "bad redirect URL"}
			}
		case resp.StatusCode == http.StatusOK:
			forms := parseForms(w.buf.Bytes())
			if f, ok := loginForm(forms); ok {
				if signedIn {
					return "", outcome{protocol: "login form shown again after signing in"}
				}
				signedIn = true
				v := f.values()
				v.Set(f.user, w.t.cfg.Username)
				v.Set(f.password, w.t.cfg.Password)
				if req, err = f.request(ctx, resp.Request.URL, v); err != nil {
					return "", outcome{protocol: "bad login form action"}
				}
				continue
			}
			f, submit, ok := consentForm(forms)
			if !ok {
				return "", outcome{protocol: "page without a login or consent form"}
			}
			if consented {
				return "", outcome{protocol: "consent form shown again after allowing"}
			}
			consented = true
			v := f.values()
			v.Set(submit.name, submit.value)
			if req, err = f.request(ctx, resp.Request.URL, v); err != nil {
				return "", outcome{protocol: "bad consent form action"}
			}
		default:
			return "", statusFailure(resp, w.buf.Bytes())
		}
	}
	return "", outcome{protocol: "no redirect to the client after too many steps"}
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// isCallback reports whether loc is the client's redirect URI (query
// aside), where the flow ends.
func (w *codeWorker) isCallback(loc *url.URL) bool {
	r := w.redirect
	return strings.EqualFold(loc.Scheme, r.Scheme) && strings.EqualFold(loc.Host, r.Host) && loc.Path == r.Path && loc.Opaque == r.Opaque
}

// callback reads the authorization response off the redirect to the
// client: an error, or a code with the state the request sent.
func callback(status int, loc *url.URL, state string) (string, outcome) {
	q := loc.Query()
	if e := q.Get("error"); e != "" {
		return "", outcome{status: status, oauthError: errorCode(e)}
	}
	if q.Get("state") != state {
		return "", outcome{protocol: "state in the redirect does not match"}
	}
	code := q.Get("code")
	if code == "" {
		return "", outcome{protocol: "redirect to the client without a code"}
	}
	return code, outcome{}
}

func lastForm(req *http.Request) string {
	if req.GetBody == nil {
		return ""
	}
	r, err := req.GetBody()
	if err != nil {
		return ""
	}
	var b bytes.Buffer
	_, _ = b.ReadFrom(r)
	return b.String()
}

func newFormRequest(ctx context.Context, method, target, form string) (*http.Request, error) {
	if method == http.MethodGet {
		return http.NewRequestWithContext(ctx, method, target, nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, strings.NewReader(form))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// randomString returns n random bytes, base64url-encoded: 32 bytes make a
// 43-character PKCE verifier (RFC 7636 section 4.1).
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hasScope(scope, want string) bool {
	for s := range strings.FieldsSeq(scope) {
		if s == want {
			return true
		}
	}
	return false
}

// field is one name and value a form submits.
type field struct{ name, value string }

// htmlForm is what a browser would submit from one <form>.
type htmlForm struct {
	action, method string
	fields         []field // hidden inputs, checked boxes, other prefilled inputs
	user, password string  // names of the first text and password inputs
	submits        []field // named submit buttons
}

func (f htmlForm) values() url.Values {
	v := url.Values{}
	for _, fl := range f.fields {
		v.Add(fl.name, fl.value)
	}
	return v
}

// request builds the form's submission from the page at base.
func (f htmlForm) request(ctx context.Context, base *url.URL, v url.Values) (*http.Request, error) {
	action, err := base.Parse(f.action) // an empty action is the page itself
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(f.method, http.MethodPost) {
		return newFormRequest(ctx, http.MethodPost, action.String(), v.Encode())
	}
	action.RawQuery = v.Encode()
	return newFormRequest(ctx, http.MethodGet, action.String(), "")
}

// parseForms returns the forms of an HTML page.
func parseForms(page []byte) []htmlForm {
	var forms []htmlForm
	cur := -1
	z := html.NewTokenizer(bytes.NewReader(page))
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return forms
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "form" {
				cur = -1
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			if tag != "form" && tag != "input" && tag != "button" {
				continue
			}
			attrs := map[string]string{}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				if _, dup := attrs[string(k)]; !dup {
					attrs[string(k)] = string(v)
				}
			}
			if tag == "form" {
				forms = append(forms, htmlForm{action: attrs["action"], method: attrs["method"]})
				cur = len(forms) - 1
				continue
			}
			if cur < 0 {
				continue
			}
			f := &forms[cur]
			n := attrs["name"]
			_, disabled := attrs["disabled"]
			if n == "" || disabled {
				continue
			}
			typ := strings.ToLower(attrs["type"])
			if tag == "button" {
				if typ == "" || typ == "submit" {
					f.submits = append(f.submits, field{n, attrs["value"]})
				}
				continue
			}
			switch typ {
			case "password":
				if f.password == "" {
					f.password = n
				}
			case "", "text", "email", "tel":
				if f.user == "" {
					f.user = n
				} else {
					f.fields = append(f.fields, field{n, attrs["value"]})
				}
			case "submit", "image":
				f.submits = append(f.submits, field{n, attrs["value"]})
			case "checkbox", "radio":
				if _, checked := attrs["checked"]; checked {
					v, ok := attrs["value"]
					if !ok {
						v = "on"
					}
					f.fields = append(f.fields, field{n, v})
				}
			case "button", "reset", "file":
			default: // hidden and the other value-carrying types
				f.fields = append(f.fields, field{n, attrs["value"]})
			}
		}
	}
}

// loginForm returns the first form with a password input.
func loginForm(forms []htmlForm) (htmlForm, bool) {
	for _, f := range forms {
		if f.password != "" {
			if f.user == "" {
				f.user = "username"
			}
			return f, true
		}
	}
	return htmlForm{}, false
}

// allowValue matches the submit button that grants a consent request.
var allowValue = regexp.MustCompile(`(?i)^(allow|accept|approve|authori[sz]e|grant|consent|yes|continue|ok)$`)

// consentForm returns the form that grants consent and the submit button
// to press: a button whose value or name says allow, or, on a page with
// a single form and no such button, consent=allow.
func consentForm(forms []htmlForm) (htmlForm, field, bool) {
	for _, f := range forms {
		for _, s := range f.submits {
			if allowValue.MatchString(s.value) || (s.value == "" && allowValue.MatchString(s.name)) {
				return f, s, true
			}
		}
	}
	if len(forms) == 1 && forms[0].password == "" {
		return forms[0], field{"consent", "allow"}, true
	}
	return htmlForm{}, field{}, false
}
