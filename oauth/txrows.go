package oauth

import (
	"context"
	"sync"

	"github.com/authgate/authgate/models"
)

// txRows holds the rows a transaction has read ahead (Store.row), for the
// rest of that transaction. They were read locked (SELECT ... FOR UPDATE
// on PostgreSQL, SQLite's single writer), so no other transaction can
// change them before this one ends; this one's own writes drop them
// (forget, clear), so a later read goes to the database.
//
// It also holds the rows the transaction has written but not yet sent
// (pending): a transaction's new rows go to the database together, in one
// statement, when it next touches the token table or commits (Store.flush).
type txRows struct {
	mu      sync.Mutex
	rows    map[txRowKey]models.OAuthRequest
	pending []models.OAuthRequest
}

type txRowKey struct{ kind, signature string }

type txRowsKey struct{}

// txRowsOf returns the rows read ahead by the transaction in ctx; nil
// (whose methods do nothing) outside one.
func txRowsOf(ctx context.Context) *txRows {
	if _, inTx := txOf(ctx); !inTx {
		return nil
	}
	t, _ := ctx.Value(txRowsKey{}).(*txRows)
	return t
}

func (t *txRows) get(kind, signature string) (models.OAuthRequest, bool) {
	if t == nil {
		return models.OAuthRequest{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.rows[txRowKey{kind, signature}]
	return r, ok
}

func (t *txRows) put(r models.OAuthRequest) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rows == nil {
		t.rows = map[txRowKey]models.OAuthRequest{}
	}
	t.rows[txRowKey{r.Kind, r.Signature}] = r
}

func (t *txRows) forget(kind, signature string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.rows, txRowKey{kind, signature})
}

func (t *txRows) clear() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.rows)
}

// hold keeps r to be written with the transaction's other new rows; false
// outside a transaction begun by Store.BeginTX.
func (t *txRows) hold(r models.OAuthRequest) bool {
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending = append(t.pending, r)
	return true
}

// take returns the rows held back and forgets them.
func (t *txRows) take() []models.OAuthRequest {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.pending
	t.pending = nil
	return p
}

// holds reports whether a row of kind under signature is held back.
func (t *txRows) holds(kind, signature string) bool {
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range t.pending {
		if r.Kind == kind && r.Signature == signature {
			return true
		}
	}
	return false
}
