package adminapi

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/oauth"
)

func (a *api) handleListKeys() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := a.Keys.List(r.Context())
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		now := a.Keys.Now()
		items := make([]oauth.KeyView, 0, len(list))
		for _, k := range list {
			items = append(items, oauth.ViewOf(k, now))
		}
		writeJSON(w, http.StatusOK, itemsJSON[oauth.KeyView]{Items: items})
	})
}

// rotatedKeyJSON names the new key and when it signs.
type rotatedKeyJSON struct {
	KID         string    `json:"kid"`
	Algorithm   string    `json:"algorithm"`
	ActivatesAt time.Time `json:"activates_at"`
}

// handleRotateKey makes a new signing key for the algorithm ?alg= names
// (RS256 by default): published at once, signing after the JWKS cache
// lifetime plus the key refresh interval, or at once with ?now=true.
// KeyManager.Rotate writes the audit entry in the rotation's transaction.
func (a *api) handleRotateKey() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		q := r.URL.Query()
		alg := q.Get("alg")
		if alg != "" && !slices.Contains(oauth.SigningAlgorithms, alg) {
			a.writeError(w, r, apperr.Field("alg", fmt.Sprintf("%q is not a supported signing algorithm; use RS256, ES256 or EdDSA", alg)))
			return
		}
		now := false
		if v := q.Get("now"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				a.writeError(w, r, apperr.Field("now", fmt.Sprintf("%q must be true or false", v)))
				return
			}
			now = b
		}
		rot, err := a.Keys.Rotate(ctx, actorOf(ctx), alg, now)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, rotatedKeyJSON{KID: rot.Key.ID, Algorithm: rot.Key.Algorithm, ActivatesAt: rot.Key.ActivatesAt.UTC()})
	})
}
