package adminapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/models"
)

func (a *api) handleListBrownouts() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := a.Clients.Brownouts(r.Context(), r.PathValue("id"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, itemsJSON[clients.BrownoutView]{Items: a.brownoutViews(list)})
	})
}

func (a *api) brownoutViews(list []models.ClientBrownout) []clients.BrownoutView {
	now := a.Now()
	out := make([]clients.BrownoutView, 0, len(list))
	for _, b := range list {
		out = append(out, clients.BrownoutViewOf(b, now))
	}
	return out
}

// brownoutRequest is the body of POST .../legacy/brownouts.
type brownoutRequest struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

func (a *api) handleAddBrownout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in brownoutRequest
		if err := decodeJSON(w, r, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		start, err := clients.ParseBrownoutTime("start", in.Start)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		end, err := clients.ParseBrownoutTime("end", in.End)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		b, err := a.Clients.AddBrownout(r.Context(), actorOf(r.Context()), r.PathValue("id"), start, end)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, clients.BrownoutViewOf(b, a.Now()))
	})
}

func (a *api) handleRemoveBrownout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseUint(r.PathValue("brownout"), 10, 64)
		if err != nil {
			a.writeError(w, r, clients.ErrBrownoutNotFound)
			return
		}
		if err := a.Clients.RemoveBrownout(r.Context(), actorOf(r.Context()), r.PathValue("id"), id); err != nil {
			a.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// migrationURLRequest is the body of PUT .../legacy/migration-url; JSON
// null or "" clears the URL.
type migrationURLRequest struct {
	MigrationURL json.RawMessage `json:"migration_url"`
}

func (a *api) handleSetMigrationURL() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in migrationURLRequest
		if err := decodeJSON(w, r, &in); err != nil {
			a.writeError(w, r, err)
			return
		}
		var raw string
		switch {
		case in.MigrationURL == nil:
			a.writeError(w, r, fieldError("migration_url", "is required: an absolute http(s) URL, or null to clear it"))
			return
		case string(in.MigrationURL) != "null":
			if err := json.Unmarshal(in.MigrationURL, &raw); err != nil {
				a.writeError(w, r, fieldError("migration_url", "must be a string, or null to clear it"))
				return
			}
		}
		c, err := a.Clients.SetMigrationURL(r.Context(), actorOf(r.Context()), r.PathValue("id"), raw)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, clients.ViewOf(c))
	})
}
