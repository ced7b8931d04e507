// Package streamtranslator serves a WebSocket v5 exec or attach client by
// speaking SPDY to the next hop, as kube-apiserver does towards the kubelet
// and a kubelet with ExtendWebSocketsToKubelet does towards the runtime.
// pkg/apiserver and pkg/kubelet/server both translate through it.
//
// It is upstream's StreamTranslatorHandler
// (k8s.io/apiserver/pkg/util/proxy/streamtranslator.go and websocket.go)
// with one defect fixed: when the SPDY side ends without a status (the
// kubelet, the runtime or its streaming server died mid-session), upstream
// hears success from client-go, whose watchErrorStream takes an empty error
// stream for success, and tells the WebSocket client so; kubectl exits 0.
// Here the client gets a Failure status and kubectl exits 1. The files:
//
//	translator.go  Handler: the WebSocket server side, the SPDY client, the end status
//	statusless.go  the SPDY connection wrapper that sees whether a status came
package streamtranslator
