package kubelet

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// podLogsDirectory is <root>/pods/<namespace>_<name>_<uid>, upstream's
// BuildPodLogsDirectory with the root dir in place of /var/log.
func podLogsDirectory(rootDir, namespace, name string, uid types.UID) string {
	return filepath.Join(rootDir, "pods", fmt.Sprintf("%s_%s_%s", namespace, name, uid))
}

// containerLogPath is the sandbox-relative log file of one attempt:
// <container>/<restartCount>.log (upstream buildContainerLogsPath).
func containerLogPath(container string, restartCount int) string {
	return filepath.Join(container, fmt.Sprintf("%d.log", restartCount))
}

// podSandboxConfig is what the kubelet asks RunPodSandbox for, as
// pkg/kubelet/kuberuntime/kuberuntime_sandbox.go generatePodSandboxConfig
// builds it for a host-network pod: every pod here uses the node's network
// (there is no CNI), so the hostname stays empty and the network namespace
// is the node's.
func (k *Kubelet) podSandboxConfig(pod *v1.Pod, attempt uint32) *runtimeapi.PodSandboxConfig {
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{
			Name:      pod.Name,
			Namespace: pod.Namespace,
			Uid:       string(pod.UID),
			Attempt:   attempt,
		},
		DnsConfig:    k.podDNSConfig(pod),
		LogDirectory: podLogsDirectory(k.cfg.RootDir, pod.Namespace, pod.Name, pod.UID),
		Labels:       newPodLabels(pod),
		Annotations:  newPodAnnotations(pod),
		Linux:        podSandboxLinuxConfig(pod),
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			cfg.PortMappings = append(cfg.PortMappings, &runtimeapi.PortMapping{
				Protocol:      toRuntimeProtocol(p.Protocol),
				ContainerPort: p.ContainerPort,
				HostPort:      p.HostPort,
				HostIp:        p.HostIP,
			})
		}
	}
	return cfg
}

// podSandboxLinuxConfig mirrors generatePodSandboxLinuxConfig; there are no
// pod cgroups here, so the cgroup parent stays empty.
func podSandboxLinuxConfig(pod *v1.Pod) *runtimeapi.LinuxPodSandboxConfig {
	lc := &runtimeapi.LinuxPodSandboxConfig{
		SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: namespacesForPod(pod),
			Privileged:       hasPrivilegedContainer(pod),
			// Upstream runs every sandbox as runtime/default (issue #84623).
			Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault},
		},
		Sysctls: map[string]string{},
	}
	sc := pod.Spec.SecurityContext
	if sc == nil {
		return lc
	}
	for _, s := range sc.Sysctls {
		lc.Sysctls[s.Name] = s.Value
	}
	if sc.RunAsUser != nil {
		lc.SecurityContext.RunAsUser = &runtimeapi.Int64Value{Value: *sc.RunAsUser}
	}
	if sc.RunAsGroup != nil {
		lc.SecurityContext.RunAsGroup = &runtimeapi.Int64Value{Value: *sc.RunAsGroup}
	}
	if sc.FSGroup != nil {
		lc.SecurityContext.SupplementalGroups = append(lc.SecurityContext.SupplementalGroups, *sc.FSGroup)
	}
	lc.SecurityContext.SupplementalGroups = append(lc.SecurityContext.SupplementalGroups, sc.SupplementalGroups...)
	if sc.SELinuxOptions != nil {
		lc.SecurityContext.SelinuxOptions = &runtimeapi.SELinuxOption{
			User:  sc.SELinuxOptions.User,
			Role:  sc.SELinuxOptions.Role,
			Type:  sc.SELinuxOptions.Type,
			Level: sc.SELinuxOptions.Level,
		}
	}
	return lc
}

// namespacesForPod mirrors kuberuntime/util NamespacesForPod, with the
// network namespace always the node's.
func namespacesForPod(pod *v1.Pod) *runtimeapi.NamespaceOption {
	ns := &runtimeapi.NamespaceOption{
		Network: runtimeapi.NamespaceMode_NODE,
		Pid:     runtimeapi.NamespaceMode_CONTAINER,
		Ipc:     runtimeapi.NamespaceMode_POD,
		// Pods without spec.hostUsers=false share the node's user namespace.
		UsernsOptions: &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_NODE},
	}
	switch {
	case pod.Spec.HostPID:
		ns.Pid = runtimeapi.NamespaceMode_NODE
	case pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace:
		ns.Pid = runtimeapi.NamespaceMode_POD
	}
	if pod.Spec.HostIPC {
		ns.Ipc = runtimeapi.NamespaceMode_NODE
	}
	return ns
}

func hasPrivilegedContainer(pod *v1.Pod) bool {
	for _, c := range pod.Spec.Containers {
		if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
			return true
		}
	}
	return false
}

func toRuntimeProtocol(p v1.Protocol) runtimeapi.Protocol {
	switch p {
	case v1.ProtocolUDP:
		return runtimeapi.Protocol_UDP
	case v1.ProtocolSCTP:
		return runtimeapi.Protocol_SCTP
	default:
		return runtimeapi.Protocol_TCP
	}
}

// podDNSConfig mirrors pkg/kubelet/network/dns GetPodDNS on a node without
// cluster DNS: every policy but None resolves like the node (ClusterFirst
// falls back to Default there), then spec.dnsConfig is appended.
func (k *Kubelet) podDNSConfig(pod *v1.Pod) *runtimeapi.DNSConfig {
	cfg := &runtimeapi.DNSConfig{}
	if pod.Spec.DNSPolicy != v1.DNSNone && k.hostDNS != nil {
		cfg.Servers = append(cfg.Servers, k.hostDNS.Servers...)
		cfg.Searches = append(cfg.Searches, k.hostDNS.Searches...)
		cfg.Options = append(cfg.Options, k.hostDNS.Options...)
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		cfg.Servers = append(cfg.Servers, dc.Nameservers...)
		cfg.Searches = append(cfg.Searches, dc.Searches...)
		for _, o := range dc.Options {
			if o.Value != nil {
				cfg.Options = append(cfg.Options, o.Name+":"+*o.Value)
			} else {
				cfg.Options = append(cfg.Options, o.Name)
			}
		}
	}
	return cfg
}

// hostDNSConfig parses the node's resolv.conf as upstream getHostDNSConfig
// does. A missing file gives no config.
func hostDNSConfig(path string) (*runtimeapi.DNSConfig, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read resolver config: %w", err)
	}
	cfg := &runtimeapi.DNSConfig{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "nameserver":
			cfg.Servers = append(cfg.Servers, fields[1])
		case "search":
			// The last search line wins, as in resolv.conf(5).
			cfg.Searches = fields[1:]
		case "options":
			cfg.Options = append(cfg.Options, fields[1:]...)
		}
	}
	return cfg, nil
}
