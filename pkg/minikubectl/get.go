package minikubectl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"
)

type getOptions struct {
	output string
	// now dates the AGE column when mini-kubectl builds the table itself.
	now func() time.Time
}

func newGetCommand(g *globalFlags) *cobra.Command {
	o := &getOptions{now: time.Now}
	cmd := &cobra.Command{
		Use:   "get TYPE [NAME...] [-o wide|name|json|yaml]",
		Short: "Display one or many resources",
		Example: `  mini-kubectl get pods
  mini-kubectl get nodes -o wide
  mini-kubectl get pod/demo -o yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError(cmd, "You must specify the type of resource to get.")
			}
			switch o.output {
			case "", "wide", "name", "json", "yaml":
			default:
				return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,wide,yaml", o.output)
			}
			s, err := g.newSession(cmd)
			if err != nil {
				return err
			}
			return o.run(cmd.Context(), s, g.streams, args)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "Output format. One of: (json, yaml, name, wide).")
	return cmd
}

// run resolves TYPE [NAME...] (or TYPE/NAME) through discovery, then prints
// a table, names or whole objects.
func (o *getOptions) run(ctx context.Context, s *session, streams IOStreams, args []string) error {
	r, err := s.resources()
	if err != nil {
		return err
	}
	typ, names := args[0], args[1:]
	if t, name, found := strings.Cut(args[0], "/"); found && len(args) == 1 {
		typ, names = t, []string{name}
	}
	m, ns, err := r.forArgIn(typ, s.namespace)
	if err != nil {
		return err
	}
	if o.output != "" && o.output != "wide" {
		return o.printObjects(ctx, r, m, ns, names, streams.Out)
	}
	if len(names) == 0 {
		names = []string{""}
	}
	// One header for tables that share columns, as kubectl's printer
	// does when it prints several answers in a row.
	var all *metav1.Table
	printed := 0
	flush := func() error {
		n, err := printTable(streams.Out, all, o.output == "wide")
		printed += n
		return err
	}
	for _, name := range names {
		table, err := o.table(ctx, s, m, ns, name)
		if err != nil {
			return err
		}
		if all != nil && reflect.DeepEqual(all.ColumnDefinitions, table.ColumnDefinitions) {
			all.Rows = append(all.Rows, table.Rows...)
			continue
		}
		if all != nil {
			if err := flush(); err != nil {
				return err
			}
		}
		all = table
	}
	if err := flush(); err != nil || printed > 0 {
		return err
	}
	// Nothing printed: kubectl says so on stderr, keeping stdout empty for scripts.
	if ns != "" {
		fmt.Fprintf(streams.ErrOut, "No resources found in %s namespace.\n", ns)
	} else {
		fmt.Fprintln(streams.ErrOut, "No resources found")
	}
	return nil
}

// table asks the server for a Table; a server that answers a plain list
// gets kubectl's NAME/AGE table instead.
func (o *getOptions) table(ctx context.Context, s *session, m *meta.RESTMapping, ns, name string) (*metav1.Table, error) {
	// Result.Error decodes a Status answer into an API error; Raw alone
	// would leave it as text.
	res := resourceRequest(s.client.CoreV1().RESTClient().Get(), m, ns, name).SetHeader("Accept", tableAccept).Do(ctx)
	if err := res.Error(); err != nil {
		return nil, err
	}
	body, err := res.Raw()
	if err != nil {
		return nil, err
	}
	table, err := decodeTable(body, o.now())
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", m.Resource.Resource, err)
	}
	return table, nil
}

// decodeTable reads a meta.k8s.io/v1 Table, or builds the NAME/AGE table
// from a plain object or list.
func decodeTable(body []byte, now time.Time) (*metav1.Table, error) {
	var typeMeta metav1.TypeMeta
	if err := json.Unmarshal(body, &typeMeta); err != nil {
		return nil, err
	}
	if typeMeta.Kind == "Table" && typeMeta.APIVersion == metav1.SchemeGroupVersion.String() {
		table := &metav1.Table{}
		// apimachinery's json keeps integers as int64, as kubectl decodes cells.
		if err := utiljson.Unmarshal(body, table); err != nil {
			return nil, err
		}
		return table, nil
	}
	obj, err := runtime.Decode(unstructured.UnstructuredJSONScheme, body)
	if err != nil {
		return nil, err
	}
	var items []metav1.Object
	switch obj := obj.(type) {
	case *unstructured.UnstructuredList:
		for i := range obj.Items {
			items = append(items, &obj.Items[i])
		}
	case *unstructured.Unstructured:
		items = append(items, obj)
	}
	return objectMetaTable(items, now), nil
}

// printObjects prints kind/name lines, or the objects as JSON or YAML the
// way kubectl's generic printers do (get.go, printGeneric): one named object
// as itself, anything else as a v1 List; JSON indented by four spaces.
func (o *getOptions) printObjects(ctx context.Context, r *resources, m *meta.RESTMapping, ns string, names []string, w io.Writer) error {
	client := r.dynamic.Resource(m.Resource).Namespace(ns)
	var items []unstructured.Unstructured
	if len(names) == 0 {
		list, err := client.List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		items = list.Items
	}
	for _, name := range names {
		obj, err := client.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		items = append(items, *obj)
	}

	if o.output == "name" {
		for _, item := range items {
			fmt.Fprintf(w, "%s/%s\n", kindName(m.GroupVersionKind.GroupKind()), item.GetName())
		}
		return nil
	}
	var out any
	if len(names) == 1 {
		out = items[0].Object
	} else {
		objects := make([]any, 0, len(items))
		for _, item := range items {
			objects = append(objects, item.Object)
		}
		out = map[string]any{
			"apiVersion": "v1",
			"kind":       "List",
			"items":      objects,
			"metadata":   map[string]any{"resourceVersion": ""},
		}
	}
	if o.output == "json" {
		b, err := json.MarshalIndent(out, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	b, err := yaml.Marshal(out)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
