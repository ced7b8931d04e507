// Package docs holds the tests that keep docs/ true: every file and
// function the docs name exists, and (in labs_test.go) every command the
// labs show gives the output they show.
package docs
