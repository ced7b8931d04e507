// Package labs runs the commands a markdown page shows and checks that
// they print what the page says they print, so that docs and workshop labs
// cannot rot: `make test` runs every page of docs/ and docs/labs/, and
// `make lab N` (execlab lab N) runs one lab against the running stack.
//
// A page shows commands in ```console blocks: a line starting with "$ " is
// a command (a trailing backslash continues it), and the lines after it,
// up to the next command, are its output, stdout and stderr together as a
// terminal shows them. The output may contain the declared variable parts
// of Placeholders (<age>, <port>, <trace-id>…) and lines of just "..." for
// any number of lines. Every other block (```text, ```http…) is shown, not
// run. A page can say what it needs in an HTML comment on a line of its
// own, <!-- lab: needs=containerd -->, and it runs only where that is.
//
// The commands of a page run in order in one bash session (variables and
// background jobs carry over), in the repository's root, with the stack's
// environment: KUBECONFIG, $APISERVER, $TOKEN… (a command that exits the
// shell ends the session: the page fails there). The files:
//
//	page.go    Parse: a page's steps, placeholders and needs
//	match.go   Match: an output against what the page shows
//	run.go     Run: a page's steps in one bash session
package labs
