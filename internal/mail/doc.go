// Package mail queues messages in a database outbox, in the caller's
// transaction, and delivers them in the background over SMTP or into a
// folder of .eml files, with retries.
package mail
