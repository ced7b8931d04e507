package catalog

import (
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// defaultPath is the PATH of images built on Debian, Alpine or busybox (and
// what containerd gives an image that sets none: pkg/oci.DefaultSpec).
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Layer sizes are the compressed linux/amd64 sizes: busybox's from its
// manifest, the others rounded from the registries' listings.
const (
	busyboxLayer = 2211398 // docker-library/busybox latest/glibc/amd64/image-manifest.json
	alpineLayer  = 3_400_000
)

func ports(ps ...string) map[string]struct{} {
	m := map[string]struct{}{}
	for _, p := range ps {
		m[p] = struct{}{}
	}
	return m
}

// busyboxConfig is docker-library/busybox's configuration
// (latest/glibc/amd64/image-config.json): sh, and the default PATH.
var busyboxConfig = ocispec.ImageConfig{Cmd: []string{"sh"}, Env: []string{defaultPath}}

// nginxFiles are the executables of the Debian-based nginx images, whose
// entrypoint script starts nginx; port is the one their configuration
// listens on ("" for 80).
func nginxFiles(port string) map[string]Program {
	arg := ""
	if port != "" {
		arg = ":" + port
	}
	return map[string]Program{
		"/docker-entrypoint.sh": {ImageBin, "nginx-entrypoint" + arg},
		"/usr/sbin/nginx":       {ImageBin, "nginx" + arg},
		"/usr/sbin/nginx-debug": {ImageBin, "nginx" + arg},
		"/usr/bin/curl":         {Host, "curl"},
		"/usr/bin/envsubst":     {Host, "envsubst"},
	}
}

// nginxConfig is nginx's Debian image: nginx/docker-nginx
// mainline/debian/Dockerfile (ENV, ENTRYPOINT, STOPSIGNAL, CMD, EXPOSE).
func nginxConfig(version string, extraEnv ...string) ocispec.ImageConfig {
	return ocispec.ImageConfig{
		Entrypoint:   []string{"/docker-entrypoint.sh"},
		Cmd:          []string{"nginx", "-g", "daemon off;"},
		Env:          append([]string{defaultPath, "NGINX_VERSION=" + version}, extraEnv...),
		ExposedPorts: ports("80/tcp"),
		StopSignal:   "SIGQUIT",
	}
}

// httpdFiles are the executables of the httpd images: httpd-foreground
// (2.4/httpd-foreground: `exec httpd -DFOREGROUND "$@"`) and httpd.
var httpdFiles = map[string]Program{
	"/usr/local/bin/httpd-foreground": {ImageBin, "httpd-foreground"},
	"/usr/local/apache2/bin/httpd":    {ImageBin, "httpd"},
}

// httpdConfig is docker-library/httpd's 2.4 configuration (ENV, WORKDIR,
// STOPSIGNAL, EXPOSE, CMD); stopSignal is "" before 2.4.41, which added it.
func httpdConfig(version, sha256, stopSignal string) ocispec.ImageConfig {
	return ocispec.ImageConfig{
		Cmd: []string{"httpd-foreground"},
		Env: []string{
			"PATH=/usr/local/apache2/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"HTTPD_PREFIX=/usr/local/apache2",
			"HTTPD_VERSION=" + version,
			"HTTPD_SHA256=" + sha256,
			"HTTPD_PATCHES=",
		},
		WorkingDir:   "/usr/local/apache2",
		ExposedPorts: ports("80/tcp"),
		StopSignal:   stopSignal,
	}
}

// criTools is the registry of cri-tools' own test images, which critest
// pulls (pkg/validate/consts.go).
const criTools = "gcr.io/k8s-staging-cri-tools/"

// criToolsTestImage is one of cri-tools' images/image-test images: busybox
// 1.37.0 and one empty file, named by the build's TEST argument
// (images/build).
func criToolsTestImage(name string, tags ...string) Image {
	return Image{
		Repository: criTools + name, Tags: tags,
		Config: busyboxConfig,
		Layer:  "busybox 1.37.0 and the file /" + name + tagsWord(tags), LayerSize: busyboxLayer + 120,
		Busybox: BusyboxInBin,
		Source:  "cri-tools images/image-test/Dockerfile (FROM busybox:1.37.0, ADD ${TEST}) and images/build",
	}
}

func tagsWord(tags []string) string {
	if len(tags) == 0 {
		return ""
	}
	return " (tag " + tags[0] + ")"
}

// criToolsUserImage is one of cri-tools' images/image-user images: busybox
// with USER set by the build (images/build: IMAGE_USERS).
func criToolsUserImage(name, user string) Image {
	cfg := busyboxConfig
	cfg.User = user
	return Image{
		Repository: criTools + name, Config: cfg,
		Layer: "busybox 1.37.0 as user " + user, LayerSize: busyboxLayer,
		Busybox: BusyboxInBin,
		Source:  "cri-tools images/image-user/Dockerfile (FROM busybox:1.37.0, USER ${USER}) and images/build",
	}
}

// images is the catalogue.
var images = []Image{
	{
		Repository: "docker.io/library/busybox",
		Config:     busyboxConfig,
		Layer:      "busybox (glibc): every applet in /bin", LayerSize: busyboxLayer,
		Busybox: BusyboxInBin,
		Source:  "docker-library/busybox latest/glibc/amd64/image-config.json; applets in /bin per latest/glibc/Dockerfile.builder",
	},
	{
		// A mirror of busybox:1.29 (LABEL only), critest's default image.
		Repository: "registry.k8s.io/e2e-test-images/busybox",
		Config:     busyboxConfig,
		Layer:      "busybox 1.29 (e2e-test-images mirror)", LayerSize: 760_000,
		Busybox: BusyboxInBin,
		Source:  "kubernetes test/images/busybox/Dockerfile (FROM busybox, LABEL image_version)",
	},
	{
		Repository: "registry.k8s.io/pause",
		Config: ocispec.ImageConfig{
			Entrypoint: []string{"/pause"},
			User:       "65535:65535",
			Env:        []string{defaultPath}, // BuildKit's default for a Linux image FROM scratch
		},
		Layer: "the static pause binary at /pause", LayerSize: 320_000,
		Files:  map[string]Program{"/pause": {ImageBin, "pause"}},
		Source: "kubernetes build/pause/Dockerfile (FROM scratch, ADD /pause, USER 65535:65535, ENTRYPOINT)",
	},
	{
		Repository: "registry.k8s.io/e2e-test-images/agnhost",
		Config: ocispec.ImageConfig{
			Entrypoint:   []string{"/agnhost"},
			Cmd:          []string{"pause"},
			Env:          []string{defaultPath},
			ExposedPorts: ports("80/tcp", "8080/tcp", "8081/tcp", "9376/tcp"),
		},
		Layer: "alpine, agnhost at /agnhost and /agnhost-2, curl, netcat, iproute2, bash", LayerSize: 52_000_000,
		Busybox: BusyboxListed,
		Files: map[string]Program{
			"/agnhost":      {ImageBin, "agnhost"},
			"/agnhost-2":    {ImageBin, "agnhost"},
			"/bin/bash":     {Host, "bash"},
			"/usr/bin/curl": {Host, "curl"},
			"/usr/bin/nc":   {Host, "nc"},
			"/sbin/ip":      {Host, "ip"},
			"/usr/sbin/ss":  {Host, "ss"},
		},
		Source: "kubernetes test/images/agnhost/Dockerfile (FROM alpine, EXPOSE, ENTRYPOINT, CMD) and BASEIMAGE",
	},
	{
		Repository: "docker.io/library/nginx",
		Config: nginxConfig("1.29.8", "NJS_VERSION=0.9.6", "NJS_RELEASE=1~trixie", "ACME_VERSION=0.3.1",
			"PKG_RELEASE=1~trixie", "DYNPKG_RELEASE=1~trixie"),
		Layer: "nginx 1.29.8 on Debian trixie", LayerSize: 72_000_000,
		Files:  nginxFiles(""),
		Source: "nginx/docker-nginx mainline/debian/Dockerfile",
	},
	{
		// A mirror of nginx:1.14-alpine (LABEL only): critest's web server.
		Repository: "registry.k8s.io/e2e-test-images/nginx",
		Config: ocispec.ImageConfig{
			Cmd:          []string{"nginx", "-g", "daemon off;"},
			Env:          []string{defaultPath, "NGINX_VERSION=1.14.2"},
			ExposedPorts: ports("80/tcp"),
			StopSignal:   "SIGTERM",
		},
		Layer: "nginx 1.14.2 on Alpine 3.8", LayerSize: 6_500_000,
		Busybox: BusyboxListed,
		Files:   map[string]Program{"/usr/sbin/nginx": {ImageBin, "nginx"}},
		Source:  "kubernetes test/images/nginx/Dockerfile and BASEIMAGE (nginx:1.14-alpine); docker-library/nginx 1.14 alpine Dockerfile",
	},
	{
		Repository: "docker.io/library/httpd",
		Config:     httpdConfig("2.4.68", "68c74d4df38c26bed4dfbdb8f3baf1eb532f3872357becc1bba5d136f6b63c06", "SIGWINCH"),
		Layer:      "Apache httpd 2.4.68 on Debian trixie", LayerSize: 58_000_000,
		Files:  httpdFiles,
		Source: "docker-library/httpd 2.4/Dockerfile",
	},
	{
		// A mirror of httpd:2.4.38-alpine (LABEL only).
		Repository: "registry.k8s.io/e2e-test-images/httpd",
		Config:     httpdConfig("2.4.38", "7dc65857a994c98370dc4334b260101a7a04be60e6e74a5c57a6dee1bc8f394a", ""),
		Layer:      "Apache httpd 2.4.38 on Alpine 3.8", LayerSize: 40_000_000,
		Busybox: BusyboxListed,
		Files:   httpdFiles,
		Source:  "kubernetes test/images/httpd/Dockerfile and BASEIMAGE (httpd:2.4.38-alpine); docker-library/httpd 2.4/alpine/Dockerfile at 2.4.38",
	},
	{
		Repository: "docker.io/library/python",
		Config: ocispec.ImageConfig{
			Cmd: []string{"python3"},
			Env: []string{
				"PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"PYTHON_VERSION=3.14.6",
				"PYTHON_SHA256=143b1dddefaec3bd2e21e3b839b34a2b7fb9842272883c576420d605e9f30c63",
			},
		},
		Layer: "Python 3.14.6 on Debian trixie (buildpack-deps)", LayerSize: 390_000_000,
		Files: map[string]Program{
			"/usr/local/bin/python3":    {Host, "python3"},
			"/usr/local/bin/python":     {Host, "python3"},
			"/usr/local/bin/python3.14": {Host, "python3"},
			"/usr/local/bin/pip3":       {Host, "pip3"},
			"/usr/local/bin/pip":        {Host, "pip3"},
		},
		Source: "docker-library/python 3.14/trixie/Dockerfile",
	},

	// cri-tools' test images, which critest pulls.
	criToolsTestImage("test-image-latest"),
	criToolsTestImage("test-image-digest"),
	criToolsTestImage("test-image-1", "latest"),
	criToolsTestImage("test-image-2", "latest"),
	criToolsTestImage("test-image-3", "latest"),
	criToolsTestImage("test-image-tags", "1", "2", "3"),
	criToolsTestImage("test-image-tag", "test"),
	criToolsTestImage("test-image-tag", "all"),
	criToolsUserImage("test-image-user-uid", "1002"),
	criToolsUserImage("test-image-user-username", "www-data"),
	criToolsUserImage("test-image-user-uid-group", "1003:1004"),
	criToolsUserImage("test-image-user-username-group", "www-data:1004"),
	{
		Repository: criTools + "test-image-predefined-group",
		Config:     ocispec.ImageConfig{Cmd: []string{"sh"}, Env: []string{defaultPath}, User: "1000"},
		Layer:      "busybox 1.37.0 with default-user (1000) in group-defined-in-image (50000)", LayerSize: busyboxLayer + 1000,
		Busybox: BusyboxInBin,
		Source:  "cri-tools images/image-predefined-group/Dockerfile",
	},
	{
		// nginx 1.25.0 listening on 12003 (images/hostnet-nginx/default.conf).
		Repository: criTools + "hostnet-nginx-amd64",
		Config:     nginxConfig("1.25.0", "NJS_VERSION=0.7.12", "PKG_RELEASE=1~bullseye"),
		Layer:      "nginx 1.25.0 on Debian bullseye, listening on 12003", LayerSize: 67_000_000,
		Files:  nginxFiles("12003"),
		Source: "cri-tools images/hostnet-nginx/Dockerfile (FROM nginx:1.25.0) and default.conf; nginx/docker-nginx mainline/debian/Dockerfile at 1.25.0",
	},
}
