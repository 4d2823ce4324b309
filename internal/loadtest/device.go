package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// deviceAuthorizeEndpoint is the RFC 8628 device authorization endpoint.
var deviceAuthorizeEndpoint = endpointField{"device authorization endpoint", "device_authorization_endpoint", func(c *Config) *string { return &c.DeviceAuthorizeURL }}

// deviceWorker runs the device authorization grant (RFC 8628) per
// iteration, playing both sides: the device asks for a code, the person
// opens verification_uri_complete in a browser (cookie jar of its own),
// signs in on the login form, submits the code on the entry form and
// approves on the confirmation form, and the device then polls once for
// its tokens.
type deviceWorker struct {
	t      *target
	client *http.Client
	reuse  bool
	buf    bytes.Buffer
}

func (t *target) newDeviceWorker(reuse bool) *deviceWorker {
	return &deviceWorker{t: t, client: t.newClient(newJar()), reuse: reuse}
}

// deviceAuthorization holds the members of RFC 8628's response bench uses.
type deviceAuthorization struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
}

func (w *deviceWorker) do(ctx context.Context) outcome {
	if !w.reuse {
		w.client.Jar = newJar()
	}
	resp, err := w.t.post(ctx, w.client, w.t.cfg.DeviceAuthorizeURL, w.t.grantForm(url.Values{}), &w.buf)
	if err != nil {
		return failure(err)
	}
	if !success(resp) {
		return statusFailure(resp, w.buf.Bytes())
	}
	var da deviceAuthorization
	if err := json.Unmarshal(w.buf.Bytes(), &da); err != nil || da.DeviceCode == "" || da.UserCode == "" || da.VerificationURI == "" {
		return outcome{protocol: "device authorization response without device_code, user_code or verification_uri"}
	}
	if o := w.approve(ctx, da); !o.ok() {
		return o
	}
	form := w.t.form(url.Values{"grant_type": {DeviceGrantType}, "device_code": {da.DeviceCode}})
	_, o := w.t.token(ctx, w.client, form, &w.buf)
	return o
}

// DeviceGrantType is the device authorization grant's grant type.
const DeviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"

// approve goes through the verification pages as a person would, until
// the page after the approval.
func (w *deviceWorker) approve(ctx context.Context, da deviceAuthorization) outcome {
	start := da.VerificationURIComplete
	if start == "" {
		start = da.VerificationURI
	}
	req, err := newFormRequest(ctx, http.MethodGet, start, "")
	if err != nil {
		return outcome{protocol: "bad verification URI"}
	}
	signedIn, entered, approved := false, false, false
	for range maxFlowSteps {
		resp, err := roundTrip(w.client, req, &w.buf)
		if err != nil {
			return failure(err)
		}
		switch {
		case isRedirect(resp.StatusCode):
			loc, err := resp.Location()
			if err != nil {
				return outcome{protocol: "redirect without a valid Location"}
			}
			if req, err = newFormRequest(ctx, http.MethodGet, loc.String(), ""); err != nil {
				return outcome{protocol: "bad redirect URL"}
			}
		case resp.StatusCode == http.StatusOK && approved:
			return outcome{}
		case resp.StatusCode == http.StatusOK:
			forms := parseForms(w.buf.Bytes())
			if f, ok := loginForm(forms); ok {
				if signedIn {
					return outcome{protocol: "login form shown again after signing in"}
				}
				signedIn = true
				v := f.values()
				v.Set(f.user, w.t.cfg.Username)
				v.Set(f.password, w.t.cfg.Password)
				if req, err = f.request(ctx, resp.Request.URL, v); err != nil {
					return outcome{protocol: "bad login form action"}
				}
				continue
			}
			if f, s, ok := submitNamed(forms, "approve"); ok {
				approved = true
				v := f.values()
				v.Set(s.name, s.value)
				if req, err = f.request(ctx, resp.Request.URL, v); err != nil {
					return outcome{protocol: "bad approval form action"}
				}
				continue
			}
			f, s, ok := submitNamed(forms, "continue")
			if !ok || f.user == "" {
				return outcome{protocol: "page without a login, code entry or approval form"}
			}
			if entered {
				return outcome{protocol: "code entry form shown again after entering the code"}
			}
			entered = true
			v := f.values()
			v.Set(f.user, da.UserCode) // the code field is the form's text input
			v.Set(s.name, s.value)
			if req, err = f.request(ctx, resp.Request.URL, v); err != nil {
				return outcome{protocol: "bad code entry form action"}
			}
		default:
			return statusFailure(resp, w.buf.Bytes())
		}
	}
	return outcome{protocol: "no approval after too many steps"}
}

// submitNamed returns the form with a submit button whose value (or,
// without one, name) is want, and that button.
func submitNamed(forms []htmlForm, want string) (htmlForm, field, bool) {
	for _, f := range forms {
		for _, s := range f.submits {
			if strings.EqualFold(s.value, want) || (s.value == "" && strings.EqualFold(s.name, want)) {
				return f, s, true
			}
		}
	}
	return htmlForm{}, field{}, false
}
