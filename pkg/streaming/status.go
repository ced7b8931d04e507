package streaming

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/remotecommand"
)

// streamStatus is how an exec or attach ended, as the error stream carries
// it: a metav1.Status without type and list metadata. That is the exact JSON
// of k8s.io/cri-streaming's remotecommand/status.go, e.g.
//
//	{"status":"Success"}
//	{"status":"Failure","message":"command terminated with non-zero exit code: exit status 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}
//
// client-go decodes it into a metav1.Status.
type streamStatus struct {
	Status  string                `json:"status,omitempty"`
	Message string                `json:"message,omitempty"`
	Reason  metav1.StatusReason   `json:"reason,omitempty"`
	Details *metav1.StatusDetails `json:"details,omitempty"`
	Code    int32                 `json:"code,omitempty"`
}

var statusSuccess = streamStatus{Status: metav1.StatusSuccess}

// exitCode is the command's exit code the status reports: 0 for success,
// the NonZeroExitCode cause's, or none.
func (st streamStatus) exitCode() (int, bool) {
	if st.Status == metav1.StatusSuccess {
		return 0, true
	}
	if st.Reason != remotecommand.NonZeroExitCodeReason || st.Details == nil {
		return 0, false
	}
	for _, c := range st.Details.Causes {
		if c.Type == remotecommand.ExitCodeCauseType {
			code, err := strconv.Atoi(c.Message)
			return code, err == nil
		}
	}
	return 0, false
}

// internalError is upstream's newInternalError (remotecommand/status.go).
func internalError(err error) streamStatus {
	return streamStatus{
		Status:  metav1.StatusFailure,
		Message: fmt.Sprintf("Internal error occurred: %v", err),
		Reason:  metav1.StatusReasonInternalError,
		Code:    http.StatusInternalServerError,
	}
}

// encode returns what the error stream carries for st under protocol p:
// the JSON status from v4 on; before, a failure's message as plain text
// and nothing at all on success (upstream's v1WriteStatusFunc).
func (st streamStatus) encode(p protocol) []byte {
	if p.statusJSON {
		b, _ := json.Marshal(st) // plain strings and ints always marshal
		return b
	}
	if st.Status == metav1.StatusSuccess {
		return nil
	}
	return []byte(st.Message)
}
