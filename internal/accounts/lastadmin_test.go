package accounts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/testdb"
)

// TestLastAdminStays: the last administrator can be neither deleted nor
// demoted, by any path (the CLI, the API and the console all come here),
// and two administrators demoting or deleting each other at the same
// moment cannot both succeed.
func TestLastAdminStays(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		f := setup(t, db, Options{})
		create := func(name string, admin bool) {
			t.Helper()
			if _, err := f.svc.CreateUser(ctx, "root", NewUser{Username: name, Email: name + "@example.com", Password: "Correct-Horse-1", Admin: admin}); err != nil {
				t.Fatal(err)
			}
		}
		create("root", true)
		create("bob", false)

		if err := f.svc.DeleteUser(ctx, "cli:test", "root"); !errors.Is(err, ErrLastAdmin) {
			t.Fatalf("delete the last admin: got %v, want ErrLastAdmin", err)
		}
		if _, err := f.svc.UpdateUser(ctx, "cli:test", "root", UserUpdate{Admin: ptr(false)}); !errors.Is(err, ErrLastAdmin) {
			t.Fatalf("demote the last admin: got %v, want ErrLastAdmin", err)
		}
		if u, err := f.svc.GetUser(ctx, "root"); err != nil || !u.Admin {
			t.Fatalf("root after the refusals: %+v %v, want an admin", u, err)
		}
		// Other changes to the last admin, and changes to others, go on.
		if _, err := f.svc.UpdateUser(ctx, "cli:test", "root", UserUpdate{Name: ptr("Root"), Admin: ptr(true)}); err != nil {
			t.Fatalf("rename the last admin: %v", err)
		}
		if err := f.svc.DeleteUser(ctx, "cli:test", "bob"); err != nil {
			t.Fatalf("delete a non-admin: %v", err)
		}

		// Two admins removing each other at once: one of them stays.
		survivor := "root"
		for round := range 5 {
			a, b := fmt.Sprintf("a%d", round), fmt.Sprintf("b%d", round)
			create(a, true)
			create(b, true)
			// Exactly two admins, a and b, when they race.
			if err := f.svc.DeleteUser(ctx, "cli:test", survivor); err != nil {
				t.Fatalf("round %d: delete %s with two other admins: %v", round, survivor, err)
			}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			wg.Go(func() { _, errs[0] = f.svc.UpdateUser(ctx, "cli:test", a, UserUpdate{Admin: ptr(false)}) })
			wg.Go(func() { errs[1] = f.svc.DeleteUser(ctx, "cli:test", b) })
			wg.Wait()
			refused := 0
			for _, err := range errs {
				switch {
				case errors.Is(err, ErrLastAdmin):
					refused++
				case err != nil:
					t.Fatalf("round %d: %v", round, err)
				}
			}
			var admins []string
			if err := db.Table("users").Where("admin = ?", true).Pluck("username", &admins).Error; err != nil {
				t.Fatal(err)
			}
			if refused != 1 || len(admins) != 1 {
				t.Fatalf("round %d: %d refused, admins left %v; want exactly one of each", round, refused, admins)
			}
			survivor = admins[0]
		}
	})
}
