package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// Passkeys in real Chromium: each browser tab gets a DevTools virtual
// authenticator (CTAP2, platform, resident keys, user verification), so
// the browser runs the real WebAuthn ceremonies against the server.

// virtualAuthenticator enables the WebAuthn domain in ctx's tab and adds
// an authenticator that keeps discoverable credentials and verifies the
// user.
func virtualAuthenticator(t *testing.T, ctx context.Context) webauthn.AuthenticatorID {
	t.Helper()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Ctap2version:                webauthn.Ctap2versionCtap21,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// passkeyJS is the script the tests run in a page of the server to play
// a ceremony step by step: begin only, get an assertion without sending
// it, send one. It reads the CSRF token from the page's passkey element.
const passkeyJS = `
var ag = {
  el: function () { return document.querySelector("[data-passkey]"); },
  bytes: function (s) { s = s.replace(/-/g, "+").replace(/_/g, "/"); while (s.length % 4) s += "="; var b = atob(s), o = new Uint8Array(b.length); for (var i = 0; i < b.length; i++) o[i] = b.charCodeAt(i); return o.buffer; },
  text: function (buf) { var u = new Uint8Array(buf), s = ""; for (var i = 0; i < u.length; i++) s += String.fromCharCode(u[i]); return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""); },
  post: async function (url, body) {
    var r = await fetch(url, {method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json", "X-CSRF-Token": ag.el().dataset.csrf}, body: JSON.stringify(body || {})});
    var j = {}; try { j = await r.json(); } catch (e) {}
    return {status: r.status, body: j};
  },
  begin: async function () { return (await ag.post(ag.el().dataset.begin, {})).body; },
  assertion: async function (anyKey) {
    var pk = (await ag.begin()).publicKey;
    pk.challenge = ag.bytes(pk.challenge);
    pk.allowCredentials = anyKey ? [] : (pk.allowCredentials || []).map(function (d) { return Object.assign({}, d, {id: ag.bytes(d.id)}); });
    var c = await navigator.credentials.get({publicKey: pk});
    return {id: c.id, rawId: ag.text(c.rawId), type: c.type, clientExtensionResults: {},
      response: {clientDataJSON: ag.text(c.response.clientDataJSON), authenticatorData: ag.text(c.response.authenticatorData),
        signature: ag.text(c.response.signature), userHandle: c.response.userHandle ? ag.text(c.response.userHandle) : undefined}};
  },
  finish: async function (cred) { return (await ag.post(ag.el().dataset.finish, {return_to: "/account", credential: cred})).status; },
  // step posts cred as the second step's passkey; 0 is the redirect of a
  // success (fetch does not follow it), 401 a refusal.
  step: async function (cred) {
    var body = new URLSearchParams({csrf_token: ag.el().dataset.csrf, factor: "passkey", credential: JSON.stringify(cred)});
    var r = await fetch("/login/verify", {method: "POST", credentials: "same-origin", redirect: "manual", body: body});
    return r.status;
  }
};
`

// js evaluates expr (which may await) after passkeyJS in ctx's page.
func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](passkeyJS+"(async () => { "+expr+" })()", chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("script %q: %v", expr, err)
	}
	return v
}

// assertion gets an assertion from the tab's authenticator for a ceremony
// it begins, without sending it; the result is its JSON.
func assertion(t *testing.T, ctx context.Context) string {
	t.Helper()
	return js[string](t, ctx, `return JSON.stringify(await ag.assertion());`)
}

// finish sends the assertion cred (JSON) to the page's finish endpoint,
// with whatever ceremony the tab holds, and returns the status.
func finish(t *testing.T, ctx context.Context, cred string) int {
	t.Helper()
	return js[int](t, ctx, `return await ag.finish(`+cred+`);`)
}

