package adminapi

import (
	"net/http"
	"time"

	"github.com/authgate/authgate/models"
)

// keyJSON is how the API shows a signing key: its public part only.
type keyJSON struct {
	KID       string     `json:"kid"`
	Algorithm string     `json:"algorithm"`
	Current   bool       `json:"current"`
	PublicPEM string     `json:"public_pem"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

func keyView(k models.SigningKey) keyJSON {
	return keyJSON{
		KID: k.ID, Algorithm: k.Algorithm, Current: k.Current, PublicPEM: k.PublicPEM,
		CreatedAt: k.CreatedAt.UTC(), RetiredAt: utcPtr(k.RetiredAt), ExpiresAt: utcPtr(k.ExpiresAt),
	}
}

func (a *api) handleListKeys() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := a.Keys.List(r.Context())
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		items := make([]keyJSON, 0, len(list))
		for _, k := range list {
			items = append(items, keyView(k))
		}
		writeJSON(w, http.StatusOK, itemsJSON[keyJSON]{Items: items})
	})
}

// rotatedKeyJSON names the new current key.
type rotatedKeyJSON struct {
	KID string `json:"kid"`
}

// handleRotateKey makes a new signing key current. KeyManager.Rotate keeps
// no audit log, so the entry is written here, after the rotation commits.
func (a *api) handleRotateKey() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		kid, err := a.Keys.Rotate(ctx, actorOf(ctx))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, rotatedKeyJSON{KID: kid})
	})
}
