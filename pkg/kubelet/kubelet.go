package kubelet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/component-base/featuregate"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	kubeletconfig "k8s.io/kubelet/config/v1beta1"

	"github.com/execlab/execlab/pkg/faults"
	"github.com/execlab/execlab/pkg/kubelet/server"

	"github.com/execlab/execlab/pkg/tracing"
)

// Version is the kubelet version reported in the node's status.
const Version = "v1.37.2"

// Config says how to run a kubelet. Zero durations take the defaults below.
type Config struct {
	// NodeName names the Node this kubelet registers and the pods it runs.
	NodeName string
	// Client reaches the apiserver.
	Client kubernetes.Interface
	// RuntimeEndpoint is the CRI socket, unix:///absolute/path.
	RuntimeEndpoint string
	// RootDir holds the pod logs, under RootDir/pods/<ns>_<pod>_<uid>/.
	RootDir string
	// NodeIP is the node's InternalIP and every pod's IP (all pods use the
	// node's network); default 127.0.0.1.
	NodeIP string
	// Logger receives the kubelet's log; default slog.Default().
	Logger *slog.Logger
	// TLS, when set, serves the API over TLS, and Authentication and
	// Authorization guard it (server.Options.TLS, server.NewAuth).
	TLS *tls.Config
	// Authentication and Authorization are the KubeletConfiguration's,
	// with its defaults (config.go): client certificates of
	// Authentication.X509.ClientCAFile, bearer tokens reviewed by the
	// apiserver, no anonymous requests, and each request authorized by the
	// apiserver (Webhook).
	Authentication kubeletconfig.KubeletAuthentication
	Authorization  kubeletconfig.KubeletAuthorization
	// TracingEndpoint, when not empty, is the OTLP/HTTP collector the
	// kubelet API's requests and the CRI calls made for them are traced to
	// (pkg/tracing), as with upstream's KubeletTracing.
	TracingEndpoint string

	// SyncFrequency is how often every pod is checked against the runtime
	// (upstream relies on PLEG relisting every second); default 1s.
	SyncFrequency time.Duration
	// NodeStatusUpdateFrequency is how often the node's status is
	// computed; default 10s. It is posted only when it changed or
	// NodeStatusReportFrequency has passed since the last post, the Lease
	// being the heartbeat (upstream's nodeStatusUpdateFrequency and
	// nodeStatusReportFrequency).
	NodeStatusUpdateFrequency time.Duration
	// NodeStatusReportFrequency: see NodeStatusUpdateFrequency; default 5m.
	NodeStatusReportFrequency time.Duration
	// NodeLeaseDurationSeconds is the node Lease's duration, renewed every
	// quarter of it (nodelease.go); default 40.
	NodeLeaseDurationSeconds int32
	// RuntimeRequestTimeout bounds each CRI call; default 2m.
	RuntimeRequestTimeout time.Duration
	// MaxContainerRestartPeriod caps the crash-loop back-off, which starts
	// at 10s (or at this when shorter) and doubles: the kubelet
	// configuration's crashLoopBackOff.maxContainerRestartPeriod
	// (KEP-4603), 1s to 300s, default 300s. The image pull back-off keeps
	// upstream's 10s to 300s.
	MaxContainerRestartPeriod time.Duration
	// ResolverConfig is the node's resolv.conf that pods resolve names with;
	// default /etc/resolv.conf.
	ResolverConfig string
	// MaxStreamingSessions bounds the exec, attach and port-forward
	// sessions served at once (server.Options.MaxStreamingSessions).
	MaxStreamingSessions int
	// Faults are injected into the kubelet API's streaming sessions
	// (server.Options.Faults).
	Faults faults.Set
	// RedirectContainerStreaming redirects streams instead of proxying
	// them (server.Options.RedirectContainerStreaming).
	RedirectContainerStreaming bool
	// FeatureGates are the kubelet's (--feature-gates); nil is
	// NewFeatureGate's defaults. The node declares those it serves
	// (features.go).
	FeatureGates featuregate.FeatureGate
}

// Kubelet runs the pods bound to one node on a CRI runtime and serves the
// kubelet API for them.
type Kubelet struct {
	cfg    Config
	log    *slog.Logger
	client kubernetes.Interface
	nodeIP string

	// auth guards the API when it is served over TLS; set in New.
	auth *server.Auth

	// Set in Run before anything reads them.
	runtime        *remoteRuntime
	runtimeName    string
	runtimeVersion string
	hostDNS        *runtimeapi.DNSConfig
	memoryCapacity int64
	pods           cache.Indexer

	// recorder sends events (events.go); set in Run.
	recorder record.EventRecorder

	crashBackOff *flowcontrol.Backoff
	imageBackOff *flowcontrol.Backoff
	reasons      reasonCache
	statuses     statusCache
	workers      *podWorkers
	podEvents    chan struct{}
	lastSyncLoop atomic.Int64
}