// loginResults returns the login-history results of username's attempts
// with factor (signin.Factor*), oldest first: a passkey alone (method
// passkey) and a passkey as the second step (method login_page) alike.
func loginResults(t *testing.T, in *instance, username, factor string) []string {
	t.Helper()
	events, _, err := in.accounts.ListLogins(context.Background(), accounts.LoginFilter{Username: username, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range slices.Backward(events) {
		if e.Factor == factor {
			out = append(out, e.Result)
		}
	}
	return out
}

func passkeysOf(t *testing.T, in *instance, u models.User) []models.WebAuthnCredential {
	t.Helper()
	list, err := in.app.Passkeys.List(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// registerPasskey adds a passkey named name on the passkeys page the tab
// is signed in to.
func registerPasskey(t *testing.T, ctx context.Context, in *instance, name string, passwordless bool) {
	t.Helper()
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(in.issuer + "/account/passkeys"),
		chromedp.WaitVisible(chromedp.CSS("#passkey-register[data-state=ready]")),
		chromedp.SendKeys(chromedp.ID("passkey-name"), name),
	}
	if passwordless {
		steps = append(steps, chromedp.Click(chromedp.ID("passkey-passwordless")))
	}
	steps = append(steps, chromedp.Click(chromedp.ID("passkey-add")), chromedp.WaitVisible(chromedp.ID("notice")))
	if err := chromedp.Do(ctx, steps...); err != nil {
		msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("passkey-error")))
		t.Fatalf("register passkey %q: %v (page says %q)", name, err, msg)
	}
}

func startPasskeyServer(t *testing.T, kind string, extra map[string]string) *instance {
	t.Helper()
	env := map[string]string{
		"AUTHGATE_ISSUER":                "http://localhost:{port}",
		"AUTHGATE_RATE_LIMIT_PER_MINUTE": "0",
		"AUTHGATE_LOCKOUT_THRESHOLD":     "50",
	}
	for k, v := range extra {
		env[k] = v
	}
	return startServer(t, testdb.URL(t, kind), env)
}

func TestBrowserPasskeys(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) { testBrowserPasskeys(t, kind) })
	}
}

