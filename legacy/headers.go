package legacy

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ory/fosite"

	"github.com/authgate/authgate/oauth"
)

// SunsetHeaders marks a successful legacy grant response of a client whose
// legacy grant has a sunset date: Deprecation (RFC 9745) says the grant is
// deprecated, Sunset (RFC 8594) says when it stops working.
func SunsetHeaders(w http.ResponseWriter, ar fosite.AccessRequester) {
	if !ar.GetGrantTypes().ExactOne(GrantType) {
		return
	}
	c, ok := oauth.ClientOf(ar.GetClient())
	if !ok || c.LegacySunset == nil {
		return
	}
	deprecated := time.Now()
	if c.LegacyDeprecatedAt != nil {
		deprecated = *c.LegacyDeprecatedAt
	}
	w.Header().Set("Deprecation", "@"+strconv.FormatInt(deprecated.Unix(), 10))
	w.Header().Set("Sunset", c.LegacySunset.UTC().Format(http.TimeFormat))
}
