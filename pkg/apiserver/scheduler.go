package apiserver

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/klog/v2"

	"github.com/execlab/execlab/pkg/apiserver/registry"
)

// A built-in scheduler, much reduced from kube-scheduler (written here: no
// library schedules for an API without kube-scheduler's framework): every pod that
// names the default scheduler and no node goes to the Ready, schedulable
// node that matches its nodeSelector, tolerates its taints and runs the
// fewest pods. It binds as kube-scheduler does, through the binding logic
// of pods/binding (pkg/registry/core/pod/storage: BindingREST); a pod that
// fits nowhere gets PodScheduled=False with kube-scheduler's message.

// notReadyTaint is how kube-scheduler sees a node that is not Ready: the
// node lifecycle controller taints it.
var notReadyTaint = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}

// schedulePending binds or marks every pod waiting for a node.
func (s *Server) schedulePending() {
	pending, _ := s.store.List(registry.Pods, "", func(o registry.Object) bool {
		pod := o.(*corev1.Pod)
		return pod.Spec.NodeName == "" && pod.DeletionTimestamp == nil &&
			pod.Spec.SchedulerName == corev1.DefaultSchedulerName && len(pod.Spec.SchedulingGates) == 0
	})
	if len(pending) == 0 {
		return
	}
	nodes, _ := s.store.List(registry.Nodes, "", nil)
	load := map[string]int{}
	running, _ := s.store.List(registry.Pods, "", func(o registry.Object) bool { return o.(*corev1.Pod).Spec.NodeName != "" })
	for _, p := range running {
		load[p.(*corev1.Pod).Spec.NodeName]++
	}
	for _, obj := range pending {
		pod := obj.(*corev1.Pod)
		node, why := pickNode(pod, nodes, load)
		if node == "" {
			s.markUnschedulable(pod, why)
			continue
		}
		if err := s.bindPod(pod.Namespace, pod.Name, node, pod.UID, "", nil); err != nil {
			s.log.Debug("bind pod", "namespace", pod.Namespace, "pod", pod.Name, "node", node, "err", err)
			continue
		}
		load[node]++
		s.log.Info("scheduled pod", "namespace", pod.Namespace, "pod", pod.Name, "node", node)
		s.recordScheduled(pod, node)
	}
}

// recordScheduled is kube-scheduler's "Scheduled" event of pod, as its
// events.k8s.io/v1 recorder writes it (a reporting controller, an event
// time and no count), which kubectl describe pod lists first.
func (s *Server) recordScheduled(pod *corev1.Pod, node string) {
	now := time.Now()
	ev := &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", pod.Name, now.UnixNano()), Namespace: pod.Namespace},
		InvolvedObject:      corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Reason:              "Scheduled",
		Message:             fmt.Sprintf("Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node),
		Type:                corev1.EventTypeNormal,
		EventTime:           metav1.NewMicroTime(now),
		Action:              "Binding",
		ReportingController: corev1.DefaultSchedulerName,
	}
	if _, err := s.store.Create(registry.Events, pod.Namespace, ev); err != nil {
		s.log.Warn("record the Scheduled event", "namespace", pod.Namespace, "pod", pod.Name, "err", err)
	}
}

// pickNode returns the least loaded node that fits pod (by name when
// equal), or why none does.
func pickNode(pod *corev1.Pod, nodes []registry.Object, load map[string]int) (string, string) {
	if len(nodes) == 0 {
		return "", "no nodes available to schedule pods"
	}
	reasons := map[string]int{}
	best := ""
	for _, obj := range nodes {
		node := obj.(*corev1.Node)
		if why := unfit(pod, node); why != "" {
			reasons[why]++
			continue
		}
		if best == "" || load[node.Name] < load[best] {
			best = node.Name
		}
	}
	if best != "" {
		return best, ""
	}
	var counts []string
	for why, n := range reasons {
		counts = append(counts, fmt.Sprintf("%d %s", n, why))
	}
	sort.Strings(counts)
	return "", fmt.Sprintf("0/%d nodes are available: %s. preemption: 0/%d nodes are available: %d Preemption is not helpful for scheduling.",
		len(nodes), strings.Join(counts, ", "), len(nodes), len(nodes))
}

// unfit says why pod may not run on node, in kube-scheduler's words, or "".
func unfit(pod *corev1.Pod, node *corev1.Node) string {
	if node.Spec.Unschedulable {
		return "node(s) were unschedulable"
	}
	if !labels.SelectorFromSet(pod.Spec.NodeSelector).Matches(labels.Set(node.Labels)) {
		return "node(s) didn't match Pod's node affinity/selector"
	}
	taints := node.Spec.Taints
	if !nodeReady(node) {
		taints = append([]corev1.Taint{notReadyTaint}, taints...)
	}
	for i := range taints {
		taint := &taints[i]
		if taint.Effect != corev1.TaintEffectNoSchedule && taint.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		tolerated := false
		for j := range pod.Spec.Tolerations {
			if pod.Spec.Tolerations[j].ToleratesTaint(klog.Background(), taint, false) {
				tolerated = true
				break
			}
		}
		if !tolerated {
			return fmt.Sprintf("node(s) had untolerated taint {%s: %s}", taint.Key, taint.Value)
		}
	}
	return ""
}