func testBrowserPasskeys(t *testing.T, kind string) {
	in := startPasskeyServer(t, kind, nil)
	const pwA, pwB = "alice passphrase 1", "bob passphrase 1"
	alice := in.createUser("alice", pwA, false)
	in.createUser("bob", pwB, false)

	ctx := newBrowser(t)
	authA := virtualAuthenticator(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(in.issuer+"/account"), signIn("alice", pwA), chromedp.WaitVisible(chromedp.ID("passkeys"))); err != nil {
		t.Fatalf("sign in with password: %v", err)
	}
	registerPasskey(t, ctx, in, "Laptop", true)
	list := passkeysOf(t, in, alice)
	if len(list) != 1 || list[0].Name != "Laptop" || !list[0].Passwordless || !list[0].UserVerified || len(list[0].CredentialID) == 0 {
		t.Fatalf("after registration: got %+v, want one passwordless passkey named Laptop", list)
	}
	if got := text(t, ctx, "#passkey-list"); !strings.Contains(got, "Laptop") {
		t.Fatalf("passkeys page: got %q, want it to list Laptop", got)
	}

	// Signed out, the passkey alone signs alice in (discoverable, verified).
	signInWithPasskey := func(t *testing.T) {
		t.Helper()
		err := chromedp.Do(ctx,
			chromedp.Navigate(in.issuer+"/login?return_to=%2Faccount"),
			chromedp.WaitVisible(chromedp.CSS("#passkey-login[data-state=ready]")),
			chromedp.Click(chromedp.ID("passkey-sign-in")),
			chromedp.WaitVisible(chromedp.CSS("dd#username")),
		)
		if err != nil {
			msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("passkey-error")))
			t.Fatalf("sign in with a passkey: %v (page says %q)", err, msg)
		}
		if got := text(t, ctx, "dd#username"); got != "alice" {
			t.Fatalf("signed in as %q, want alice", got)
		}
	}
	signOut := func(t *testing.T) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(in.issuer+"/account"), chromedp.Click(chromedp.CSS("button.link")), chromedp.WaitVisible(chromedp.ID("sign-in"))); err != nil {
			t.Fatalf("sign out: %v", err)
		}
	}
	signOut(t)
	signInWithPasskey(t)
	// A passkey alone verified alice on her device: two factors.
	if got := sessionAMR(t, in, alice.ID); got != "hwk mfa" {
		t.Errorf("amr of a passkey sign-in: got %q, want %q", got, "hwk mfa")
	}
	if got := loginResults(t, in, "alice", signin.FactorPasskey); len(got) != 1 || got[0] != signin.ResultSuccess {
		t.Fatalf("login history of passkey sign-ins: got %v, want [Success]", got)
	}
	if l := passkeysOf(t, in, alice); l[0].LastUsedAt == nil || l[0].SignCount < 1 {
		t.Errorf("after a sign-in: got %+v, want a last use and a counter", l[0])
	}

	// Every refusal below is counted as a failure of alice's.
	wantFailures := 0
	refused := func(t *testing.T, what string, status int, result string) {
		t.Helper()
		if status != 401 {
			t.Fatalf("%s: got status %d, want 401", what, status)
		}
		wantFailures++
		got := loginResults(t, in, "alice", signin.FactorPasskey)
		if got[len(got)-1] != result {
			t.Fatalf("%s: last login-history result %q, want %q", what, got[len(got)-1], result)
		}
	}
	login := func(t *testing.T, c context.Context) {
		t.Helper()
		if err := chromedp.Do(c, chromedp.Navigate(in.issuer+"/login"), chromedp.WaitVisible(chromedp.ID("passkey-sign-in"))); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("replayed assertion", func(t *testing.T) {
		login(t, ctx)
		cred := assertion(t, ctx)
		if got := finish(t, ctx, cred); got != 200 {
			t.Fatalf("first use: got %d, want 200", got)
		}
		login(t, ctx)
		refused(t, "the same assertion again, without a ceremony", finish(t, ctx, cred), signin.ResultPasskeyInvalid)
		js[any](t, ctx, `await ag.begin(); return null;`)
		refused(t, "the same assertion again, with a fresh ceremony", finish(t, ctx, cred), signin.ResultPasskeyInvalid)
	})

	t.Run("parallel replays", func(t *testing.T) {
		login(t, ctx)
		// Eight requests at once with one ceremony and one assertion:
		// exactly one signs in.
		statuses := js[[]int](t, ctx, `var c = await ag.assertion(); return await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(function () { return ag.finish(c); }));`)
		ok := 0
		for _, st := range statuses {
			switch st {
			case 200:
				ok++
			case 401:
				wantFailures++
			case 403:
				// Sent after the winner's new session cookie arrived: its
				// CSRF token is the signed-out one, refused before any
				// sign-in attempt (nothing counted).
			default:
				t.Fatalf("parallel replay: status %d (all %v)", st, statuses)
			}
		}
		if ok != 1 {
			t.Fatalf("parallel replays: %d signed in (%v), want exactly 1", ok, statuses)
		}
	})

	t.Run("stale challenge", func(t *testing.T) {
		login(t, ctx)
		stale := assertion(t, ctx)
		js[any](t, ctx, `await ag.begin(); return null;`) // a newer ceremony replaces it
		refused(t, "an assertion of an earlier ceremony", finish(t, ctx, stale), signin.ResultPasskeyInvalid)
	})

	t.Run("ceremony from another browser session", func(t *testing.T) {
		other, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
		defer cancel()
		login(t, other)
		login(t, ctx)
		cred := assertion(t, ctx) // alice's browser began the ceremony
		refused(t, "another browser with no ceremony", finish(t, other, cred), signin.ResultPasskeyInvalid)
		js[any](t, other, `await ag.begin(); return null;`)
		refused(t, "another browser with a ceremony of its own", finish(t, other, cred), signin.ResultPasskeyInvalid)
		// The assertion itself was sound: in the browser that began it, it
		// passes.
		if got := finish(t, ctx, cred); got != 200 {
			t.Fatalf("in its own browser: got %d, want 200", got)
		}
	})

	t.Run("another user's passkey", func(t *testing.T) {
		bobCtx, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
		defer cancel()
		if err := chromedp.Do(bobCtx, chromedp.Navigate(in.issuer+"/login")); err != nil {
			t.Fatal(err)
		}
		virtualAuthenticator(t, bobCtx)
		if err := chromedp.Do(bobCtx, chromedp.Navigate(in.issuer+"/account/passkeys"), signIn("bob", pwB)); err != nil {
			t.Fatal(err)
		}
		registerPasskey(t, bobCtx, in, "Bob's key", true)
		if err := chromedp.Do(bobCtx, chromedp.Click(chromedp.CSS("button.link")), chromedp.WaitVisible(chromedp.ID("passkey-sign-in"))); err != nil {
			t.Fatal(err)
		}
		// Bob's assertion, claiming to be alice (her user handle).
		cred := js[string](t, bobCtx, fmt.Sprintf(`var c = await ag.assertion(); c.response.userHandle = %q; return JSON.stringify(c);`,
			base64.RawURLEncoding.EncodeToString([]byte(alice.ID))))
		refused(t, "bob's passkey as alice", finish(t, bobCtx, cred), signin.ResultPasskeyInvalid)
	})

	t.Run("passkey not allowed without password", func(t *testing.T) {
		signInWithPasskey(t)
		id := passkeysOf(t, in, alice)[0].ID
		if err := chromedp.Do(ctx, chromedp.Navigate(in.issuer+"/account/passkeys"), chromedp.Click(chromedp.CSS("#passkey-"+id+" button.passwordless")), chromedp.WaitVisible(chromedp.ID("notice"))); err != nil {
			t.Fatal(err)
		}
		if passkeysOf(t, in, alice)[0].Passwordless {
			t.Fatal("passwordless still on after switching it off")
		}
		signOut(t)
		login(t, ctx)
		refused(t, "a passkey not allowed to sign in alone", finish(t, ctx, assertion(t, ctx)), signin.ResultPasskeyInvalid)
		// With a passkey, alice's password leads to the second step, which
		// the passkey answers.
		if err := chromedp.Do(ctx, chromedp.Navigate(in.issuer+"/account/passkeys"), signIn("alice", pwA),
			chromedp.WaitVisible(chromedp.CSS("#passkey-step[data-state=ready]")), chromedp.Click(chromedp.ID("passkey-verify")),
			chromedp.Click(chromedp.CSS("#passkey-"+id+" button.passwordless")), chromedp.WaitVisible(chromedp.ID("notice"))); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("counter going backwards", func(t *testing.T) {
		creds, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: authA})
		if err != nil || len(creds.Credentials) != 1 {
			t.Fatalf("virtual credentials: %v, %v", creds, err)
		}
		one := 1.0
		// A clone of the authenticator, behind the original.
		if _, err := chromedp.Call(ctx, webauthn.SetCredentialProperties, webauthn.SetCredentialPropertiesParams{
			AuthenticatorID: authA, CredentialID: creds.Credentials[0].CredentialID, SignCount: &one}); err != nil {
			t.Fatal(err)
		}
		login(t, ctx)
		refused(t, "a counter below the stored one", finish(t, ctx, assertion(t, ctx)), signin.ResultPasskeyCounter)
	})

	t.Run("rename and remove", func(t *testing.T) {
		id := passkeysOf(t, in, alice)[0].ID
		if err := chromedp.Do(ctx, chromedp.Navigate(in.issuer+"/account/passkeys"), chromedp.WaitVisible(chromedp.ID("rename-"+id))); err != nil {
			t.Fatal(err)
		}
		js[any](t, ctx, `document.getElementById("rename-`+id+`").value = ""; return null;`)
		err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.ID("rename-"+id), "Work laptop"),
			chromedp.Click(chromedp.CSS("#passkey-"+id+" button.rename")),
			chromedp.WaitVisible(chromedp.ID("notice")),
		)
		if err != nil {
			t.Fatal(err)
		}
		if got := passkeysOf(t, in, alice)[0].Name; got != "Work laptop" {
			t.Fatalf("after rename: got %q", got)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#passkey-"+id+" button.remove")), chromedp.WaitNotPresent(chromedp.ID("passkey-"+id))); err != nil {
			t.Fatal(err)
		}
		if got := passkeysOf(t, in, alice); len(got) != 0 {
			t.Fatalf("after remove: got %+v", got)
		}
	})

	// Every refusal was written once, as a failure of alice's.
	got := loginResults(t, in, "alice", signin.FactorPasskey)
	failures := 0
	for _, r := range got {
		if r != signin.ResultSuccess {
			failures++
		}
	}
	if failures != wantFailures {
		t.Errorf("alice's passkey failures in the login history: got %d (%v), want %d", failures, got, wantFailures)
	}
}

