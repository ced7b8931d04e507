// Package kubelet is a small kubelet: it registers a Node, runs the pods
// bound to it on a CRI runtime over gRPC and reports their status. The
// kubelet API that the apiserver proxies `kubectl exec` and friends to is
// package server (pkg/kubelet/server), which Run starts and which knows the
// Kubelet only as its server.HostInterface.
//
// It follows the upstream kubelet where the wire is concerned — the CRI
// requests it sends (pkg/kubelet/kuberuntime), the pod and node status it
// writes (pkg/kubelet/status, pkg/kubelet/nodestatus) — and leaves out what
// a single machine without CNI, volumes or probes does not need. Every pod
// uses the node's network.
//
// On an exec, the server calls GetExec (exec.go): it finds the running
// container and asks the runtime for an exec session (RuntimeService/Exec),
// whose URL the server then proxies the client to. The files:
//
//	kubelet.go        Config, New, Run: the informer, the API server, the loops; pod lookup
//	config.go         LoadConfigFile: the KubeletConfiguration file (--config)
//	exec.go           GetExec, GetAttach, GetPortForward: the runtime's streaming URL of a session
//	containerlogs.go  GetKubeletContainerLogs: which attempt's log, read by package logs
//
// Pod sync:
//
//	podworkers.go     one worker per pod, the sync loop and its health check
//	sync.go           syncPod: sandbox, image, container start, restarts and crash-loop back-off
//	backoff.go        upstream's back-off timings, the crash-loop cap and its reset
//	terminate.go      stopping and removing a pod's containers and sandboxes
//	runtimestate.go   what the runtime has of a pod
//
// Status:
//
//	status.go         the pod status from the runtime's state (phase, conditions, container states)
//	statusmanager.go  writing it to the apiserver, retrying on conflict
//	reasoncache.go    why a container is waiting, kept between syncs
//	node.go           node registration, and the node status posted when it changes
//	nodelease.go      the node's Lease, its heartbeat (upstream's lease controller)
//	events.go         the events of the kubelet's work, which kubectl describe pod lists
//	features.go       the feature gates (--feature-gates) and the features the node declares
//
// Talking to the runtime:
//
//	remote.go         the CRI client: one bounded call per RPC
//	images.go         pull policy and image pull back-off
//	sandbox.go        the sandbox config (DNS, namespaces, log directory)
//	container.go      the container config (command, env, security context)
//	labels.go         the labels and annotations the kubelet reads back from the runtime
//	resources.go      QoS class, CPU shares and quota, OOM score
//	expansion.go      $(VAR) expansion in command, args and env
//
// Back-off is k8s.io/client-go/util/flowcontrol.Backoff and status updates
// retry with k8s.io/client-go/util/retry, as upstream's kubelet; the pod
// workers are written here, since how a kubelet serialises each pod's syncs
// is what this package is for.
package kubelet
