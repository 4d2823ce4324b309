// Package clientip determines the address of the client behind a request,
// believing X-Forwarded-For and Forwarded headers only when they come from a
// configured trusted proxy.
package clientip
