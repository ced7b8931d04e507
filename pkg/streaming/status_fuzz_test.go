package streaming

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// FuzzErrorStream builds the error stream payloads of commands that exit
// with any code and of runtime failures with any message: from v4 on they
// decode as the metav1.Status client-go reads, with the exit code intact;
// before v4 they are the message itself.
func FuzzErrorStream(f *testing.F) {
	f.Add(3, "exit status 3")
	f.Add(255, "")
	f.Add(-1, "signal: killed")
	f.Add(0, "\x00\xff\"}{")
	f.Fuzz(func(t *testing.T, code int, message string) {
		v4, _ := findProtocol(spdyProtocols, remotecommand.StreamProtocolV4Name)
		v3, _ := findProtocol(spdyProtocols, remotecommand.StreamProtocolV3Name)
		exit := execStatus(utilexec.CodeExitError{Err: errors.New(message), Code: code})
		var st metav1.Status
		if err := json.Unmarshal(exit.encode(v4), &st); err != nil {
			t.Fatalf("exit %d %q: %v", code, message, err)
		}
		if st.Status != metav1.StatusFailure || st.Reason != remotecommand.NonZeroExitCodeReason ||
			st.Details == nil || len(st.Details.Causes) != 1 || st.Details.Causes[0].Message != strconv.Itoa(code) {
			t.Fatalf("exit %d: %+v", code, st)
		}
		if got := string(exit.encode(v3)); got != exit.Message {
			t.Fatalf("v3 payload %q, want the message %q", got, exit.Message)
		}
		failure := execStatus(errors.New(message))
		st = metav1.Status{}
		if err := json.Unmarshal(failure.encode(v4), &st); err != nil || st.Code != 500 ||
			!strings.HasPrefix(st.Message, "Internal error occurred: error executing command in container: ") {
			t.Fatalf("failure %q: %+v, %v", message, st, err)
		}
	})
}
