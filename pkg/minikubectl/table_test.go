package minikubectl

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podTable is what kube-apiserver answers for pods, priority-1 columns
// included (pkg/printers/internalversion/printers.go).
func podTable() *metav1.Table {
	return &metav1.Table{
		ColumnDefinitions: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name"},
			{Name: "Ready", Type: "string"},
			{Name: "Status", Type: "string"},
			{Name: "Restarts", Type: "string"},
			{Name: "Age", Type: "string"},
			{Name: "IP", Type: "string", Priority: 1},
			{Name: "Node", Type: "string", Priority: 1},
		},
		Rows: []metav1.TableRow{
			{Cells: []any{"demo", "1/1", "Running", "0", "5m", "10.0.0.7", "node-1"}},
			{Cells: []any{"ticker-with-a-long-name", "0/1", "CrashLoopBackOff", "3 (10s ago)", "2d", nil, "node-2"}},
		},
	}
}

func TestPrintTable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		table *metav1.Table
		wide  bool
		want  string
	}{
		{
			name:  "priority 0 columns",
			table: podTable(),
			want: `NAME                      READY   STATUS             RESTARTS      AGE
demo                      1/1     Running            0             5m
ticker-with-a-long-name   0/1     CrashLoopBackOff   3 (10s ago)   2d
`,
		},
		{
			name:  "wide",
			table: podTable(),
			wide:  true,
			want: `NAME                      READY   STATUS             RESTARTS      AGE   IP         NODE
demo                      1/1     Running            0             5m    10.0.0.7   node-1
ticker-with-a-long-name   0/1     CrashLoopBackOff   3 (10s ago)   2d               node-2
`,
		},
		{
			name: "numbers, line breaks, escapes, extra cells",
			table: &metav1.Table{
				ColumnDefinitions: []metav1.TableColumnDefinition{{Name: "Name"}, {Name: "Count"}, {Name: "Message"}},
				Rows: []metav1.TableRow{
					{Cells: []any{"a", int64(42), "first line\nsecond line", "a cell without a column"}},
					{Cells: []any{"b", 3.5, "\x1b[31mred\x1b[0m"}},
				},
			},
			want: `NAME   COUNT   MESSAGE
a      42      first line...
b      3.5     ^[[31mred^[[0m
`,
		},
		{
			name:  "no rows",
			table: &metav1.Table{ColumnDefinitions: podTable().ColumnDefinitions},
			want:  "",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			n, err := printTable(&b, tc.table, tc.wide)
			if err != nil || n != len(tc.table.Rows) {
				t.Errorf("printed %d rows, error %v; want %d rows", n, err, len(tc.table.Rows))
			}
			if b.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tc.want)
			}
		})
	}
}

// TestDecodeTable checks both answers a server may give: a Table, and a
// plain object or list, for which kubectl shows NAME and AGE.
func TestDecodeTable(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, body, want string
	}{
		{
			name: "table",
			body: `{"kind":"Table","apiVersion":"meta.k8s.io/v1","columnDefinitions":[{"name":"Name","type":"string","format":"name","priority":0},{"name":"Restarts","type":"integer","priority":0}],"rows":[{"cells":["demo",12]}]}`,
			want: "NAME   RESTARTS\ndemo   12\n",
		},
		{
			name: "list",
			body: `{"kind":"NodeList","apiVersion":"v1","items":[{"metadata":{"name":"node-1","creationTimestamp":"2026-01-08T11:00:00Z"}},{"metadata":{"name":"node-22"}}]}`,
			want: "NAME      AGE\nnode-1    2d1h\nnode-22   <unknown>\n",
		},
		{
			name: "one object",
			body: `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"demo","creationTimestamp":"2026-01-10T11:55:00Z"}}`,
			want: "NAME   AGE\ndemo   5m\n",
		},
		{
			name: "table of another version is not ours",
			body: `{"kind":"Table","apiVersion":"meta.k8s.io/v2","metadata":{"name":"odd"}}`,
			want: "NAME   AGE\nodd    <unknown>\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table, err := decodeTable([]byte(tc.body), now)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			printTable(&b, table, false)
			if b.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tc.want)
			}
		})
	}
	for _, bad := range []string{``, `[]`, `{"kind":"Table","apiVersion":"meta.k8s.io/v1","rows":"x"}`, `{"metadata":{}}`} {
		if _, err := decodeTable([]byte(bad), now); err == nil {
			t.Errorf("decodeTable(%q) did not fail", bad)
		}
	}
}

func FuzzDecodeTable(f *testing.F) {
	f.Add([]byte(`{"kind":"Table","apiVersion":"meta.k8s.io/v1","columnDefinitions":[{"name":"Name","priority":1}],"rows":[{"cells":["a",1,null,{"x":1}]}]}`))
	f.Add([]byte(`{"kind":"PodList","apiVersion":"v1","items":[{"metadata":{"name":"x"}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		table, err := decodeTable(body, time.Unix(0, 0))
		if err != nil {
			return
		}
		var b strings.Builder
		for _, wide := range []bool{false, true} {
			if _, err := printTable(&b, table, wide); err != nil {
				t.Fatal(err)
			}
		}
	})
}
