package fakecri

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// The grammar of image references, from github.com/distribution/reference
// (regexp.go), which containerd's CRI plugin uses to normalise image names.
var (
	referenceRegexp = func() *regexp.Regexp {
		const (
			alphanumeric    = `[a-z0-9]+`
			separator       = `(?:[._]|__|[-]+)`
			pathComponent   = alphanumeric + `(?:` + separator + alphanumeric + `)*`
			domainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
			domainName      = domainComponent + `(?:\.` + domainComponent + `)*`
			ipv6            = `\[(?:[a-fA-F0-9:]+)\]`
			domainAndPort   = `(?:` + domainName + `|` + ipv6 + `)(?::[0-9]+)?`
			name            = `(?:` + domainAndPort + `/)?` + pathComponent + `(?:/` + pathComponent + `)*`
			tag             = `[\w][\w.-]{0,127}`
			digest          = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[[:xdigit:]]{32,}`
		)
		return regexp.MustCompile(`^(` + name + `)(?::(` + tag + `))?(?:@(` + digest + `))?$`)
	}()
	hexIDRegexp = regexp.MustCompile(`^[a-f0-9]{64}$`)
)

const (
	defaultDomain       = "docker.io"
	legacyDefaultDomain = "index.docker.io"
	officialRepoPrefix  = "library/"
	defaultTag          = "latest"
	nameTotalLengthMax  = 255
)

var errInvalidReference = errors.New("invalid reference format")

// normalizeReference returns the full form of an image reference, as
// containerd's docker.ParseDockerRef does: "busybox" is
// "docker.io/library/busybox:latest", a reference without tag or digest gets
// ":latest", and one with both keeps only the digest.
func normalizeReference(ref string) (string, error) {
	if hexIDRegexp.MatchString(ref) {
		return "", fmt.Errorf("invalid repository name (%s), cannot specify 64-byte hexadecimal strings: %w", ref, errInvalidReference)
	}
	domain, remainder := splitDockerDomain(ref)
	repo, _, _ := strings.Cut(remainder, ":")
	repo, _, _ = strings.Cut(repo, "@")
	if strings.ToLower(repo) != repo {
		return "", fmt.Errorf("repository name (%s) must be lowercase: %w", repo, errInvalidReference)
	}
	m := referenceRegexp.FindStringSubmatch(domain + "/" + remainder)
	if m == nil {
		return "", errInvalidReference
	}
	name, tag, digest := m[1], m[2], m[3]
	if len(name) > nameTotalLengthMax {
		return "", fmt.Errorf("repository name must not be more than %d characters: %w", nameTotalLengthMax, errInvalidReference)
	}
	switch {
	case digest != "":
		return name + "@" + digest, nil
	case tag != "":
		return name + ":" + tag, nil
	default:
		return name + ":" + defaultTag, nil
	}
}

// splitDockerDomain splits a reference into its registry and the rest. The
// first component is a registry only if it looks like a host: it has a dot or
// a port, or is localhost, or has capitals (which no path may).
func splitDockerDomain(ref string) (domain, remainder string) {
	i := strings.IndexRune(ref, '/')
	if i == -1 || (!strings.ContainsAny(ref[:i], ".:") && ref[:i] != "localhost" && strings.ToLower(ref[:i]) == ref[:i]) {
		domain, remainder = defaultDomain, ref
	} else {
		domain, remainder = ref[:i], ref[i+1:]
	}
	if domain == legacyDefaultDomain {
		domain = defaultDomain
	}
	if domain == defaultDomain && !strings.ContainsRune(remainder, '/') {
		remainder = officialRepoPrefix + remainder
	}
	return domain, remainder
}
