package minikubectl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/portforward"
)

type portForwardOptions struct {
	addresses []string
}

func newPortForwardCommand(g *globalFlags) *cobra.Command {
	o := &portForwardOptions{}
	cmd := &cobra.Command{
		Use:   "port-forward POD [LOCAL_PORT:]REMOTE_PORT [...[LOCAL_PORT_N:]REMOTE_PORT_N]",
		Short: "Forward one or more local ports to a pod",
		Example: `  mini-kubectl port-forward pod/demo 8888:5000
  mini-kubectl port-forward demo :5000`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageError(cmd, "TYPE/NAME and list of ports are required for port-forward")
			}
			s, err := g.newSession(cmd)
			if err != nil {
				return err
			}
			return o.run(cmd.Context(), s, g, args[0], args[1:])
		},
	}
	cmd.Flags().StringSliceVar(&o.addresses, "address", []string{"localhost"}, "Addresses to listen on (comma separated). Only accepts IP addresses or localhost as a value. When localhost is supplied, kubectl will try to bind on both 127.0.0.1 and ::1 and will fail if neither of these addresses are available to bind.")
	return cmd
}

// run mirrors PortForwardOptions.RunPortForwardContext in
// kubectl/pkg/cmd/portforward/portforward.go: the pod must be Running, then
// client-go listens locally and opens one pair of streams (data, error) per
// accepted connection over a single upgraded connection. It returns nil
// when ctx ends, as kubectl does on Ctrl-C.
func (o *portForwardOptions) run(ctx context.Context, s *session, g *globalFlags, podArg string, portArgs []string) error {
	pod, err := s.getPod(ctx, podArg)
	if err != nil {
		return err
	}
	if err := checkUDPPorts(portArgs, pod); err != nil {
		return err
	}
	ports, err := namedPortsToNumbers(portArgs, pod)
	if err != nil {
		return err
	}
	if pod.Status.Phase != corev1.PodRunning {
		return fmt.Errorf("unable to forward port because pod is not running. Current status=%v", pod.Status.Phase)
	}

	u := podURL(s.client.CoreV1().RESTClient(), pod, "portforward", nil)
	dialer, err := newPortForwardDialer(s.config, u, g.protocol)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	go func() {
		<-ctx.Done()
		close(stop)
	}()
	fw, err := portforward.NewOnAddressesForStreaming(dialer, o.addresses, ports, stop, nil, g.streams.Out, g.streams.ErrOut)
	if err != nil {
		return err
	}
	return fw.ForwardPorts()
}

// splitPort splits [LOCAL:]REMOTE.
func splitPort(port string) (local, remote string) {
	local, remote, found := strings.Cut(port, ":")
	if !found {
		return port, port
	}
	return local, remote
}

// namedPortsToNumbers turns a named remote port into the container port's
// number (convertPodNamedPortToNumber).
func namedPortsToNumbers(ports []string, pod *corev1.Pod) ([]string, error) {
	var converted []string
	for _, port := range ports {
		local, remote := splitPort(port)
		if remote == "" {
			return nil, errors.New("remote port cannot be empty")
		}
		number := remote
		if _, err := strconv.Atoi(remote); err != nil {
			n, err := containerPortByName(pod, remote)
			if err != nil {
				return nil, err
			}
			number = strconv.Itoa(int(n))
		}
		if local != remote {
			converted = append(converted, local+":"+number)
		} else {
			converted = append(converted, number)
		}
	}
	return converted, nil
}

// containerPortByName mirrors util.LookupContainerPortNumberByName.
func containerPortByName(pod *corev1.Pod, name string) (int32, error) {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return p.ContainerPort, nil
			}
		}
	}
	return 0, fmt.Errorf("Pod '%s' does not have a named port '%s'", pod.Name, name)
}

// checkUDPPorts refuses a port the pod only declares as UDP: port-forward
// carries TCP only (checkUDPPortInPod, kubernetes#47862).
func checkUDPPorts(ports []string, pod *corev1.Pod) error {
	udp, tcp := map[int32]bool{}, map[int32]bool{}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			switch p.Protocol {
			case corev1.ProtocolUDP:
				udp[p.ContainerPort] = true
			case corev1.ProtocolTCP:
				tcp[p.ContainerPort] = true
			}
		}
	}
	for _, port := range ports {
		_, remote := splitPort(port)
		n, err := strconv.Atoi(remote)
		number := int32(n)
		if err != nil {
			if number, err = containerPortByName(pod, remote); err != nil {
				return err
			}
		}
		if udp[number] && !tcp[number] {
			return fmt.Errorf("UDP protocol is not supported for %s", remote)
		}
	}
	return nil
}
