// Package testutil holds the helpers that tests of several packages share,
// so that each exists once:
//
//	browser.go      Browser: a headless Chromium to drive with chromedp; WaitText,
//	                Click, Artifact (kept under _artifacts/)
//	buffer.go       SyncBuffer: a bytes.Buffer a server's logger and a test can share
//	goroutines.go   CheckGoroutines: fails a test that leaves goroutines running
//	ports.go        FreePort: a free loopback port for a process the test starts
//	portforward.go  PortForward: client-go's port forwarder on a free local port, as
//	                kubectl port-forward runs it; EchoThrough checks bytes both ways
package testutil
