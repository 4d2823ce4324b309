// Package notices sends the emails that announce a client's legacy sunset:
// at configured milestones before it (30, 7 and 1 days by default), every
// user who used the client's legacy grant recently gets one email naming
// the client, the date and the ways off the password grant.
//
// Each notice is claimed with an insert that only one replica can win (a
// row keyed by client, user, sunset and milestone) in the same transaction
// that puts the email in the outbox, so a user gets each notice once
// however many replicas run the janitor at once, and a claim never stands
// without its email.
package notices