// TestBrowserPasskeyCeremonyExpiresAndLocks: a ceremony finished after its
// timeout is refused, and passkey failures count in the login page's
// lockout: past the threshold even a good passkey, and the password, are
// refused from that source.
func TestBrowserPasskeyCeremonyExpiresAndLocks(t *testing.T) {
	in := startPasskeyServer(t, "sqlite", map[string]string{"AUTHGATE_PASSKEY_TIMEOUT": "2s", "AUTHGATE_LOCKOUT_THRESHOLD": "2"})
	const pw = "alice passphrase 1"
	in.createUser("alice", pw, false)
	ctx := newBrowser(t)
	virtualAuthenticator(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(in.issuer+"/account/passkeys"), signIn("alice", pw)); err != nil {
		t.Fatal(err)
	}
	// A ceremony lasts two seconds: register right away.
	registerPasskey(t, ctx, in, "Laptop", true)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("button.link")), chromedp.WaitVisible(chromedp.ID("passkey-sign-in"))); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		cred := assertion(t, ctx)
		time.Sleep(2100 * time.Millisecond) // the ceremony's two seconds pass
		if got := finish(t, ctx, cred); got != 401 {
			t.Fatalf("expired ceremony %d: got %d, want 401", i, got)
		}
	}
	// Locked: a good passkey is refused now, and so is the password.
	if got := finish(t, ctx, assertion(t, ctx)); got != 401 {
		t.Fatalf("good passkey while locked: got %d, want 401", got)
	}
	got := loginResults(t, in, "alice", signin.FactorPasskey)
	want := []string{signin.ResultPasskeyInvalid, signin.ResultPasskeyInvalid, signin.ResultLockout}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("login history: got %v, want %v", got, want)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(in.issuer+"/login"), chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), pw), chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.ID("error"))); err != nil {
		t.Fatalf("password while locked: %v", err)
	}
	if pwGot := loginResults(t, in, "alice", signin.FactorPassword); len(pwGot) == 0 || pwGot[len(pwGot)-1] != signin.ResultLockout {
		t.Fatalf("password after passkey failures: got %v, want a lockout", pwGot)
	}
}

