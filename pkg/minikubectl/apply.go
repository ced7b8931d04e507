package minikubectl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/jsonmergepatch"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/scheme"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

// lastAppliedAnnotation holds the configuration last applied, the
// "original" of the three-way merge (corev1.LastAppliedConfigAnnotation).
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

type applyOptions struct {
	filenames []string
}

func newApplyCommand(g *globalFlags) *cobra.Command {
	o := &applyOptions{}
	cmd := &cobra.Command{
		Use:   "apply -f FILENAME",
		Short: "Apply a configuration to a resource by file name or stdin",
		Example: `  mini-kubectl apply -f pod.yaml
  cat pod.json | mini-kubectl apply -f -`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(o.filenames) == 0 {
				return usageError(cmd, "error: must specify one of -f and -k")
			}
			s, err := g.newSession(cmd)
			if err != nil {
				return err
			}
			return o.run(cmd.Context(), s, g.streams)
		},
	}
	cmd.Flags().StringSliceVarP(&o.filenames, "filename", "f", nil, "The files that contain the configurations to apply (YAML or JSON, several documents each; a directory; - for stdin).")
	return cmd
}

// run applies every file, going on past failures as kubectl does, and
// returns them all.
func (o *applyOptions) run(ctx context.Context, s *session, streams IOStreams) error {
	r, err := s.resources()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range o.filenames {
		errs = append(errs, o.applyFile(ctx, s, r, streams, name)...)
	}
	return utilerrors.NewAggregate(errs)
}

// applyFile applies every object in name (a file, a directory of
// .yaml/.yml/.json files, or - for stdin), going on past failures as kubectl
// does and returning them.
func (o *applyOptions) applyFile(ctx context.Context, s *session, r *resources, streams IOStreams, name string) []error {
	objs, err := readObjects(name, streams.In)
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, obj := range objs {
		if err := applyObject(ctx, s, r, obj, name, streams); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// readObjects decodes the YAML or JSON documents in name; a kind List
// contributes its items.
func readObjects(name string, stdin io.Reader) ([]*unstructured.Unstructured, error) {
	if name == "-" {
		return decodeObjects(stdin, "STDIN")
	}
	info, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("the path %q does not exist", name)
	}
	files := []string{name}
	if info.IsDir() {
		files = nil
		entries, err := os.ReadDir(name)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			switch filepath.Ext(e.Name()) {
			case ".yaml", ".yml", ".json":
				files = append(files, filepath.Join(name, e.Name()))
			}
		}
	}
	var objs []*unstructured.Unstructured
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		more, err := decodeObjects(f, file)
		f.Close()
		if err != nil {
			return nil, err
		}
		objs = append(objs, more...)
	}
	return objs, nil
}

func decodeObjects(r io.Reader, source string) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	for {
		var doc map[string]any
		if err := d.Decode(&doc); errors.Is(err, io.EOF) {
			return objs, nil
		} else if err != nil {
			return nil, fmt.Errorf("error parsing %s: %w", source, err)
		}
		if len(doc) == 0 {
			continue
		}
		obj := &unstructured.Unstructured{Object: doc}
		if obj.GetKind() == "" {
			return nil, fmt.Errorf("error validating %q: error validating data: kind not set", source)
		}
		if !obj.IsList() {
			objs = append(objs, obj)
			continue
		}
		list, err := obj.ToList()
		if err != nil {
			return nil, fmt.Errorf("error parsing %s: %w", source, err)
		}
		for i := range list.Items {
			item := &list.Items[i]
			if item.GetKind() == "" {
				// A typed list (PodList) leaves the kind out of its items.
				kind, typed := strings.CutSuffix(obj.GetKind(), "List")
				if !typed || kind == "" {
					return nil, fmt.Errorf("error validating %q: error validating data: kind not set", source)
				}
				item.SetKind(kind)
				if item.GetAPIVersion() == "" {
					item.SetAPIVersion(obj.GetAPIVersion())
				}
			}
			objs = append(objs, item)
		}
	}
}

