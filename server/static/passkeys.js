// authgate's passkey ceremonies. Served by authgate itself (the CSP allows
// only this origin's scripts); no other script is loaded. An element with
// data-passkey="register", "login" or "second" names the JSON endpoints
// that begin and finish its ceremony and carries the CSRF token.
"use strict";
(function () {
  function toBytes(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function toText(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function descriptors(list) {
    return (list || []).map(function (d) { return Object.assign({}, d, { id: toBytes(d.id) }); });
  }
  // post sends body as JSON and returns the JSON answer; a refusal
  // throws its description.
  async function post(url, csrf, body) {
    var resp = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {})
    });
    var data = {};
    try { data = await resp.json(); } catch (e) { /* not JSON */ }
    if (!resp.ok) throw new Error(data.error_description || "The request failed (" + resp.status + "). Try again.");
    return data;
  }
  function credentialJSON(c) {
    var r = c.response, out = {
      id: c.id, rawId: toText(c.rawId), type: c.type,
      authenticatorAttachment: c.authenticatorAttachment || undefined,
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: { clientDataJSON: toText(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toText(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = toText(r.authenticatorData);
      out.response.signature = toText(r.signature);
      if (r.userHandle) out.response.userHandle = toText(r.userHandle);
    }
    return out;
  }
  function showError(root, msg) {
    var el = root.querySelector(".error");
    if (!el) return;
    el.textContent = msg;
    el.hidden = !msg;
  }
  async function register(root) {
    var name = root.querySelector("[name=name]").value;
    var passwordless = root.querySelector("[name=passwordless]").checked;
    var opts = await post(root.dataset.begin, root.dataset.csrf, { passwordless: passwordless });
    var pk = opts.publicKey;
    pk.challenge = toBytes(pk.challenge);
    pk.user.id = toBytes(pk.user.id);
    pk.excludeCredentials = descriptors(pk.excludeCredentials);
    var cred = await navigator.credentials.create({ publicKey: pk });
    return post(root.dataset.finish, root.dataset.csrf, { name: name, credential: credentialJSON(cred) });
  }
  async function getAssertion(root) {
    var opts = await post(root.dataset.begin, root.dataset.csrf, {});
    var pk = opts.publicKey;
    pk.challenge = toBytes(pk.challenge);
    pk.allowCredentials = descriptors(pk.allowCredentials);
    return credentialJSON(await navigator.credentials.get({ publicKey: pk }));
  }
  async function assert(root) {
    var cred = await getAssertion(root);
    return post(root.dataset.finish, root.dataset.csrf, { return_to: root.dataset.returnTo || "", credential: cred });
  }
  // second answers the login page's second step: the assertion goes in
  // the step's form, which is posted as the other factors' forms are.
  async function second(root) {
    root.querySelector("[name=credential]").value = JSON.stringify(await getAssertion(root));
    root.submit();
    return null;
  }
  function run(root, ceremony) {
    return async function (ev) {
      ev.preventDefault();
      showError(root, "");
      if (!window.PublicKeyCredential) {
        showError(root, "This browser does not support passkeys.");
        return;
      }
      root.dataset.state = "busy";
      try {
        var done = await ceremony(root);
        root.dataset.state = "done";
        if (done) window.location.assign(done.redirect || window.location.href);
      } catch (e) {
        root.dataset.state = "failed";
        showError(root, e && e.name === "NotAllowedError" ? "The passkey request was cancelled or timed out." : String(e && e.message || e));
      }
    };
  }
  document.querySelectorAll("[data-passkey]").forEach(function (root) {
    var kind = root.dataset.passkey;
    if (kind === "register") root.addEventListener("submit", run(root, register));
    else root.querySelector("button").addEventListener("click", run(root, kind === "second" ? second : assert));
    root.dataset.state = "ready";
  });
})();