// nodeReady reports whether the node's Ready condition is True.
func nodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// markUnschedulable records why pod waits, once per change of reason.
func (s *Server) markUnschedulable(pod *corev1.Pod, message string) {
	_, _, err := s.store.GuaranteedUpdate(registry.Pods, pod.Namespace, pod.Name, func(cur registry.Object) (registry.Object, error) {
		p := cur.(*corev1.Pod)
		if p.Spec.NodeName != "" || p.UID != pod.UID {
			return p, nil
		}
		setPodCondition(&p.Status, corev1.PodCondition{
			Type:    corev1.PodScheduled,
			Status:  corev1.ConditionFalse,
			Reason:  corev1.PodReasonUnschedulable,
			Message: message,
		})
		return p, nil
	})
	if err != nil && !apierrors.IsNotFound(err) {
		s.log.Warn("mark pod unschedulable", "namespace", pod.Namespace, "pod", pod.Name, "err", err)
	}
}

// setPodCondition is podutil.UpdatePodCondition: the transition time moves
// only when the status does.
func setPodCondition(status *corev1.PodStatus, c corev1.PodCondition) {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	for i := range status.Conditions {
		old := &status.Conditions[i]
		if old.Type != c.Type {
			continue
		}
		c.LastTransitionTime = old.LastTransitionTime
		if old.Status != c.Status || c.LastTransitionTime.IsZero() {
			c.LastTransitionTime = now
		}
		*old = c
		return
	}
	c.LastTransitionTime = now
	status.Conditions = append(status.Conditions, c)
}

// bindPod assigns a pending pod to node (setPodNodeAndMetadata upstream).
// uid and resourceVersion, when set, must be the pod's.
func (s *Server) bindPod(ns, name, node string, uid types.UID, resourceVersion string, annotations map[string]string) error {
	_, _, err := s.store.GuaranteedUpdate(registry.Pods, ns, name, func(cur registry.Object) (registry.Object, error) {
		pod := cur.(*corev1.Pod)
		switch {
		case pod.DeletionTimestamp != nil:
			return nil, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", pod.Name)
		case pod.Spec.NodeName != "":
			return nil, fmt.Errorf("pod %v is already assigned to node %q", pod.Name, pod.Spec.NodeName)
		case uid != "" && pod.UID != uid:
			return nil, apierrors.NewConflict(corev1.Resource("binding"), name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", uid, pod.UID))
		case resourceVersion != "" && pod.ResourceVersion != resourceVersion:
			return nil, apierrors.NewConflict(corev1.Resource("binding"), name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", resourceVersion, pod.ResourceVersion))
		}
		pod.Spec.NodeName = node
		for k, v := range annotations {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[k] = v
		}
		setPodCondition(&pod.Status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue})
		return pod, nil
	})
	if err == nil || apierrors.IsNotFound(err) {
		return err
	}
	if _, ok := err.(apierrors.APIStatus); !ok {
		return apierrors.NewConflict(corev1.Resource("pods/binding"), name, err)
	}
	return err
}

// handleBinding serves pods/{name}/binding and bindings: a Binding names
// the node for a pod, as kube-scheduler sends it.
func (s *Server) handleBinding(w http.ResponseWriter, r *http.Request, ns, name string) {
	binding, err := registry.ReadBinding(r)
	if err != nil {
		registry.WriteError(w, r, err)
		return
	}
	if binding.Namespace != "" && binding.Namespace != ns {
		registry.WriteError(w, r, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"))
		return
	}
	if name != "" && binding.Name != name {
		registry.WriteError(w, r, apierrors.NewBadRequest("name in URL does not match name in Binding object"))
		return
	}
	var errs field.ErrorList
	if binding.Target.Kind != "" && binding.Target.Kind != "Node" {
		errs = append(errs, field.NotSupported(field.NewPath("target", "kind"), binding.Target.Kind, []string{"Node", "<empty>"}))
	}
	if binding.Target.Name == "" {
		errs = append(errs, field.Required(field.NewPath("target", "name"), ""))
	}
	if len(errs) > 0 {
		registry.WriteError(w, r, errs.ToAggregate())
		return
	}
	if err := s.bindPod(ns, binding.Name, binding.Target.Name, binding.UID, binding.ResourceVersion, binding.Annotations); err != nil {
		registry.WriteError(w, r, err)
		return
	}
	registry.WriteJSON(w, http.StatusCreated, &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusCreated}, corev1.SchemeGroupVersion)
}
