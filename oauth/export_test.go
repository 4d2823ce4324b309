package oauth

// StrategyOf returns the provider's token strategy, for tests.
func StrategyOf(p *Provider) *TokenStrategy { return p.strategy }

// KeysOf returns the provider's key manager, for tests.
func KeysOf(p *Provider) *KeyManager { return p.keys }