// stepAssertion gets an assertion for the second step the tab is on,
// without sending it. With anyKey the authenticator may answer with any
// of its passkeys, not only those the server offered.
func stepAssertion(t *testing.T, ctx context.Context, anyKey bool) string {
	t.Helper()
	return js[string](t, ctx, fmt.Sprintf(`return JSON.stringify(await ag.assertion(%t));`, anyKey))
}

// passwordToStep signs in with a password on a fresh login page and waits
// for the second step's passkey button.
func passwordToStep(t *testing.T, ctx context.Context, in *instance, username, pw string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(in.issuer+"/login?return_to=%2Faccount"),
		signIn(username, pw),
		chromedp.WaitVisible(chromedp.CSS("#passkey-step[data-state=ready]")),
	)
	if err != nil {
		t.Fatalf("password, then the second step: %v", err)
	}
}

// sessionAMR returns the amr of userID's newest session.
func sessionAMR(t *testing.T, in *instance, userID string) string {
	t.Helper()
	var amr []string
	err := in.app.Store.Conn(context.Background()).Table("login_sessions").Where("user_id = ?", userID).Order("created_at DESC").Limit(1).Pluck("amr", &amr).Error
	if err != nil || len(amr) != 1 {
		t.Fatalf("session of %s: %v, %v", userID, amr, err)
	}
	return amr[0]
}

func TestBrowserPasskeySecondFactor(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) { testBrowserPasskeySecondFactor(t, kind) })
	}
}

