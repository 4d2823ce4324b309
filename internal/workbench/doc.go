// Package workbench is where an organisation runs its move off the legacy
// password grant: per legacy client, who still uses it and how (last use,
// user agents, networks, whether a security token, a trusted range or an
// app password admitted them), a suggested way off derived from what was
// seen, the actions that follow from it, and a dry run of what would break
// if the grant were turned off now, exported as CSV.
//
// It reads the login history through internal/storage and acts through
// the clients and notices services; the console, the admin API and the CLI
// all call it, so each rule lives here only.
package workbench