// The kubelet API serves the Kubelet's pods, sessions and logs.
var _ server.HostInterface = (*Kubelet)(nil)

// New checks cfg and fills in its defaults. Nothing starts until Run.
func New(cfg Config) (*Kubelet, error) {
	if cfg.NodeName == "" {
		// Upstream's default: --hostname-override is the host's name.
		host, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("kubelet: no node name, and the host's name: %w", err)
		}
		cfg.NodeName = host
	}
	switch {
	case cfg.Client == nil:
		return nil, errors.New("kubelet: an apiserver client is required")
	case cfg.RuntimeEndpoint == "":
		return nil, errors.New("kubelet: a container runtime endpoint is required")
	case cfg.RootDir == "":
		return nil, errors.New("kubelet: a root directory is required")
	}
	if err := cfg.Faults.Check(faults.Kubelet); err != nil {
		return nil, fmt.Errorf("kubelet: %w", err)
	}
	if cfg.FeatureGates == nil {
		cfg.FeatureGates = NewFeatureGate()
	}
	setDefault(&cfg.NodeIP, "127.0.0.1")
	setDefault(&cfg.ResolverConfig, "/etc/resolv.conf")
	setDefault(&cfg.SyncFrequency, time.Second)
	setDefault(&cfg.NodeStatusUpdateFrequency, 10*time.Second)
	setDefault(&cfg.NodeStatusReportFrequency, 5*time.Minute)
	setDefault(&cfg.NodeLeaseDurationSeconds, 40)
	setDefault(&cfg.RuntimeRequestTimeout, 2*time.Minute)
	setDefault(&cfg.MaxContainerRestartPeriod, maxCrashLoopBackOff)
	if err := checkMaxContainerRestartPeriod(cfg.MaxContainerRestartPeriod); err != nil {
		return nil, fmt.Errorf("kubelet: %w", err)
	}
	if net.ParseIP(cfg.NodeIP) == nil {
		return nil, fmt.Errorf("kubelet: node IP %q is not an IP address", cfg.NodeIP)
	}
	defaultAuth(&cfg.Authentication, &cfg.Authorization)
	var auth *server.Auth
	if cfg.TLS != nil {
		var err error
		if auth, err = server.NewAuth(cfg.Client, cfg.NodeName, cfg.Authentication, cfg.Authorization); err != nil {
			return nil, err
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	k := &Kubelet{
		cfg:          cfg,
		log:          slog.New(tracing.LogHandler(log.Handler())).With("node", cfg.NodeName),
		client:       cfg.Client,
		auth:         auth,
		nodeIP:       cfg.NodeIP,
		crashBackOff: newCrashLoopBackOff(cfg.MaxContainerRestartPeriod),
		imageBackOff: flowcontrol.NewBackOff(backOffPeriod, maxImageBackOff),
		podEvents:    make(chan struct{}, 1),
	}
	k.workers = newPodWorkers(k.syncPod)
	return k, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Run serves the kubelet API (package server) on ln, registers the node,
// and runs the pods bound to it until ctx ends; it closes ln and may be
// called once. Containers are left running on return, as a real kubelet
// leaves them when it stops.
func (k *Kubelet) Run(ctx context.Context, ln net.Listener) error {
	defer ln.Close()
	if err := os.MkdirAll(k.cfg.RootDir, 0o755); err != nil {
		return fmt.Errorf("kubelet: create root dir: %w", err)
	}
	_, portStr, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return fmt.Errorf("kubelet: listener address: %w", err)
	}
	port, _ := strconv.Atoi(portStr)

	if k.hostDNS, err = hostDNSConfig(k.cfg.ResolverConfig); err != nil {
		return fmt.Errorf("kubelet: %w", err)
	}
	k.memoryCapacity = memoryCapacity()
	tp, err := tracing.New(tracing.Config{Service: "fake-kubelet", Endpoint: k.cfg.TracingEndpoint})
	if err != nil {
		return fmt.Errorf("kubelet: %w", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		tp.Shutdown(ctx)
	}()
	if k.runtime, err = dialRuntime(k.cfg.RuntimeEndpoint, k.cfg.RuntimeRequestTimeout, tp.TracerProvider()); err != nil {
		return fmt.Errorf("kubelet: %w", err)
	}
	defer k.runtime.Close()

	factory := informers.NewSharedInformerFactoryWithOptions(k.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", k.cfg.NodeName).String()
		}))
	podInformer := factory.Core().V1().Pods().Informer()
	if err := podInformer.AddIndexers(cache.Indexers{uidIndex: indexByUID}); err != nil {
		return fmt.Errorf("kubelet: %w", err)
	}
	if _, err := podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { k.podsChanged() },
		UpdateFunc: func(any, any) { k.podsChanged() },
		DeleteFunc: func(any) { k.podsChanged() },
	}); err != nil {
		return fmt.Errorf("kubelet: %w", err)
	}
	k.pods = podInformer.GetIndexer()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopEvents := k.startEvents(ctx)
	defer stopEvents()
	srv := server.NewServer(k, server.Options{TLS: k.cfg.TLS, Auth: k.auth, MaxStreamingSessions: k.cfg.MaxStreamingSessions, Logger: k.log, TracerProvider: tp.TracerProvider(),
		Faults: k.cfg.Faults, RedirectContainerStreaming: k.cfg.RedirectContainerStreaming})
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	k.log.Info("serving the kubelet API", "address", ln.Addr().String())

	var (
		wg       sync.WaitGroup
		startErr error
	)
	wg.Go(func() {
		if err := k.start(ctx, factory, port); err != nil && ctx.Err() == nil {
			startErr = fmt.Errorf("kubelet: %w", err)
			cancel()
		}
	})

	select {
	case <-ctx.Done():
	case err = <-serveErr:
		if err != nil {
			err = fmt.Errorf("kubelet: serve: %w", err)
		}
	}
	cancel()
	srv.Stop()
	wg.Wait()
	factory.Shutdown()
	k.log.Info("kubelet stopped")
	return errors.Join(err, startErr)
}

