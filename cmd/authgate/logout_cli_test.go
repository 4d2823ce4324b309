package main

import (
	"testing"
)

// TestCLIClientsLogoutFields: "clients create" and "clients update" take
// the logout registration, checked like redirect URIs.
func TestCLIClientsLogoutFields(t *testing.T) {
	t.Parallel()
	eachCLI(t, func(t *testing.T, h *cliHarness) {
		var created map[string]any
		h.json(&created, "", "clients", "create", "--name", "Web app", "--grant-types", "authorization_code",
			"--redirect-uris", "https://app.example.com/cb", "--scopes", "openid",
			"--post-logout-redirect-uris", "https://app.example.com/bye https://app.example.com/bye2",
			"--backchannel-logout-uri", "https://app.example.com/bc", "--backchannel-logout-session-required", "--json")
		id := created["client_id"].(string)
		var got map[string]any
		h.json(&got, "", "clients", "get", id, "--json")
		if uris := anyStrings(got["post_logout_redirect_uris"]); len(uris) != 2 || uris[1] != "https://app.example.com/bye2" ||
			got["backchannel_logout_uri"] != "https://app.example.com/bc" || got["backchannel_logout_session_required"] != true ||
			got["frontchannel_logout_uri"] != "" {
			t.Fatalf("created: %v", got)
		}
		h.json(&got, "", "clients", "update", id, "--frontchannel-logout-uri", "https://app.example.com/fc",
			"--frontchannel-logout-session-required", "true", "--post-logout-redirect-uris", "", "--json")
		if len(anyStrings(got["post_logout_redirect_uris"])) != 0 || got["frontchannel_logout_uri"] != "https://app.example.com/fc" ||
			got["frontchannel_logout_session_required"] != true || got["backchannel_logout_uri"] != "https://app.example.com/bc" {
			t.Fatalf("updated: %v", got)
		}
		before := h.ok("", "clients", "get", id, "--json")
		h.fails(1, `post_logout_redirect_uris: "http://evil.example/" must use https`, "", "clients", "update", id, "--post-logout-redirect-uris", "http://evil.example/")
		h.fails(1, `backchannel_logout_uri: "https://app.example.com/bc#x" must not contain a fragment`, "", "clients", "update", id, "--backchannel-logout-uri", "https://app.example.com/bc#x")
		h.fails(1, `frontchannel_logout_uri: "https://app.example.com/a;b" must not contain`, "", "clients", "update", id, "--frontchannel-logout-uri", "https://app.example.com/a;b")
		h.fails(1, "frontchannel_logout_session_required: needs a frontchannel_logout_uri", "", "clients", "update", id, "--frontchannel-logout-uri", "")
		if after := h.ok("", "clients", "get", id, "--json"); after != before {
			t.Errorf("a refused update changed the client:\nbefore %s\nafter  %s", before, after)
		}
	})
}
