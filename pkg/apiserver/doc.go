// Package apiserver is the fake kube-apiserver: the core/v1 API for
// namespaces, nodes and pods, a scheduler, and the pods/exec, attach,
// portforward and log proxies to the kubelets. This package holds what an
// exec crosses; the generic API machinery (store, watches, the CRUD verbs,
// discovery, OpenAPI, tables, serializers, the pods, nodes and namespaces
// strategies) is in the registry package beneath it.
//
// # An exec through this package
//
// POST /api/v1/namespaces/NS/pods/POD/exec?command=sh&stdin=true... meets
// the filter chain first (filters.go): connection tracking, panic recovery,
// the request log, the RequestInfo parsed from the path, authentication
// (client certificate or bearer token) and authorization of "create" (POST)
// or "get" (a WebSocket GET) on pods/exec. routes.go sends it by its
// RequestInfo to serveConnect (connect.go), which decodes PodExecOptions,
// asks the authorizer for "create" as well, and finds the stream's place
// (podlocation.go): the pod, its container, its node's kubelet address and
// the kubelet's path and query, /exec/NS/POD/CONTAINER?command=sh&input=1.
// Within the session limit, the request is proxied there with
// UpgradeAwareHandler, or, for WebSocket v5 in translate mode (or in
// per-node mode, to a node that does not declare ExtendWebSocketsToKubelet),
// served by pkg/streamtranslator, which speaks SPDY to the kubelet.
//
// # Files
//
//	server.go        Options, New, Serve: the server, its stop and its parts
//	filters.go       the handler chain (server/config.go DefaultBuildHandlerChain)
//	authn.go         authentication: x509, token file, anonymous
//	                 (pkg/kubeapiserver/authenticator/config.go)
//	authz.go         authorization filter; "create" for every connect
//	                 (pkg/registry/core/pod/rest/authorize.go)
//	policy.go        the static policy in RBAC's shape, its bootstrap rules
//	                 (plugin/pkg/auth/authorizer/rbac/bootstrappolicy)
//	reviews.go       SelfSubjectAccessReview, SubjectAccessReview, TokenReview
//	                 and SelfSubjectReview (pkg/registry/authorization,
//	                 pkg/registry/authentication)
//	security.go      certificates, authenticator, authorizer, kubelet transport
//	tls.go           serving and kubelet-client TLS configurations
//	routes.go        health, metrics, pprof, and the API by RequestInfo
//	connect.go       exec, attach, portforward: proxy or translate, per mode or per node
//	                 (pkg/registry/core/pod/rest/subresources.go)
//	podlocation.go   pod → node → kubelet URL and the stream's path
//	                 (pkg/registry/core/pod/strategy.go ExecLocation and
//	                 friends; pkg/kubelet/client GetConnectionInfo)
//	logs.go          pods/log, streamed from the kubelet
//	                 (pkg/registry/core/pod/rest/log.go)
//	scheduler.go     the built-in scheduler and pods/binding
//	                 (pkg/registry/core/pod/storage BindingREST)
//	controllers.go   the controller loop; the namespace controller
//	                 (pkg/controller/namespace) and the garbage collection
//	                 of a deleted node's Lease (pkg/controller/garbagecollector)
//
// The mechanisms every execlab server shares (connection tracking, the
// response recorder, the session limit, pprof) are in internal/httpserver.
package apiserver
