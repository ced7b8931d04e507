package apiserver

import (
	"fmt"
	"net/http"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/handlers/negotiation"
	"k8s.io/apiserver/pkg/endpoints/request"

	"github.com/execlab/execlab/pkg/apiserver/registry"
)

// SelfSubjectAccessReview, which `kubectl auth can-i` creates: the
// authorizer asked about the caller, as
// pkg/registry/authorization/selfsubjectaccessreview/rest.go does.

var authorizationGV = authorizationv1.SchemeGroupVersion

// serveAccessReview serves the resource requests of authorization.k8s.io;
// registry.ServeDiscovery lists it.
func (s *Server) serveAccessReview(w http.ResponseWriter, r *http.Request, info *request.RequestInfo) {
	if info.APIVersion != authorizationGV.Version || info.Resource != "selfsubjectaccessreviews" || info.Subresource != "" || info.Name != "" {
		registry.WriteError(w, r, registry.ErrNotFoundPath())
		return
	}
	if info.Verb != "create" {
		registry.WriteError(w, r, registry.ErrMethodNotAllowedPath())
		return
	}
	body, err := registry.ReadBody(r)
	if err != nil {
		registry.WriteError(w, r, err)
		return
	}
	review, err := decodeAccessReview(body, r.Header.Get("Content-Type"))
	if err != nil {
		registry.WriteError(w, r, err)
		return
	}
	u, _ := request.UserFrom(r.Context())
	review.Status = s.review(r, u, review.Spec)
	registry.WriteNegotiated(w, r, http.StatusCreated, review, authorizationGV)
}

func decodeAccessReview(body []byte, contentType string) (*authorizationv1.SelfSubjectAccessReview, error) {
	info, err := negotiation.NegotiateInputSerializerForMediaType(contentType, false, registry.InputCodecs)
	if err != nil {
		return nil, err
	}
	review := &authorizationv1.SelfSubjectAccessReview{}
	gvk := authorizationGV.WithKind("SelfSubjectAccessReview")
	if _, _, err := registry.Codecs.DecoderToVersion(info.Serializer, authorizationGV).Decode(body, &gvk, review); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the object provided is unrecognized (must be of type SelfSubjectAccessReview): %v", err))
	}
	if (review.Spec.ResourceAttributes == nil) == (review.Spec.NonResourceAttributes == nil) {
		return nil, apierrors.NewInvalid(authorizationGV.WithKind("SelfSubjectAccessReview").GroupKind(), "", nil)
	}
	return review, nil
}

// review asks the authorizer about u doing what spec says.
func (s *Server) review(r *http.Request, u user.Info, spec authorizationv1.SelfSubjectAccessReviewSpec) authorizationv1.SubjectAccessReviewStatus {
	if s.authorizer == nil {
		return authorizationv1.SubjectAccessReviewStatus{Allowed: true}
	}
	attrs := authorizer.AttributesRecord{User: u}
	if ra := spec.ResourceAttributes; ra != nil {
		attrs.Verb, attrs.Namespace, attrs.APIGroup, attrs.APIVersion = ra.Verb, ra.Namespace, ra.Group, ra.Version
		attrs.Resource, attrs.Subresource, attrs.Name, attrs.ResourceRequest = ra.Resource, ra.Subresource, ra.Name, true
	} else {
		attrs.Verb, attrs.Path = spec.NonResourceAttributes.Verb, spec.NonResourceAttributes.Path
	}
	decision, reason, err := s.authorizer.Authorize(r.Context(), attrs)
	status := authorizationv1.SubjectAccessReviewStatus{Allowed: decision == authorizer.DecisionAllow, Denied: decision == authorizer.DecisionDeny, Reason: reason}
	if err != nil {
		status.EvaluationError = err.Error()
	}
	return status
}
