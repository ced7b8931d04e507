package registry

import (
	"net/url"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metainternalversionscheme "k8s.io/apimachinery/pkg/apis/meta/internalversion/scheme"
	metainternalversionvalidation "k8s.io/apimachinery/pkg/apis/meta/internalversion/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Query parameters, decoded with the upstream parameter codecs and
// validations, so that selectors, resource versions and flags parse (and
// fail) exactly as with kube-apiserver.

// parseListOptions decodes the query of a list or watch of res, as
// handlers/get.go ListResource does: defaults (a watch from "" or "0" sends
// the initial events), validation, and field selectors checked against the
// fields res supports. name is the object named in a legacy /watch/ path.
func parseListOptions(query url.Values, res *Resource, name string) (*metainternalversion.ListOptions, predicate, error) {
	opts := &metainternalversion.ListOptions{}
	if err := metainternalversionscheme.ParameterCodec.DecodeParameters(query, metav1.SchemeGroupVersion, opts); err != nil {
		return nil, predicate{}, apierrors.NewBadRequest(err.Error())
	}
	metainternalversion.SetListOptionsDefaults(opts, true)
	if errs := metainternalversionvalidation.ValidateListOptions(opts, true); len(errs) > 0 {
		return nil, predicate{}, apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "ListOptions"}, "", errs)
	}
	if opts.FieldSelector != nil {
		selector, err := opts.FieldSelector.Transform(func(label, value string) (string, string, error) {
			return Scheme.ConvertFieldLabel(res.gvk(), label, value)
		})
		if err != nil {
			return nil, predicate{}, apierrors.NewBadRequest(err.Error())
		}
		opts.FieldSelector = selector
	}
	if name != "" {
		if opts.FieldSelector != nil && !opts.FieldSelector.Empty() {
			if selected, ok := opts.FieldSelector.RequiresExactMatch("metadata.name"); !ok || selected != name {
				return nil, predicate{}, apierrors.NewBadRequest("fieldSelector metadata.name doesn't match requested name")
			}
		} else {
			opts.FieldSelector = fields.OneTermEqualSelector("metadata.name", name)
		}
	}
	return opts, predicate{label: opts.LabelSelector, field: opts.FieldSelector}, nil
}

// decodeMetaOptions decodes query into one of the meta/v1 option types
// (CreateOptions, UpdateOptions, PatchOptions, DeleteOptions, GetOptions).
func decodeMetaOptions(query url.Values, into runtime.Object) error {
	if err := metainternalversionscheme.ParameterCodec.DecodeParameters(query, metav1.SchemeGroupVersion, into); err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	return nil
}

// invalidOptions is the error for option values that do not validate, nil
// when errs is empty.
func invalidOptions(kind string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: kind}, "", errs)
}

// ErrDryRun answers a dry-run request, which this server does not offer.
var ErrDryRun = apierrors.NewBadRequest("dryRun is not supported")

// fieldValidation is the field validation a write asked for; the default
// is Warn, as since Kubernetes 1.27.
func fieldValidation(directive string) string {
	if directive == "" {
		return metav1.FieldValidationWarn
	}
	return directive
}
