package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/filters"
	"k8s.io/apiserver/pkg/endpoints/request"

	"github.com/execlab/execlab/pkg/apiserver/registry"

	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/execlab/execlab/pkg/tracing"
)

// overrideVerb is a request's authorization attributes with another verb.
type overrideVerb struct {
	authorizer.Attributes
	verb string
}

func (a overrideVerb) GetVerb() string { return a.verb }

// authorizeCreate makes exec, attach and port-forward need "create" on the
// subresource whatever the method: a WebSocket upgrade is a GET, which
// authorization sees as "get", so before 1.35 "get" on pods/exec was
// enough to exec over WebSocket. kube-apiserver checks "create" too since
// 1.35 (feature gate AuthorizePodWebsocketUpgradeCreatePermission, beta and
// on by default; kubernetes/kubernetes#134577 for issues.k8s.io/133515):
// ensureAuthorizedForVerb in pkg/registry/core/pod/rest/authorize.go,
// called first thing in each Connect of subresources.go. The Forbidden
// carries the authorizer's reason, which RBAC leaves empty: the message
// ends in "is forbidden: ".
func (s *Server) authorizeCreate(ctx context.Context) error {
	info, ok := request.RequestInfoFrom(ctx)
	if !ok {
		return apierrors.NewInternalError(errors.New("no request info in context"))
	}
	if s.authorizer == nil || info.Verb == "create" {
		return nil
	}
	attrs, err := filters.GetAuthorizerAttributes(ctx)
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("error building authorizer attributes: %w", err))
	}
	decision, reason, err := s.authorizer.Authorize(ctx, overrideVerb{Attributes: attrs, verb: "create"})
	if err != nil {
		return err
	}
	if decision != authorizer.DecisionAllow {
		return apierrors.NewForbidden(schema.GroupResource{Group: info.APIGroup, Resource: info.Resource}, info.Name, errors.New(reason))
	}
	trace.SpanFromContext(ctx).AddEvent(tracing.PhaseAuthorized, trace.WithAttributes(tracing.AttrDecision.String("allow"),
		tracing.AttrVerb.String("create"), tracing.AttrResource.String(info.Resource+"/"+info.Subresource)))
	return nil
}

// withAuthorization answers 403 to what the policy does not allow, with
// upstream's filter and so upstream's Forbidden messages.
func (s *Server) withAuthorization(h http.Handler) http.Handler {
	if s.authorizer == nil {
		return h
	}
	allowed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attrs := []attribute.KeyValue{tracing.AttrDecision.String("allow")}
		if info, ok := request.RequestInfoFrom(r.Context()); ok {
			attrs = append(attrs, tracing.AttrVerb.String(info.Verb), tracing.AttrResource.String(strings.Trim(info.Resource+"/"+info.Subresource, "/")))
		}
		trace.SpanFromContext(r.Context()).AddEvent(tracing.PhaseAuthorized, trace.WithAttributes(attrs...))
		h.ServeHTTP(w, r)
	})
	return filters.WithAuthorization(allowed, s.authorizer, registry.Codecs)
}