// start waits for the runtime, registers the node and runs the loops until
// ctx ends.
func (k *Kubelet) start(ctx context.Context, factory informers.SharedInformerFactory, port int) error {
	version, err := k.waitForRuntime(ctx)
	if err != nil {
		return err
	}
	k.runtimeName = version.RuntimeName
	k.runtimeVersion = version.RuntimeVersion
	k.log.Info("container runtime is up", "runtime", version.RuntimeName, "version", version.RuntimeVersion, "criVersion", version.RuntimeApiVersion)

	if err := retryUntil(ctx, time.Second, func() error { return k.registerNode(ctx, port) }, k.log, "register node"); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("sync the %v informer: %w", typ, ctx.Err())
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { k.nodeStatusLoop(ctx, port) })
	wg.Go(func() { k.newNodeLeaseController().Run(ctx) })
	wg.Go(func() { k.syncLoop(ctx) })
	wg.Wait()
	return nil
}

// waitForRuntime asks the runtime for its version until it answers: the
// runtime may start after the kubelet.
func (k *Kubelet) waitForRuntime(ctx context.Context) (*runtimeapi.VersionResponse, error) {
	var version *runtimeapi.VersionResponse
	err := retryUntil(ctx, time.Second, func() error {
		v, err := k.runtime.Version(ctx)
		version = v
		return err
	}, k.log, "reach the container runtime")
	return version, err
}

// retryUntil calls f every period until it succeeds or ctx ends, logging
// each failure.
func retryUntil(ctx context.Context, period time.Duration, f func() error, log *slog.Logger, what string) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn("retrying", "action", what, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(period):
		}
	}
}

// logAttrs identifies a pod in log lines.
func logAttrs(pod *v1.Pod) slog.Attr {
	return slog.String("pod", pod.Namespace+"/"+pod.Name)
}

// podsChanged wakes the sync loop; events coalesce.
func (k *Kubelet) podsChanged() {
	select {
	case k.podEvents <- struct{}{}:
	default:
	}
}

const uidIndex = "uid"

func indexByUID(obj any) ([]string, error) {
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return nil, nil
	}
	return []string{string(pod.UID)}, nil
}

// podByUID returns the pod bound to this node with that UID, or nil.
func (k *Kubelet) podByUID(uid types.UID) *v1.Pod {
	objs, err := k.pods.ByIndex(uidIndex, string(uid))
	if err != nil {
		return nil
	}
	for _, obj := range objs {
		if pod := obj.(*v1.Pod); pod.Spec.NodeName == k.cfg.NodeName {
			return pod
		}
	}
	return nil
}

// GetPodByName returns the pod bound to this node with that name.
func (k *Kubelet) GetPodByName(namespace, name string) (*v1.Pod, bool) {
	obj, ok, err := k.pods.GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return nil, false
	}
	if pod := obj.(*v1.Pod); pod.Spec.NodeName == k.cfg.NodeName {
		return pod, true
	}
	return nil, false
}

// GetPods lists the pods bound to this node.
func (k *Kubelet) GetPods() []*v1.Pod {
	var pods []*v1.Pod
	for _, obj := range k.pods.List() {
		if pod := obj.(*v1.Pod); pod.Spec.NodeName == k.cfg.NodeName {
			pods = append(pods, pod)
		}
	}
	return pods
}
