package adminapi

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes every route of the admin API. It is written
// by hand; TestOpenAPIMatchesRoutes keeps it and the routes in step.
//
//go:embed openapi.json
var openAPIDocument []byte

// handleOpenAPI serves the OpenAPI document. It needs no token: it tells
// nothing that the source does not.
func (a *api) handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(openAPIDocument)
	})
}
