package minikubectl

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// tableAccept asks the server to render the list itself as a meta.k8s.io
// Table (the columns of kubectl get), falling back to plain JSON for servers
// that cannot (kubectl/pkg/cmd/get/get.go, transformRequests).
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

// printTable writes table as kubectl's human-readable printer does
// (cli-runtime/pkg/printers/tableprinter.go): upper-case headers, only the
// priority-0 columns unless wide, columns aligned by a tabwriter set up as
// kubectl's GetNewTabWriter. It prints nothing for a table without rows and
// returns the number of rows printed.
func printTable(w io.Writer, table *metav1.Table, wide bool) (int, error) {
	if len(table.Rows) == 0 {
		return 0, nil
	}
	tw := tabwriter.NewWriter(w, 6, 4, 3, ' ', 0)
	shown := func(i int) bool { return wide || table.ColumnDefinitions[i].Priority == 0 }

	var cells []string
	for i, col := range table.ColumnDefinitions {
		if shown(i) {
			cells = append(cells, strings.ToUpper(col.Name))
		}
	}
	fmt.Fprintln(tw, strings.Join(cells, "\t"))
	for _, row := range table.Rows {
		cells = cells[:0]
		for i, cell := range row.Cells {
			// A server sending more cells than columns must not break us
			// (kubernetes#66379).
			if i >= len(table.ColumnDefinitions) {
				break
			}
			if shown(i) {
				cells = append(cells, cellText(cell))
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return len(table.Rows), tw.Flush()
}

// cellText prints a cell as kubectl does: nil as nothing, a value cut at
// its first line break (marked "..."), escape characters made visible so a
// cell cannot drive the terminal.
func cellText(cell any) string {
	if cell == nil {
		return ""
	}
	s, ok := cell.(string)
	if !ok {
		s = fmt.Sprint(cell)
	}
	if i := strings.IndexAny(s, "\f\n\r"); i >= 0 {
		s = s[:i] + "..."
	}
	return strings.ReplaceAll(s, "\x1b", "^[")
}

// objectMetaTable is the table kubectl builds itself when the server sends a
// plain object or list: NAME and AGE only (printObjectMeta).
func objectMetaTable(items []metav1.Object, now time.Time) *metav1.Table {
	table := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name"},
		{Name: "Age", Type: "string"},
	}}
	for _, m := range items {
		table.Rows = append(table.Rows, metav1.TableRow{Cells: []any{m.GetName(), age(m.GetCreationTimestamp(), now)}})
	}
	return table
}

// age is translateTimestampSince: "<unknown>" for no timestamp, else a
// short human duration such as 5m or 3d.
func age(ts metav1.Time, now time.Time) string {
	if ts.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(ts.Time))
}
