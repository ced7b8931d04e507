package apiserver

import (
	"fmt"
	"net/http"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/handlers/negotiation"
	"k8s.io/apiserver/pkg/endpoints/request"

	"github.com/execlab/execlab/pkg/apiserver/registry"
)

// The review APIs, each a create that stores nothing and answers the
// reviewed object with its status:
//   - SelfSubjectAccessReview (`kubectl auth can-i`): the authorizer asked
//     about the caller (pkg/registry/authorization/selfsubjectaccessreview);
//   - SubjectAccessReview: asked about the user the spec names
//     (pkg/registry/authorization/subjectaccessreview), which a kubelet in
//     Webhook mode sends for each request it authorizes;
//   - TokenReview: the authenticator asked about a bearer token
//     (pkg/registry/authentication/tokenreview), which a kubelet with the
//     token webhook sends;
//   - SelfSubjectReview (`kubectl auth whoami`): the caller as authenticated
//     (pkg/registry/authentication/selfsubjectreview).

var (
	authorizationGV  = authorizationv1.SchemeGroupVersion
	authenticationGV = authenticationv1.SchemeGroupVersion
)

// serveReview serves the resource requests of authorization.k8s.io and
// authentication.k8s.io; registry.ServeDiscovery lists them.
func (s *Server) serveReview(w http.ResponseWriter, r *http.Request, info *request.RequestInfo) {
	gv := schema.GroupVersion{Group: info.APIGroup, Version: info.APIVersion}
	var review func(body []byte, contentType string, r *http.Request) (runtime.Object, error)
	switch {
	case gv == authorizationGV && info.Resource == "selfsubjectaccessreviews":
		review = s.selfSubjectAccessReview
	case gv == authorizationGV && info.Resource == "subjectaccessreviews":
		review = s.subjectAccessReview
	case gv == authenticationGV && info.Resource == "tokenreviews":
		review = s.tokenReview
	case gv == authenticationGV && info.Resource == "selfsubjectreviews":
		review = selfSubjectReview
	}
	if review == nil || info.Subresource != "" || info.Name != "" {
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
	obj, err := review(body, r.Header.Get("Content-Type"), r)
	if err != nil {
		registry.WriteError(w, r, err)
		return
	}
	registry.WriteNegotiated(w, r, http.StatusCreated, obj, gv)
}

// decodeReview decodes body into a review of kind gvk.
func decodeReview(body []byte, contentType string, gvk schema.GroupVersionKind, into runtime.Object) error {
	info, err := negotiation.NegotiateInputSerializerForMediaType(contentType, false, registry.InputCodecs)
	if err != nil {
		return err
	}
	if _, _, err := registry.Codecs.DecoderToVersion(info.Serializer, gvk.GroupVersion()).Decode(body, &gvk, into); err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("the object provided is unrecognized (must be of type %s): %v", gvk.Kind, err))
	}
	return nil
}

func (s *Server) selfSubjectAccessReview(body []byte, contentType string, r *http.Request) (runtime.Object, error) {
	review := &authorizationv1.SelfSubjectAccessReview{}
	gvk := authorizationGV.WithKind("SelfSubjectAccessReview")
	if err := decodeReview(body, contentType, gvk, review); err != nil {
		return nil, err
	}
	spec := review.Spec
	if errs := validateAttributes(spec.ResourceAttributes, spec.NonResourceAttributes); len(errs) > 0 {
		return nil, apierrors.NewInvalid(gvk.GroupKind(), "", errs)
	}
	u, _ := request.UserFrom(r.Context())
	review.Status = s.review(r, u, spec.ResourceAttributes, spec.NonResourceAttributes)
	return review, nil
}

// subjectAccessReview validates as ValidateSubjectAccessReview
// (pkg/apis/authorization/validation) does.
func (s *Server) subjectAccessReview(body []byte, contentType string, r *http.Request) (runtime.Object, error) {
	review := &authorizationv1.SubjectAccessReview{}
	gvk := authorizationGV.WithKind("SubjectAccessReview")
	if err := decodeReview(body, contentType, gvk, review); err != nil {
		return nil, err
	}
	spec := review.Spec
	errs := validateAttributes(spec.ResourceAttributes, spec.NonResourceAttributes)
	if spec.User == "" && len(spec.Groups) == 0 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "user"), spec.User, `at least one of user or group must be specified`))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(gvk.GroupKind(), "", errs)
	}
	extra := map[string][]string{}
	for k, v := range spec.Extra {
		extra[k] = v
	}
	u := &user.DefaultInfo{Name: spec.User, UID: spec.UID, Groups: spec.Groups, Extra: extra}
	review.Status = s.review(r, u, spec.ResourceAttributes, spec.NonResourceAttributes)
	return review, nil
}

