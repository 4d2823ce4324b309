package adminapi

import (
	"fmt"
	"net/http"

	"github.com/authgate/authgate/internal/workbench"
)

// defaultWorkbenchDays is the workbench's look-back when none is asked.
const defaultWorkbenchDays = 90

func (a *api) workbenchDays(r *http.Request) (int, error) {
	return queryInt(r.URL.Query(), "days", defaultWorkbenchDays, 1, workbench.MaxDays)
}

func (a *api) handleWorkbench() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		days, err := a.workbenchDays(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		rep, err := a.Workbench.Report(r.Context(), days)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})
}

// handleDryRun answers "if the legacy grant were turned off now": JSON, or
// CSV with format=csv (as a download).
func (a *api) handleDryRun() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		days, err := a.workbenchDays(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		format := r.URL.Query().Get("format")
		if format != "" && format != "json" && format != "csv" {
			a.writeError(w, r, fieldError("format", "must be json or csv"))
			return
		}
		rows, err := a.Workbench.DryRun(r.Context(), days)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if format != "csv" {
			writeJSON(w, http.StatusOK, itemsJSON[workbench.Breakage]{Items: rows})
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="legacy-dry-run-%s.csv"`, a.Now().UTC().Format("2006-01-02")))
		w.WriteHeader(http.StatusOK)
		if err := workbench.WriteCSV(w, rows); err != nil {
			a.Logger.WarnContext(r.Context(), "write dry run CSV", "error", err)
		}
	})
}

func (a *api) handleWorkbenchAction() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := a.WorkbenchActor.Do(r.Context(), actorOf(r.Context()), r.PathValue("id"), r.PathValue("action"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
}
