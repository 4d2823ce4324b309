package oauth

import "context"

// StrategyOf returns the provider's token strategy, for tests.
func StrategyOf(p *Provider) *TokenStrategy { return p.strategy }

// KeysOf returns the provider's key manager, for tests.
func KeysOf(p *Provider) *KeyManager { return p.keys }

// SetCodeSignature gives s the key of a code's OpenID Connect session, as
// NewProvider does with its token strategy's.
func SetCodeSignature(s *Store, f func(ctx context.Context, code string) string) { s.codeSignature = f }
