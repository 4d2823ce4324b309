package storage_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// A failed statement is logged without its bound values.
func TestFailedStatementLogsNoValues(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	db, err := storage.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "a.db"), storage.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer storage.Close(db)
	if err := storage.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	const secretValue = "very-secret-value-123"
	u := models.User{ID: "u1", Username: "alice", Email: "a@example.com", PasswordHash: secretValue, SecurityTokenHash: "h1"}
	if err := db.Create(&u).Error; err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	// Same primary key: fails.
	if err := db.Create(&u).Error; err == nil {
		t.Fatal("want a duplicate key error")
	}
	out := buf.String()
	if !strings.Contains(out, "database statement failed") {
		t.Fatalf("got log %q, want the failure logged", out)
	}
	if strings.Contains(out, secretValue) {
		t.Fatalf("the log holds a bound value: %s", out)
	}
	buf.Reset()
	var got models.User
	if err := db.Where("username = ?", "nobody").Take(&got).Error; err == nil {
		t.Fatal("want not found")
	}
	if buf.Len() != 0 {
		t.Fatalf("not found was logged: %s", buf.String())
	}
}
