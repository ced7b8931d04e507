package minikubectl

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/exec"
)

// Errors that reach the user keep the wording kubectl gives them (the tests
// compare them with kubectl's), so the commands return client-go's errors
// as they come instead of wrapping them.

// reportError prints err the way kubectl's cmdutil.CheckErr does
// (kubectl/pkg/cmd/util/helpers.go, checkErr) and returns the exit code.
func reportError(err error, errOut io.Writer) int {
	if err == nil {
		return 0
	}
	var exitErr exec.ExitError
	if errors.As(err, &exitErr) && exitErr.Exited() {
		// The remote command's status: "command terminated with exit code 3", exit 3.
		fmt.Fprintln(errOut, exitErr.Error())
		return exitErr.ExitStatus()
	}
	fmt.Fprint(errOut, errorMessage(err))
	return 1
}

// errorMessage is the text checkErr prints for err, ending in a newline.
func errorMessage(err error) string {
	if agg, ok := err.(utilerrors.Aggregate); ok && len(agg.Errors()) == 1 {
		err = agg.Errors()[0]
	}
	switch {
	case apierrors.IsInvalid(err):
		return invalidMessage(err.(*apierrors.StatusError).Status().Details)
	case clientcmd.IsConfigurationInvalid(err):
		return multilineError("Error in configuration: ", err)
	}
	var noMatch *meta.NoResourceMatchError
	if errors.As(err, &noMatch) {
		return fmt.Sprintf("error: the server doesn't have a resource type %q\n", noMatch.PartialResource.Resource)
	}
	if agg, ok := err.(utilerrors.Aggregate); ok {
		// Several failures (apply): one line each, no "error: " prefix.
		var b strings.Builder
		for _, e := range utilerrors.Flatten(agg).Errors() {
			if msg, ok := standardErrorMessage(e); ok {
				b.WriteString(msg + "\n")
			} else {
				b.WriteString(e.Error() + "\n")
			}
		}
		return b.String()
	}
	if msg, ok := standardErrorMessage(err); ok {
		return msg + "\n"
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "error: ") {
		msg = "error: " + msg
	}
	return msg + "\n"
}

// standardErrorMessage mirrors kubectl's cmdutil.StandardErrorMessage: API
// errors read "Error from server (Reason): …", unreachable servers get a hint.
// Like kubectl it looks at err itself, not at what err wraps.
func standardErrorMessage(err error) (string, bool) {
	if status, ok := err.(apierrors.APIStatus); ok {
		switch s := status.Status(); {
		case s.Reason == metav1.StatusReasonUnauthorized:
			return fmt.Sprintf("error: You must be logged in to the server (%s)", s.Message), true
		case s.Reason != "":
			return fmt.Sprintf("Error from server (%s): %s", s.Reason, err.Error()), true
		default:
			return fmt.Sprintf("Error from server: %s", err.Error()), true
		}
	}
	if urlErr, ok := err.(*url.Error); ok {
		if strings.Contains(urlErr.Err.Error(), "connection refused") {
			host := urlErr.URL
			if server, err := url.Parse(urlErr.URL); err == nil {
				host = server.Host
			}
			return fmt.Sprintf("The connection to the server %s was refused - did you specify the right host or port?", host), true
		}
		return fmt.Sprintf("Unable to connect to the server: %v", urlErr.Err), true
	}
	return "", false
}

// invalidMessage words a 422 Invalid as kubectl does:
// "The Pod "x" is invalid: spec.containers: Required value".
func invalidMessage(details *metav1.StatusDetails) string {
	s := "The request is invalid"
	if details == nil {
		return s + "\n"
	}
	if details.Kind != "" || details.Name != "" {
		s = fmt.Sprintf("The %s %q is invalid", details.Kind, details.Name)
	}
	if len(details.Causes) == 0 {
		return s + "\n"
	}
	var causes []error
	seen := map[string]bool{}
	for _, c := range details.Causes {
		msg := fmt.Sprintf("%s: %s", c.Field, c.Message)
		if !seen[msg] {
			seen[msg] = true
			causes = append(causes, errors.New(msg))
		}
	}
	return multilineError(s+": ", utilerrors.NewAggregate(causes))
}

// multilineError mirrors kubectl's cmdutil.MultilineError: one error on the
// prefix's line, several as a bulleted list below it.
func multilineError(prefix string, err error) string {
	agg, ok := err.(utilerrors.Aggregate)
	if !ok {
		return prefix + err.Error() + "\n"
	}
	errs := utilerrors.Flatten(agg).Errors()
	switch len(errs) {
	case 0:
		return prefix + err.Error() + "\n"
	case 1:
		return prefix + errs[0].Error() + "\n"
	}
	var b strings.Builder
	b.WriteString(prefix + "\n")
	for _, e := range errs {
		fmt.Fprintf(&b, "* %v\n", e)
	}
	return b.String()
}