// validateAttributes: exactly one of the two, as upstream's
// validateSubjectAccessReviewSpec.
func validateAttributes(ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) field.ErrorList {
	spec := field.NewPath("spec")
	switch {
	case ra != nil && nra != nil:
		return field.ErrorList{field.Invalid(spec.Child("nonResourceAttributes"), nra, `cannot be specified in combination with resourceAttributes`)}
	case ra == nil && nra == nil:
		return field.ErrorList{field.Invalid(spec.Child("resourceAttributes"), ra, `exactly one of nonResourceAttributes or resourceAttributes must be specified`)}
	}
	return nil
}

// review asks the authorizer about u doing what the attributes say.
func (s *Server) review(r *http.Request, u user.Info, ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) authorizationv1.SubjectAccessReviewStatus {
	if s.authorizer == nil {
		return authorizationv1.SubjectAccessReviewStatus{Allowed: true}
	}
	attrs := authorizer.AttributesRecord{User: u}
	if ra != nil {
		attrs.Verb, attrs.Namespace, attrs.APIGroup, attrs.APIVersion = ra.Verb, ra.Namespace, ra.Group, ra.Version
		attrs.Resource, attrs.Subresource, attrs.Name, attrs.ResourceRequest = ra.Resource, ra.Subresource, ra.Name, true
	} else {
		attrs.Verb, attrs.Path = nra.Verb, nra.Path
	}
	decision, reason, err := s.authorizer.Authorize(r.Context(), attrs)
	status := authorizationv1.SubjectAccessReviewStatus{Allowed: decision == authorizer.DecisionAllow, Denied: decision == authorizer.DecisionDeny, Reason: reason}
	if err != nil {
		status.EvaluationError = err.Error()
	}
	return status
}

// tokenReview authenticates the token as a request bearing it would be,
// with the server's authenticator.
func (s *Server) tokenReview(body []byte, contentType string, r *http.Request) (runtime.Object, error) {
	review := &authenticationv1.TokenReview{}
	if err := decodeReview(body, contentType, authenticationGV.WithKind("TokenReview"), review); err != nil {
		return nil, err
	}
	if review.Spec.Token == "" {
		return nil, apierrors.NewBadRequest("token is required for TokenReview in authentication")
	}
	if s.authn == nil {
		return review, nil // nothing authenticates: no token is known
	}
	bearing := (&http.Request{Header: http.Header{"Authorization": {"Bearer " + review.Spec.Token}}}).WithContext(r.Context())
	resp, ok, err := s.authn.AuthenticateRequest(bearing)
	review.Status.Authenticated = ok
	if err != nil {
		review.Status.Error = err.Error()
	}
	if ok && resp.User != nil {
		review.Status.User = userInfo(resp.User)
		review.Status.Audiences = resp.Audiences
	}
	return review, nil
}

func selfSubjectReview(body []byte, contentType string, r *http.Request) (runtime.Object, error) {
	review := &authenticationv1.SelfSubjectReview{}
	if err := decodeReview(body, contentType, authenticationGV.WithKind("SelfSubjectReview"), review); err != nil {
		return nil, err
	}
	u, ok := request.UserFrom(r.Context())
	if !ok {
		return nil, apierrors.NewInternalError(fmt.Errorf("no user in the request"))
	}
	review.Status.UserInfo = userInfo(u)
	return review, nil
}

func userInfo(u user.Info) authenticationv1.UserInfo {
	info := authenticationv1.UserInfo{Username: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups()}
	for k, v := range u.GetExtra() {
		if info.Extra == nil {
			info.Extra = map[string]authenticationv1.ExtraValue{}
		}
		info.Extra[k] = v
	}
	return info
}
