package stack

import (
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Credentials are how a kubeconfig's user proves who it is: a bearer token,
// or a client certificate and key (files).
type Credentials struct {
	Token             string
	ClientCertificate string
	ClientKey         string
}

// WriteKubeconfig writes a kubeconfig for the apiserver at server, trusting
// the CA in caFile, with one context "execlab" in namespace default whose
// user has creds.
func WriteKubeconfig(path, server, caFile string, creds Credentials) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["execlab"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile}
	cfg.AuthInfos["execlab-user"] = &clientcmdapi.AuthInfo{
		Token:             creds.Token,
		ClientCertificate: creds.ClientCertificate,
		ClientKey:         creds.ClientKey,
	}
	cfg.Contexts["execlab"] = &clientcmdapi.Context{Cluster: "execlab", AuthInfo: "execlab-user", Namespace: "default"}
	cfg.CurrentContext = "execlab"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return err
	}
	// Embed the files' contents, so the kubeconfig stands alone.
	loaded, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return err
	}
	if err := clientcmdapi.FlattenConfig(loaded); err != nil {
		return err
	}
	return clientcmd.WriteToFile(*loaded, path)
}
