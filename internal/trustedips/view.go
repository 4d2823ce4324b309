package trustedips

import (
	"time"

	"github.com/authgate/authgate/models"
)

// View is how the admin API and the CLI show a trusted range as JSON.
type View struct {
	CIDR        string    `json:"cidr"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
}

// ViewOf returns the View of tr, its time in UTC.
func ViewOf(tr models.TrustedRange) View {
	return View{CIDR: tr.CIDR, Description: tr.Description, CreatedAt: tr.CreatedAt.UTC()}
}
