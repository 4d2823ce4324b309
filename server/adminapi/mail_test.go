package adminapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gorm.io/gorm"

	authmail "github.com/authgate/authgate/internal/mail"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/internal/testutil"
)

// failAllMail makes every queued message fail for good: a sender with a
// transport that refuses (and echoes the body back, as some servers do)
// and one attempt. It returns the security tokens the refused mail held.
func (e *env) failAllMail(t *testing.T) []string {
	t.Helper()
	refusing := &testutil.RefusingMail{}
	s, err := authmail.NewSender(storage.New(e.db), e.keys, refusing, authmail.SenderOptions{From: "Acme <no-reply@example.com>", MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeliverDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	tokens := refusing.Tokens()
	if len(tokens) == 0 {
		t.Fatal("no security token among the refused mail")
	}
	return tokens
}

func TestFailedMail(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		// Deliver what newEnv queued, then queue one token email for bob
		// and make it fail.
		e.mailedTokens(t, "")
		e.do(t, http.MethodPost, "/admin/api/users/"+userName+"/reset-token", e.adminToken, nil).want(t, http.StatusNoContent, nil)
		tokens := e.failAllMail(t)

		t.Run("list", func(t *testing.T) {
			r := e.do(t, http.MethodGet, "/admin/api/mail/failed", e.adminToken, nil)
			var list itemsJSON[authmail.FailedView]
			r.want(t, http.StatusOK, &list) // unknown fields (a body) would fail the decoding
			if len(list.Items) != 1 {
				t.Fatalf("got %d failed messages, want 1: %s", len(list.Items), r.body)
			}
			m := list.Items[0]
			if m.To != userEmail || !strings.Contains(m.Subject, "security token") || m.Attempts != 1 || m.ID == 0 {
				t.Errorf("got %+v, want bob's token email after one attempt", m)
			}
			if !strings.Contains(m.LastError, "550 5.7.1") || !strings.Contains(m.LastError, "[redacted]") {
				t.Errorf("last_error %q, want the server's refusal with the echoed body redacted", m.LastError)
			}
			for _, tok := range tokens {
				if strings.Contains(string(r.body), tok) {
					t.Errorf("the failed-mail list holds the security token: %s", r.body)
				}
			}
		})

		t.Run("limit", func(t *testing.T) {
			e.do(t, http.MethodGet, "/admin/api/mail/failed?limit=0", e.adminToken, nil).wantError(t, http.StatusBadRequest, codeInvalidRequest, "limit")
			e.do(t, http.MethodGet, "/admin/api/mail/failed?limit=1001", e.adminToken, nil).wantError(t, http.StatusBadRequest, codeInvalidRequest, "limit")
		})

		t.Run("needs the admin scope", func(t *testing.T) {
			e.do(t, http.MethodGet, "/admin/api/mail/failed", "", nil).wantError(t, http.StatusUnauthorized, codeInvalidToken, "")
			e.do(t, http.MethodGet, "/admin/api/mail/failed", e.noScopeToken, nil).wantError(t, http.StatusForbidden, codeInsufficientScope, "")
			e.do(t, http.MethodPost, "/admin/api/mail/failed/1/retry", e.userToken, nil).wantError(t, http.StatusForbidden, codeInsufficientScope, "")
		})

		t.Run("retry", func(t *testing.T) {
			var list itemsJSON[authmail.FailedView]
			e.do(t, http.MethodGet, "/admin/api/mail/failed", e.clientToken, nil).want(t, http.StatusOK, &list)
			id := strconv.FormatUint(list.Items[0].ID, 10)

			for _, bad := range []string{"abc", "0", "-1", "1.5", strings.Repeat("9", 30)} {
				e.do(t, http.MethodPost, "/admin/api/mail/failed/"+bad+"/retry", e.adminToken, nil).wantError(t, http.StatusBadRequest, codeInvalidRequest, "id")
			}
			e.do(t, http.MethodPost, fmt.Sprintf("/admin/api/mail/failed/%d/retry", list.Items[0].ID+1000), e.adminToken, nil).
				wantError(t, http.StatusNotFound, codeNotFound, "")

			var retried retriedMailJSON
			e.do(t, http.MethodPost, "/admin/api/mail/failed/"+id+"/retry", e.adminToken, nil).want(t, http.StatusOK, &retried)
			if strconv.FormatUint(retried.ID, 10) != id {
				t.Errorf("got id %d, want %s", retried.ID, id)
			}
			e.wantAudit(t, authmail.ActionRetry, id, adminActor)
			// It is queued, no longer failed: a second retry finds nothing.
			e.do(t, http.MethodPost, "/admin/api/mail/failed/"+id+"/retry", e.adminToken, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
			e.do(t, http.MethodGet, "/admin/api/mail/failed", e.adminToken, nil).want(t, http.StatusOK, &list)
			if len(list.Items) != 0 {
				t.Errorf("failed mail after the retry: %+v, want none", list.Items)
			}
			// The sender now delivers it, with the token it held.
			if got := e.mailedTokens(t, userEmail); !slices.Contains(got, tokens[0]) {
				t.Errorf("tokens mailed to bob after the retry %q, want %q among them", got, tokens[0])
			}
		})
	})
}
