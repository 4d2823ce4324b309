package adminapi

import (
	"net/http"

	"github.com/authgate/authgate/internal/trustedips"
)

func (a *api) handleListRanges() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := a.Trust.List(r.Context())
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		items := make([]trustedips.View, 0, len(list))
		for _, tr := range list {
			items = append(items, trustedips.ViewOf(tr))
		}
		writeJSON(w, http.StatusOK, itemsJSON[trustedips.View]{Items: items})
	})
}

// addRangeRequest is the body of POST /admin/api/trusted-ips.
type addRangeRequest struct {
	CIDR        string `json:"cidr"`
	Description string `json:"description"`
}

func (a *api) handleAddRange() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in addRangeRequest
		if err := decodeJSON(w, r, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		tr, err := a.Trust.Add(r.Context(), actorOf(r.Context()), in.CIDR, in.Description)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, trustedips.ViewOf(tr))
	})
}

// handleRemoveRange takes the range from the query (?cidr=10.0.0.0/8):
// the slash in a CIDR does not fit in a path segment.
func (a *api) handleRemoveRange() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.Trust.Remove(r.Context(), actorOf(r.Context()), r.URL.Query().Get("cidr")); err != nil {
			a.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
