package kubelet

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// containerConfig is what the kubelet asks CreateContainer for, as
// pkg/kubelet/kuberuntime/kuberuntime_container.go generateContainerConfig.
// Volumes, the termination-message file and the managed /etc/hosts are not
// set up here: there is no volume manager.
func (k *Kubelet) containerConfig(pod *v1.Pod, c *v1.Container, restartCount int, imageRef, podIP string) (*runtimeapi.ContainerConfig, error) {
	logDir := filepath.Join(podLogsDirectory(k.cfg.RootDir, pod.Namespace, pod.Name, pod.UID), c.Name)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("create container log directory for container %s failed: %w", c.Name, err)
	}
	env := k.containerEnv(pod, c, podIP)
	vars := make(map[string]string, len(env))
	envs := make([]*runtimeapi.KeyValue, len(env))
	for i, e := range env {
		vars[e.Key] = string(e.Value)
		envs[i] = e
	}
	mapping := mappingFuncFor(vars)
	return &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{
			Name:    c.Name,
			Attempt: uint32(restartCount),
		},
		Image:       &runtimeapi.ImageSpec{Image: imageRef, UserSpecifiedImage: c.Image},
		Command:     expandAll(c.Command, mapping),
		Args:        expandAll(c.Args, mapping),
		WorkingDir:  c.WorkingDir,
		Labels:      newContainerLabels(c, pod),
		Annotations: newContainerAnnotations(c, pod, restartCount),
		LogPath:     containerLogPath(c.Name, restartCount),
		Stdin:       c.Stdin,
		StdinOnce:   c.StdinOnce,
		Tty:         c.TTY,
		Envs:        envs,
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources:       containerResources(pod, c, k.memoryCapacity),
			SecurityContext: containerSecurityContext(pod, c),
		},
	}, nil
}

func expandAll(in []string, mapping func(string) string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expand(s, mapping)
	}
	return out
}

// containerSecurityContext mirrors determineEffectiveSecurityContext: the
// container's settings over the pod's, and the pod's namespaces.
func containerSecurityContext(pod *v1.Pod, c *v1.Container) *runtimeapi.LinuxContainerSecurityContext {
	sc := &runtimeapi.LinuxContainerSecurityContext{
		NamespaceOptions: namespacesForPod(pod),
		// Without a profile, containers run unconfined (SeccompDefault off).
		Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined},
	}
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		if psc.FSGroup != nil {
			sc.SupplementalGroups = append(sc.SupplementalGroups, *psc.FSGroup)
		}
		sc.SupplementalGroups = append(sc.SupplementalGroups, psc.SupplementalGroups...)
	}
	csc := c.SecurityContext
	if csc == nil {
		return sc
	}
	if csc.RunAsUser != nil {
		sc.RunAsUser = &runtimeapi.Int64Value{Value: *csc.RunAsUser}
	}
	if csc.RunAsGroup != nil {
		sc.RunAsGroup = &runtimeapi.Int64Value{Value: *csc.RunAsGroup}
	}
	if csc.Privileged != nil {
		sc.Privileged = *csc.Privileged
	}
	if csc.ReadOnlyRootFilesystem != nil {
		sc.ReadonlyRootfs = *csc.ReadOnlyRootFilesystem
	}
	if csc.AllowPrivilegeEscalation != nil {
		sc.NoNewPrivs = !*csc.AllowPrivilegeEscalation
	}
	if caps := csc.Capabilities; caps != nil {
		sc.Capabilities = &runtimeapi.Capability{}
		for _, c := range caps.Add {
			sc.Capabilities.AddCapabilities = append(sc.Capabilities.AddCapabilities, string(c))
		}
		for _, c := range caps.Drop {
			sc.Capabilities.DropCapabilities = append(sc.Capabilities.DropCapabilities, string(c))
		}
	}
	return sc
}

// containerEnv resolves the container's env as upstream
// makeEnvironmentVariables does for literal values (with $(VAR) references
// to earlier variables) and the downward API's fieldRef. Sources that need
// other API objects (configMapKeyRef, secretKeyRef, envFrom) or resource
// accounting (resourceFieldRef) are skipped with a warning. A later
// definition of a name replaces an earlier one in place.
func (k *Kubelet) containerEnv(pod *v1.Pod, c *v1.Container, podIP string) []*runtimeapi.KeyValue {
	vars := map[string]string{}
	var order []string
	mapping := mappingFuncFor(vars)
	for _, e := range c.Env {
		value := e.Value
		switch {
		case value != "":
			value = expand(value, mapping)
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			v, err := k.podFieldValue(pod, e.ValueFrom.FieldRef.FieldPath, podIP)
			if err != nil {
				k.log.Warn("skipping env var", logAttrs(pod), "container", c.Name, "name", e.Name, "err", err)
				continue
			}
			value = v
		case e.ValueFrom != nil:
			k.log.Warn("skipping env var with an unsupported source", logAttrs(pod), "container", c.Name, "name", e.Name)
			continue
		}
		if _, seen := vars[e.Name]; !seen {
			order = append(order, e.Name)
		}
		vars[e.Name] = value
	}
	if len(c.EnvFrom) > 0 {
		k.log.Warn("skipping envFrom", logAttrs(pod), "container", c.Name)
	}
	out := make([]*runtimeapi.KeyValue, len(order))
	for i, name := range order {
		out[i] = &runtimeapi.KeyValue{Key: name, Value: []byte(vars[name])}
	}
	return out
}

// podFieldValue answers a downward-API field path as upstream
// podFieldSelectorRuntimeValue and fieldpath.ExtractFieldPathAsString do.
func (k *Kubelet) podFieldValue(pod *v1.Pod, path, podIP string) (string, error) {
	if name, subscript, ok := splitSubscript(path); ok {
		switch name {
		case "metadata.labels":
			return pod.Labels[subscript], nil
		case "metadata.annotations":
			return pod.Annotations[subscript], nil
		}
		return "", fmt.Errorf("unsupported fieldPath: %s", path)
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return k.nodeIP, nil
	case "status.podIP", "status.podIPs":
		return podIP, nil
	}
	return "", fmt.Errorf("unsupported fieldPath: %s", path)
}

// splitSubscript splits "metadata.labels['key']" (fieldpath.SplitMaybeSubscriptedPath).
func splitSubscript(path string) (name, subscript string, ok bool) {
	if !strings.HasSuffix(path, "']") {
		return "", "", false
	}
	name, subscript, ok = strings.Cut(strings.TrimSuffix(path, "']"), "['")
	return name, subscript, ok
}

// formatMap renders a map as sorted key="value" lines (fieldpath.FormatMap).
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%v=%q\n", k, m[k])
	}
	return strings.TrimSuffix(b.String(), "\n")
}
