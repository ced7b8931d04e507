// Package faults injects faults into the exec path, at any hop, so that a
// client, proxy or server can be tested against what a real cluster does
// when something goes wrong. Each fault is a row of one table (Table in
// table.go, rendered into docs/testing.md by Markdown): its name, the hops
// it can be put at, its parameters, what it does on the wire, what a
// correct client does about it, and which deliberately broken client it
// catches. The map of the table:
//
//	fault           at                            what
//	upgrade-delay   apiserver, kubelet, streaming  holds the upgrade request d
//	frame-delay     apiserver, kubelet, streaming  holds each frame of a stream d
//	refuse-upgrade  apiserver, kubelet, streaming  answers status and body, not 101
//	protocols       apiserver, kubelet, streaming  offers only the versions listed
//	close-after     apiserver, kubelet, streaming  FIN after N bytes of a stream
//	reset-after     apiserver, kubelet, streaming  RST after N bytes of a stream
//	stall           apiserver, kubelet, streaming  passes nothing more after N bytes
//	cri-error       runtime                        the CRI call fails: gRPC code, message
//	streaming-url   runtime                        a relative or scheme-less URL
//	token-expiry    streaming                      one-time tokens expire early
//	kill            apiserver, kubelet, runtime    the component dies (the harness does it)
//
// A fault is written NAME[:param=value,...] (Parse, Syntax): the --fault
// flag of fake-apiserver, fake-kubelet and fake-cri, repeatable, and
// pkg/execlabtest's Options.Faults. A hop applies its faults where it
// hands a session on: Wrap around its proxy (the apiserver, the kubelet)
// or its streaming endpoints (the streaming server), UnaryInterceptor
// around fake-cri's CRI service, Set.TokenTTL in the token cache. A hop
// with no faults gets its own handler back and no interceptor: the data
// path pays nothing for faults that are off.
//
// The faults of the connection read the frames as they pass, without
// copying them: SPDY/3.1 (moby/spdystream's framer reads the control
// frames, whose compressed headers name the streams) and WebSocket (RFC
// 6455 frame headers; remotecommand's channel byte names the stream). The
// files:
//
//	table.go     Table, Spec, Param, Hop, Expect: the faults, one row each
//	fault.go     Fault, Parse, String, Set (a flag.Value): a fault as written
//	upgrade.go   Wrap: the faults of the upgrade request, and the connection wrapped
//	conn.go      the connection's faults: pauses, stalls, cuts, both ways
//	frames.go    frames: where each frame begins and ends, and whose it is
//	runtime.go   UnaryInterceptor: the runtime's faults on the CRI gRPC service
//	markdown.go  Markdown: the table as docs/testing.md shows it
//
// Upstream has no fault injection on this path; what a fault imitates is
// named in its row (the kubelets ≥ 1.36 that resolve no relative URL, the
// streaming server's token TTL in cri-streaming's request_cache.go).
package faults
