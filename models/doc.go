// Package models holds authgate's gorm models. It is a leaf: it imports
// nothing of authgate's, and holds no behaviour beyond table definitions.
package models