// applyObject is kubectl's client-side apply (kubectl/pkg/cmd/apply/apply.go
// and patcher.go): create the object with its configuration recorded in the
// last-applied annotation, or, if it exists, merge three ways — what was
// last applied, what is applied now, what the server has — and send only
// the difference. kubectl sends that difference as a PATCH; mini-kubectl
// applies it locally and PUTs the result with the server's resourceVersion,
// which asks less of the API server and keeps the same optimistic locking.
func applyObject(ctx context.Context, s *session, r *resources, obj *unstructured.Unstructured, source string, streams IOStreams) error {
	m, err := r.forKind(obj.GroupVersionKind())
	if err != nil {
		return err
	}
	var client dynamic.ResourceInterface = r.dynamic.Resource(m.Resource)
	if namespaced(m) {
		ns := obj.GetNamespace()
		switch {
		case ns == "":
			obj.SetNamespace(s.namespace)
		case s.explicitNamespace && ns != s.namespace:
			return fmt.Errorf("the namespace from the provided object %q does not match the namespace %q. You must pass '--namespace=%s' to perform this operation.", ns, s.namespace, ns)
		}
		client = r.dynamic.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	name := fmt.Sprintf("%s/%s", kindName(m.GroupVersionKind.GroupKind()), obj.GetName())

	modified, err := annotateLastApplied(obj)
	if err != nil {
		return err
	}
	current, err := client.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := client.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return addSource("creating", source, err)
		}
		fmt.Fprintf(streams.Out, "%s created\n", name)
		return nil
	}
	if err != nil {
		return err
	}

	original := current.GetAnnotations()[lastAppliedAnnotation]
	if original == "" {
		fmt.Fprintf(streams.ErrOut, "Warning: resource %s/%s is missing the "+lastAppliedAnnotation+" annotation which is required by kubectl apply. "+
			"kubectl apply should only be used on resources created declaratively by either kubectl create --save-config or kubectl apply. "+
			"The missing annotation will be patched automatically.\n", m.Resource.Resource, obj.GetName())
	}
	currentJSON, err := json.Marshal(current.Object)
	if err != nil {
		return err
	}
	merged, changed, err := threeWayMerge([]byte(original), modified, currentJSON, obj)
	if err != nil {
		return fmt.Errorf("merging %s: %w", name, err)
	}
	if !changed {
		fmt.Fprintf(streams.Out, "%s unchanged\n", name)
		return nil
	}
	updated := &unstructured.Unstructured{}
	if err := json.Unmarshal(merged, &updated.Object); err != nil {
		return err
	}
	if _, err := client.Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
		return addSource("updating", source, err)
	}
	fmt.Fprintf(streams.Out, "%s configured\n", name)
	return nil
}

// annotateLastApplied records obj's configuration in its last-applied
// annotation and returns obj encoded with it — "modified" in the merge
// (util.GetModifiedConfiguration: the annotation holds obj encoded without it).
func annotateLastApplied(obj *unstructured.Unstructured) ([]byte, error) {
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	delete(annotations, lastAppliedAnnotation)
	obj.SetAnnotations(annotations)
	config, err := runtime.Encode(unstructured.UnstructuredJSONScheme, obj)
	if err != nil {
		return nil, err
	}
	annotations[lastAppliedAnnotation] = string(config)
	obj.SetAnnotations(annotations)
	return runtime.Encode(unstructured.UnstructuredJSONScheme, obj)
}

// threeWayMerge computes the patch from original (last applied) to modified
// against current and returns current with it applied. Built-in kinds merge
// strategically — lists of containers by name, so fields the server
// defaulted survive — other kinds by JSON merge patch, as kubectl's patcher.
func threeWayMerge(original, modified, current []byte, obj *unstructured.Unstructured) ([]byte, bool, error) {
	typed, err := scheme.Scheme.New(obj.GroupVersionKind())
	if err != nil {
		patch, err := jsonmergepatch.CreateThreeWayJSONMergePatch(original, modified, current)
		if err != nil || string(patch) == "{}" {
			return nil, false, err
		}
		merged, err := jsonpatch.MergePatch(current, patch)
		return merged, true, err
	}
	meta, err := strategicpatch.NewPatchMetaFromStruct(typed)
	if err != nil {
		return nil, false, err
	}
	patch, err := strategicpatch.CreateThreeWayMergePatch(original, modified, current, meta, true)
	if err != nil || string(patch) == "{}" {
		return nil, false, err
	}
	merged, err := strategicpatch.StrategicMergePatch(current, patch, typed)
	return merged, true, err
}

// addSource mirrors cmdutil.AddSourceToErr: the file name joins the
// server's message, keeping the error an API status.
func addSource(verb, source string, err error) error {
	if status, ok := err.(apierrors.APIStatus); ok {
		s := status.Status()
		s.Message = fmt.Sprintf("error when %s %q: %v", verb, source, s.Message)
		return &apierrors.StatusError{ErrStatus: s}
	}
	return fmt.Errorf("error when %s %q: %w", verb, source, err)
}
