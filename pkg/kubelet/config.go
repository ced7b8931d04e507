package kubelet

import (
	"fmt"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeletconfig "k8s.io/kubelet/config/v1beta1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// LoadConfigFile reads a kubelet configuration file, the KubeletConfiguration
// of kubelet.config.k8s.io/v1beta1 that upstream's kubelet takes with
// --config, into cfg. Of its fields this kubelet reads
// crashLoopBackOff.maxContainerRestartPeriod (KEP-4603), the way a lab
// shortens the crash-loop back-off, and the node's heartbeat:
// nodeLeaseDurationSeconds, nodeStatusUpdateFrequency and
// nodeStatusReportFrequency; and the API's authentication and
// authorization, whichever of their fields the file sets. A field unknown
// to the type is an error, as a typo would otherwise pass unseen. No path leaves cfg as it is.
func LoadConfigFile(path string, cfg *Config) error {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("kubelet config: %w", err)
	}
	var kc kubeletconfig.KubeletConfiguration
	if err := yaml.UnmarshalStrict(data, &kc); err != nil {
		return fmt.Errorf("kubelet config %s: %w", path, err)
	}
	if gvk := kc.GroupVersionKind(); gvk != kubeletconfig.SchemeGroupVersion.WithKind("KubeletConfiguration") {
		return fmt.Errorf("kubelet config %s: apiVersion %q, kind %q: want %s, KubeletConfiguration", path, kc.APIVersion, kc.Kind, kubeletconfig.SchemeGroupVersion)
	}
	if p := kc.CrashLoopBackOff.MaxContainerRestartPeriod; p != nil {
		if err := checkMaxContainerRestartPeriod(p.Duration); err != nil {
			return fmt.Errorf("kubelet config %s: %w", path, err)
		}
		cfg.MaxContainerRestartPeriod = p.Duration
	}
	mergeAuth(&cfg.Authentication, &cfg.Authorization, kc.Authentication, kc.Authorization)
	// Each is positive when set, as upstream's validation requires
	// (pkg/kubelet/apis/config/validation).
	if d := kc.NodeLeaseDurationSeconds; d != 0 {
		if d < 0 {
			return fmt.Errorf("kubelet config %s: nodeLeaseDurationSeconds (--node-lease-duration-seconds) %d must be greater than 0", path, d)
		}
		cfg.NodeLeaseDurationSeconds = d
	}
	for _, f := range []struct {
		name string
		set  metav1.Duration
		into *time.Duration
	}{
		{"nodeStatusUpdateFrequency", kc.NodeStatusUpdateFrequency, &cfg.NodeStatusUpdateFrequency},
		{"nodeStatusReportFrequency", kc.NodeStatusReportFrequency, &cfg.NodeStatusReportFrequency},
	} {
		switch d := f.set.Duration; {
		case d < 0:
			return fmt.Errorf("kubelet config %s: %s %v must be greater than 0", path, f.name, d)
		case d > 0:
			*f.into = d
		}
	}
	return nil
}

// mergeAuth sets in authn and authz the fields that from sets.
func mergeAuth(authn *kubeletconfig.KubeletAuthentication, authz *kubeletconfig.KubeletAuthorization, fromAuthn kubeletconfig.KubeletAuthentication, fromAuthz kubeletconfig.KubeletAuthorization) {
	if f := fromAuthn.X509.ClientCAFile; f != "" {
		authn.X509.ClientCAFile = f
	}
	if e := fromAuthn.Webhook.Enabled; e != nil {
		authn.Webhook.Enabled = e
	}
	if d := fromAuthn.Webhook.CacheTTL; d.Duration != 0 {
		authn.Webhook.CacheTTL = d
	}
	if e := fromAuthn.Anonymous.Enabled; e != nil {
		authn.Anonymous.Enabled = e
	}
	if m := fromAuthz.Mode; m != "" {
		authz.Mode = m
	}
	if d := fromAuthz.Webhook.CacheAuthorizedTTL; d.Duration != 0 {
		authz.Webhook.CacheAuthorizedTTL = d
	}
	if d := fromAuthz.Webhook.CacheUnauthorizedTTL; d.Duration != 0 {
		authz.Webhook.CacheUnauthorizedTTL = d
	}
}

// defaultAuth fills in what authn and authz leave unset with the
// KubeletConfiguration's defaults (pkg/kubelet/apis/config/v1beta1
// defaults.go): the token webhook on, its answers cached 2m; anonymous
// requests off; Webhook authorization, allowed answers cached 5m and
// denied ones 30s. (Upstream's flags alone, without a configuration
// file, keep older defaults: anonymous on, AlwaysAllow.)
func defaultAuth(authn *kubeletconfig.KubeletAuthentication, authz *kubeletconfig.KubeletAuthorization) {
	if authn.Webhook.Enabled == nil {
		authn.Webhook.Enabled = ptr.To(true)
	}
	setDefault(&authn.Webhook.CacheTTL.Duration, 2*time.Minute)
	if authn.Anonymous.Enabled == nil {
		authn.Anonymous.Enabled = ptr.To(false)
	}
	setDefault(&authz.Mode, kubeletconfig.KubeletAuthorizationModeWebhook)
	setDefault(&authz.Webhook.CacheAuthorizedTTL.Duration, 5*time.Minute)
	setDefault(&authz.Webhook.CacheUnauthorizedTTL.Duration, 30*time.Second)
}
