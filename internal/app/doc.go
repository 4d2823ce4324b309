// Package app is authgate's composition root: New builds the storage, the
// keyring, the password hasher, the services, the OAuth provider with the
// legacy grant, the public and admin HTTP handlers, the mail sender and the
// janitor, once. The server, every CLI command and every test harness build
// the application through it.
package app
