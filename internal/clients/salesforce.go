package clients

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/models"
)

// applySalesforce applies the Salesforce-compatibility fields of up to c
// and checks them: instance_url, when set, is an absolute http(s) URL
// without a query or fragment (tools append API paths to it).
func applySalesforce(c *models.Client, up ClientUpdate) error {
	if up.SalesforceCompat != nil {
		c.SalesforceCompat = *up.SalesforceCompat
	}
	if up.InstanceURL != nil {
		c.InstanceURL = strings.TrimRight(strings.TrimSpace(*up.InstanceURL), "/")
	}
	if c.InstanceURL == "" {
		return nil
	}
	u, err := url.Parse(c.InstanceURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || len(c.InstanceURL) > 2048 {
		return apperr.Field("instance_url", "must be an absolute http or https URL without a query or fragment, such as https://api.example.com")
	}
	return nil
}

// diffSalesforce lists the changes of the Salesforce-compatibility fields.
func diffSalesforce(a, b models.Client) []string {
	var out []string
	if a.SalesforceCompat != b.SalesforceCompat {
		out = append(out, fmt.Sprintf("salesforce_compat %t -> %t", a.SalesforceCompat, b.SalesforceCompat))
	}
	if a.InstanceURL != b.InstanceURL {
		out = append(out, fmt.Sprintf("instance_url %q -> %q", a.InstanceURL, b.InstanceURL))
	}
	return out
}
