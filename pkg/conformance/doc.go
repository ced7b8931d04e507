// Package conformance is a suite of the exec path's observable behaviour,
// run against any kubeconfig: this stack in the test process
// (pkg/execlabtest), its binaries, or a real cluster. It creates its own
// pods from a configurable image, runs each case in each column (SPDY,
// WebSocket v4 and v5; plain HTTP for logs and leaks), removes the pods,
// and reports a table of case × protocol and JUnit XML. mini-kubectl
// conformance is its command line; docs/testing.md shows its table for
// this stack. Its cases are what upstream's e2e tests check of exec,
// attach, port-forward and logs (test/e2e/kubectl/kubectl.go,
// test/e2e/node/pods.go), gathered in one place and run per protocol.
//
// The files, by role:
//
//	suite.go              Options, Run, the columns (Protocol), one run's env
//	cases.go              the table of cases; how a fault (pkg/faults) changes what a case expects
//	exec_cases.go         exit codes, stdout/stderr, long argument, stdin EOF, binary, TTY, attach, cancel, execs
//	portforward_cases.go  port-forward both ways, a silent client, the pod deleted
//	logs_cases.go         logs: tail, limit-bytes, timestamps, since, follow
//	server_cases.go       negotiation, fallback, bad requests, the query's flags, no leak
//	pods.go               the suite's pods: created, waited for, deleted
//	client.go             Client: the suite's own (client-go), and what a client must offer
//	kubectl.go            Kubectl: a kubectl binary as the client
//	report.go             Report: the table and JUnit XML
package conformance
