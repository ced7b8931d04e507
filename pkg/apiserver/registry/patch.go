package registry

import (
	"bytes"
	"errors"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/mergepatch"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apiserver/pkg/endpoints/handlers/negotiation"
)

// Patches as kube-apiserver applies them to built-in types
// (k8s.io/apiserver/pkg/endpoints/handlers/patch.go): JSON patch (kubectl
// patch --type json), JSON merge patch and strategic merge patch (kubectl
// apply and edit). Server-side apply is not offered.

// patchTypes are the accepted PATCH content types.
var patchTypes = []string{string(types.JSONPatchType), string(types.MergePatchType), string(types.StrategicMergePatchType)}

// maxJSONPatchOperations bounds a JSON patch, as upstream does.
const maxJSONPatchOperations = 10000

// checkPatchType answers 415 for a content type that is not a patch.
func checkPatchType(contentType string) (types.PatchType, error) {
	for _, t := range patchTypes {
		if contentType == t {
			return types.PatchType(t), nil
		}
	}
	return "", negotiation.NewUnsupportedMediaTypeError(patchTypes)
}

// applyPatch patches cur, encoded as the client sees it, and returns the
// patched JSON; the caller decodes it like a request body.
func applyPatch(res *Resource, patchType types.PatchType, cur Object, patch []byte) ([]byte, error) {
	var current bytes.Buffer
	if err := encoderFor(Codecs.jsonInfo().Serializer, res.gv).Encode(cur, &current); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	switch patchType {
	case types.JSONPatchType:
		ops, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		if len(ops) > maxJSONPatchOperations {
			return nil, apierrors.NewRequestEntityTooLargeError("The allowed maximum operations in a JSON patch is 10000")
		}
		patched, err := ops.Apply(current.Bytes())
		if err != nil {
			return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", err.Error(), 0, false)
		}
		return patched, nil
	case types.MergePatchType:
		patched, err := jsonpatch.MergePatch(current.Bytes(), patch)
		if errors.Is(err, jsonpatch.ErrBadJSONPatch) {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return patched, err
	default:
		patched, err := strategicpatch.StrategicMergePatch(current.Bytes(), patch, res.newObject())
		if err != nil {
			return nil, interpretStrategicMergePatchError(err)
		}
		return patched, nil
	}
}

// interpretStrategicMergePatchError makes a malformed patch a BadRequest.
func interpretStrategicMergePatchError(err error) error {
	switch {
	case errors.Is(err, mergepatch.ErrBadJSONDoc), errors.Is(err, mergepatch.ErrBadPatchFormatForPrimitiveList),
		errors.Is(err, mergepatch.ErrBadPatchFormatForRetainKeys), errors.Is(err, mergepatch.ErrBadPatchFormatForSetElementOrderList),
		errors.Is(err, mergepatch.ErrUnsupportedStrategicMergePatchFormat):
		return apierrors.NewBadRequest(err.Error())
	case errors.Is(err, mergepatch.ErrNoListOfLists), errors.Is(err, mergepatch.ErrPatchContentNotMatchRetainKeys):
		return apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", err.Error(), 0, false)
	}
	return apierrors.NewBadRequest(err.Error())
}
