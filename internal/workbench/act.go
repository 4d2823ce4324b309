package workbench

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/notices"
	"github.com/authgate/authgate/models"
)

// Clients is what the actions need of the clients service.
type Clients interface {
	Get(ctx context.Context, id string) (models.Client, error)
	Update(ctx context.Context, actor, id string, up clients.ClientUpdate) (models.Client, error)
	SetLegacy(ctx context.Context, actor, id string, enabled bool) (models.Client, error)
}

// Notices sends a client's sunset notices at once.
type Notices interface {
	SendNow(ctx context.Context, c models.Client) (notices.Result, error)
}

// Actor carries out the workbench's actions through the services that own
// each rule (validation, audit, cache invalidation and revocation happen
// there). Scheduling a brownout is the clients service's AddBrownout,
// which every surface already offers.
type Actor struct {
	Clients Clients
	Notices Notices
}

// Outcome is what an action did, in words for the administrator.
type Outcome struct {
	Action  string          `json:"action"`
	Message string          `json:"message"`
	Notices *notices.Result `json:"notices,omitempty"`
}

// ErrUnknownAction is an action the workbench does not know.
var ErrUnknownAction = apperr.Field("action", "is not one of enable_device_grant, enable_client_credentials, require_app_passwords, send_notices, disable_legacy")

// ErrUnavailable is an action this server cannot carry out (yet).
func errUnavailable(note string) error {
	return &apperr.Error{Code: apperr.Conflict, Field: "action", Message: note}
}

// Do carries out action on the client with id as actor.
func (a *Actor) Do(ctx context.Context, actor, id, action string) (Outcome, error) {
	c, err := a.Clients.Get(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{Action: action}
	addGrant := func(grant string) error {
		if slices.Contains(c.GrantTypes, grant) {
			return errUnavailable("the client already holds " + grant)
		}
		grants := append(slices.Clone(c.GrantTypes), grant)
		_, err := a.Clients.Update(ctx, actor, id, clients.ClientUpdate{GrantTypes: &grants})
		return err
	}
	switch action {
	case ActionEnableDeviceGrant:
		if !DeviceGrantSupported() {
			return out, errUnavailable("not available on this server yet: it has no device authorization grant")
		}
		if err := addGrant(DeviceGrantType); err != nil {
			return out, err
		}
		out.Message = fmt.Sprintf("%s may now use the device flow; its owners can move their tool to it before the sunset.", c.Name)
	case ActionEnableClientCredentials:
		if err := addGrant(clients.GrantClientCredentials); err != nil {
			return out, err
		}
		out.Message = fmt.Sprintf("%s may now use client credentials, with its own secret and no user.", c.Name)
	case ActionSendNotices:
		r, err := a.Notices.SendNow(ctx, c)
		if err != nil {
			if errors.Is(err, notices.ErrNoSunset) {
				return out, errUnavailable("the client has no sunset still to come: set one first")
			}
			return out, err
		}
		out.Notices = &r
		out.Message = fmt.Sprintf("Sent the sunset notice of %s to %d of its %d recent users (the others had it already).", c.Name, r.Sent, r.Users)
	case ActionDisableLegacy:
		if _, err := a.Clients.SetLegacy(ctx, actor, id, false); err != nil {
			return out, err
		}
		out.Message = fmt.Sprintf("The legacy password grant of %s is off; the grants it issued are revoked.", c.Name)
	case ActionRequireAppPasswords:
		if !slices.Contains(c.GrantTypes, clients.GrantPassword) {
			return out, errUnavailable("the client does not hold the legacy password grant")
		}
		if c.LegacyCredentials == models.LegacyAppPassword {
			return out, errUnavailable("the client already accepts only app passwords")
		}
		creds := models.LegacyAppPassword
		// The clients service audits the change (legacy_credentials), and
		// the grants password + token obtained end at their next use.
		if _, err := a.Clients.Update(ctx, actor, id, clients.ClientUpdate{LegacyCredentials: &creds}); err != nil {
			return out, err
		}
		out.Message = fmt.Sprintf("%s now accepts only app passwords on the legacy grant: its users create one at their account page (App passwords) and send it as the password; what password + token obtained no longer works.", c.Name)
	default:
		return out, ErrUnknownAction
	}
	return out, nil
}
