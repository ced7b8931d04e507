package stack

import (
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// WriteKubeconfig writes a kubeconfig for the apiserver at server, with one
// context "execlab" in namespace default.
func WriteKubeconfig(path, server string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["execlab"] = &clientcmdapi.Cluster{Server: server}
	cfg.AuthInfos["execlab-admin"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["execlab"] = &clientcmdapi.Context{Cluster: "execlab", AuthInfo: "execlab-admin", Namespace: "default"}
	cfg.CurrentContext = "execlab"
	return clientcmd.WriteToFile(*cfg, path)
}
