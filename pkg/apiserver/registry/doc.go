// Package registry is the generic API machinery of the fake kube-apiserver:
// an in-memory store with watches and a write-ahead log, the REST verbs with
// their per-kind strategies, and the HTTP handlers that decode requests and
// negotiate answers, for the core/v1 pods, nodes, namespaces and events and
// the coordination.k8s.io/v1 leases. The
// apiserver package routes requests here, except those an exec, a log or a
// binding makes, which it serves itself with what this package exports:
// the Store, the serializers and the error writer.
//
// The files, with the upstream code each mirrors:
//
//	store.go          Store: objects, resource versions, history (etcd3 store
//	                  and the watch cache)
//	watchers.go       a watch's view of store changes (cacher's cacheWatcher)
//	persist.go        the write-ahead log and snapshot that keep objects
//	                  across restarts (etcd's wal and snapshotter)
//	rest.go           Create and Update (registry/rest create.go, update.go)
//	delete.go         Delete, graceful for pods (registry/rest/delete.go,
//	                  generic/registry/store.go)
//	resource.go       Resource, Object, the strategies' interface
//	handlers.go       API: the HTTP verbs (endpoints/handlers get.go,
//	                  create.go, update.go, delete.go)
//	decode.go         a write's options, body and object; bindings
//	patch.go          JSON, merge and strategic merge patches
//	                  (endpoints/handlers/patch.go)
//	watch.go          the watch stream (endpoints/handlers/watch.go)
//	options.go        list and meta options from the query
//	conversion.go     query → PodExecOptions and friends; field selectors
//	                  (pkg/apis/core/v1 conversion)
//	response.go       negotiation, Tables and metadata, errors
//	                  (endpoints/handlers/response.go, responsewriters)
//	table.go          server-side printing (pkg/printers/internalversion)
//	discovery.go      /version, /api, /apis, /api/v1 (endpoints/discovery)
//	openapi.go        the OpenAPI documents kubectl needs
//	version.go        what /version answers
//	scheme.go         Scheme, Codecs, ParameterCodec (pkg/api/legacyscheme)
//	pods.go           pods (pkg/registry/core/pod/strategy.go)
//	poddefaults.go    pod defaults (pkg/apis/core/v1/defaults.go)
//	podvalidation.go  pod validation (pkg/apis/core/validation)
//	nodes.go          nodes (pkg/registry/core/node/strategy.go)
//	namespaces.go     namespaces, their deletion and NamespaceLifecycle
//	                  admission (pkg/registry/core/namespace)
//	events.go         events (pkg/registry/core/event)
//	leases.go         leases (pkg/registry/coordination/lease)
//
// Upstream's generic registry needs etcd and its CodecFactory the internal
// API types; serving five kinds from memory, this package writes the store
// and the codecs by hand and takes the rest from k8s.io/apiserver and
// k8s.io/apimachinery: negotiation, parameter codecs, validation, patches,
// error statuses.
package registry
