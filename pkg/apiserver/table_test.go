package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTableResponse(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createRunningPod(t, "default", "demo", "node-1", "main")
	accept := http.Header{"Accept": {"application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"}}
	for _, c := range []struct {
		query, objectKind string
	}{{"", "PartialObjectMetadata"}, {"?includeObject=Object", "Pod"}, {"?includeObject=None", ""}} {
		code, _, body := ts.do(t, "GET", "/api/v1/namespaces/default/pods"+c.query, accept, "")
		var table metav1.Table
		if err := json.Unmarshal([]byte(body), &table); err != nil || code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		var obj struct{ Kind string }
		if raw := table.Rows[0].Object.Raw; raw != nil {
			json.Unmarshal(raw, &obj)
		}
		if table.Kind != "Table" || table.APIVersion != "meta.k8s.io/v1" || len(table.ColumnDefinitions) != 9 || len(table.Rows) != 1 ||
			fmt.Sprint(table.Rows[0].Cells[:4]) != "[demo 1/1 Running 0]" || obj.Kind != c.objectKind || table.ResourceVersion == "" {
			t.Errorf("table%s: %s", c.query, body)
		}
	}
	code, _, body := ts.do(t, "GET", "/api/v1/namespaces/default/pods?includeObject=Everything", accept, "")
	if code != 400 || body != `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"unrecognized includeObject value: \"Everything\"","reason":"BadRequest","code":400}`+"\n" {
		t.Errorf("bad includeObject: %d %s", code, body)
	}
	// A single object is a table of one row; v1beta1 is served too.
	code, _, body = ts.do(t, "GET", "/api/v1/namespaces/default", http.Header{"Accept": {"application/json;as=Table;v=v1beta1;g=meta.k8s.io"}}, "")
	var table metav1.Table
	if err := json.Unmarshal([]byte(body), &table); err != nil || code != 200 || table.APIVersion != "meta.k8s.io/v1beta1" || fmt.Sprint(table.Rows[0].Cells[:2]) != "[default Active]" {
		t.Errorf("namespace table: %d %s", code, body)
	}
}