func testBrowserPasskeySecondFactor(t *testing.T, kind string) {
	in := startPasskeyServer(t, kind, nil)
	const pwA, pwB = "alice passphrase 1", "bob passphrase 1"
	alice := in.createUser("alice", pwA, false)
	in.createUser("bob", pwB, false)

	ctx := newBrowser(t)
	virtualAuthenticator(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(in.issuer+"/account/passkeys"), signIn("alice", pwA)); err != nil {
		t.Fatal(err)
	}
	registerPasskey(t, ctx, in, "YubiKey", false)
	signOut := func(c context.Context) {
		t.Helper()
		if err := chromedp.Do(c, chromedp.Navigate(in.issuer+"/account"), chromedp.Click(chromedp.CSS("button.link")), chromedp.WaitVisible(chromedp.ID("sign-in"))); err != nil {
			t.Fatalf("sign out: %v", err)
		}
	}
	signOut(ctx)

	// The password alone no longer signs alice in: the second step asks
	// for her passkey, and the passkey finishes it.
	passwordToStep(t, ctx, in, "alice", pwA)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("passkey-verify")), chromedp.WaitVisible(chromedp.CSS("dd#username"))); err != nil {
		msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("passkey-error")))
		t.Fatalf("passkey as the second factor: %v (page says %q)", err, msg)
	}
	if got := sessionAMR(t, in, alice.ID); got != "pwd hwk mfa" {
		t.Errorf("amr of the session: got %q, want %q", got, "pwd hwk mfa")
	}
	if got := loginResults(t, in, "alice", signin.FactorPasskey); len(got) != 1 || got[0] != signin.ResultSuccess {
		t.Fatalf("login history of the passkey step: got %v, want [Success]", got)
	}
	failures := 0
	refused := func(t *testing.T, what string, status int) {
		t.Helper()
		if status != 401 {
			t.Fatalf("%s: got status %d, want 401", what, status)
		}
		failures++
		got := loginResults(t, in, "alice", signin.FactorPasskey)
		if got[len(got)-1] != signin.ResultPasskeyInvalid {
			t.Fatalf("%s: last result %q, want %q", what, got[len(got)-1], signin.ResultPasskeyInvalid)
		}
	}

	t.Run("replayed assertion", func(t *testing.T) {
		signOut(ctx)
		passwordToStep(t, ctx, in, "alice", pwA)
		cred := stepAssertion(t, ctx, false)
		if got := js[int](t, ctx, `return await ag.step(`+cred+`);`); got != 0 {
			t.Fatalf("first use: got %d, want the redirect of a success", got)
		}
		signOut(ctx)
		passwordToStep(t, ctx, in, "alice", pwA)
		js[any](t, ctx, `await ag.begin(); return null;`)
		refused(t, "the assertion of an earlier step, with a fresh ceremony", js[int](t, ctx, `return await ag.step(`+cred+`);`))
	})

	t.Run("ceremony from another browser session", func(t *testing.T) {
		other, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
		defer cancel()
		// alice's own browser begins a ceremony in its step; another browser,
		// in a step of its own for alice, sends the assertion.
		cred := stepAssertion(t, ctx, false)
		passwordToStep(t, other, in, "alice", pwA)
		refused(t, "another browser's step, no ceremony", js[int](t, other, `return await ag.step(`+cred+`);`))
		js[any](t, other, `await ag.begin(); return null;`)
		refused(t, "another browser's step, its own ceremony", js[int](t, other, `return await ag.step(`+cred+`);`))
	})

	t.Run("another user's passkey", func(t *testing.T) {
		bobCtx, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
		defer cancel()
		if err := chromedp.Do(bobCtx, chromedp.Navigate(in.issuer+"/login")); err != nil {
			t.Fatal(err)
		}
		virtualAuthenticator(t, bobCtx)
		if err := chromedp.Do(bobCtx, chromedp.Navigate(in.issuer+"/account/passkeys"), signIn("bob", pwB)); err != nil {
			t.Fatal(err)
		}
		registerPasskey(t, bobCtx, in, "Bob's key", false)
		signOut(bobCtx)
		// bob knows alice's password; his browser answers her step with
		// his own passkey, over her step's challenge.
		passwordToStep(t, bobCtx, in, "alice", pwA)
		cred := stepAssertion(t, bobCtx, true)
		refused(t, "bob's passkey on alice's step", js[int](t, bobCtx, `return await ag.step(`+cred+`);`))
	})

	got := loginResults(t, in, "alice", signin.FactorPasskey)
	n := 0
	for _, r := range got {
		if r != signin.ResultSuccess {
			n++
		}
	}
	if n != failures {
		t.Errorf("alice's passkey failures in the login history: got %d (%v), want %d", n, got, failures)
	}

	// The factor list shows the passkey (never its key); an administrator's
	// MFA reset removes it, and the password alone signs in again.
	bg := context.Background()
	fs, err := in.app.MFA.List(bg, alice.ID)
	if err != nil || len(fs.Passkeys) != 1 || fs.Passkeys[0].Name != "YubiKey" {
		t.Fatalf("factors of alice: got %+v, %v, want her passkey", fs, err)
	}
	if removed, err := in.app.MFA.Reset(bg, "cli:test", alice); err != nil || !removed {
		t.Fatalf("MFA reset: got %t, %v", removed, err)
	}
	if fs, _ := in.app.MFA.List(bg, alice.ID); len(fs.Passkeys) != 0 {
		t.Fatalf("passkeys after the reset: %+v", fs.Passkeys)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(in.issuer+"/login?return_to=%2Faccount"), signIn("alice", pwA), chromedp.WaitVisible(chromedp.CSS("dd#username"))); err != nil {
		t.Fatalf("password alone after the reset: %v", err)
	}
}
