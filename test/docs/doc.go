// Package docs holds the tests that keep docs/ true: every file and
// function the docs name exists (hoptable_test.go), and every command the
// docs and the labs show gives the output they show (pages_test.go).
package docs
