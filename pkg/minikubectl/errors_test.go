package minikubectl

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/util/exec"
)

// TestReportError checks the exit code and text for each kind of error
// kubectl's CheckErr tells apart.
func TestReportError(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "https://127.0.0.1:6443/api/v1/namespaces/default/pods/x", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name string
		err  error
		out  string
		code int
	}{
		{"none", nil, "", 0},
		{"remote exit code", exec.CodeExitError{Err: errors.New("command terminated with exit code 3"), Code: 3}, "command terminated with exit code 3\n", 3},
		{"remote exit code, wrapped", fmt.Errorf("exec: %w", exec.CodeExitError{Err: errors.New("command terminated with exit code 255"), Code: 255}), "command terminated with exit code 255\n", 255},
		{"not found", apierrors.NewNotFound(corev1.Resource("pods"), "x"), "Error from server (NotFound): pods \"x\" not found\n", 1},
		{"bad request", apierrors.NewBadRequest("container nope is not valid for pod demo"), "Error from server (BadRequest): container nope is not valid for pod demo\n", 1},
		{"unauthorized", apierrors.NewUnauthorized("bad token"), "error: You must be logged in to the server (bad token)\n", 1},
		{"status without reason", &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Message: "odd"}}, "Error from server: odd\n", 1},
		{
			"invalid",
			apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "x", field.ErrorList{
				field.Required(field.NewPath("spec", "containers"), ""),
				field.Invalid(field.NewPath("metadata", "name"), "X", "must be lower case"),
			}),
			"The Pod \"x\" is invalid: \n* spec.containers: Required value\n* metadata.name: Invalid value: \"X\": must be lower case\n", 1,
		},
		{"connection refused", refused, "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?\n", 1},
		{"other connection error", &url.Error{Op: "Get", URL: "https://x", Err: errors.New("tls: bad certificate")}, "Unable to connect to the server: tls: bad certificate\n", 1},
		{"plain", errors.New("boom"), "error: boom\n", 1},
		{"already prefixed", errors.New("error: boom"), "error: boom\n", 1},
		{"aggregate of one", utilerrors.NewAggregate([]error{apierrors.NewNotFound(corev1.Resource("pods"), "x")}), "Error from server (NotFound): pods \"x\" not found\n", 1},
		{"aggregate", utilerrors.NewAggregate([]error{errors.New("one"), apierrors.NewAlreadyExists(corev1.Resource("pods"), "x")}), "one\nError from server (AlreadyExists): pods \"x\" already exists\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			if code := reportError(tc.err, &out); code != tc.code || out.String() != tc.out {
				t.Errorf("got exit %d and %q, want exit %d and %q", code, out.String(), tc.code, tc.out)
			}
		})
	}
}
