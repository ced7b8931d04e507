package fakecri

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/execlab/execlab/pkg/fakecri/catalog"
	"github.com/execlab/execlab/pkg/fakecri/imagebin"
)

// hostBinDirs are where a catalogue image's host programs are looked for:
// the distribution's, not whatever fake-cri's PATH holds first.
var hostBinDirs = []string{"/usr/local/bin", "/usr/bin", "/bin"}

// tools are the binaries that run the images' programs: busybox for the
// applets, imagebin for the Go stand-ins (cmd/imagebin), and the host's.
type tools struct {
	busybox  string   // "" when there is none
	applets  []string // busybox --list-full: "bin/sh", "usr/bin/wget", …
	imagebin string   // "" when there is none

	mu   sync.Mutex
	host map[string]string // host program name → its path, "" when missing
}

// findTools finds busybox and imagebin where cfg says, or in their usual
// places. Without busybox the images' applets are the host's commands
// (fake-cri's behaviour before it knew images), which it logs; without
// imagebin the programs of imagebin fail to start.
func findTools(cfg Config, log *slog.Logger) *tools {
	t := &tools{host: map[string]string{}}
	t.busybox = cfg.Busybox
	if t.busybox == "" {
		t.busybox = firstExecutable(append([]string{"/bin/busybox", "/usr/bin/busybox"}, inPath("busybox")...))
	}
	if t.busybox != "" {
		out, err := exec.Command(t.busybox, "--list-full").Output()
		if err != nil {
			log.Warn("busybox cannot list its applets: images' busybox commands are the host's", "busybox", t.busybox, "err", err)
			t.busybox = ""
		}
		t.applets = strings.Fields(string(out))
	} else {
		log.Warn("no busybox (Debian: apt-get install busybox-static): images' busybox commands are the host's")
	}
	t.imagebin = companion(cfg.ImageBin, "imagebin")
	if t.imagebin == "" {
		log.Warn("no imagebin (go build -o bin/ ./cmd/...): agnhost, nginx, httpd and pause will not start", "imagebin", cfg.ImageBin)
	}
	return t
}

// companion is one of execlab's binaries that fake-cri runs: configured,
// when set, else name beside the running executable (bin/), else in PATH;
// "" when that is not an executable.
func companion(configured, name string) string {
	p := configured
	if p == "" {
		var beside []string
		if self, err := os.Executable(); err == nil {
			beside = []string{filepath.Join(filepath.Dir(self), name)}
		}
		p = firstExecutable(append(beside, inPath(name)...))
	}
	if p != "" && executable(p) != nil {
		return ""
	}
	return p
}

func inPath(name string) []string {
	if p, err := exec.LookPath(name); err == nil {
		return []string{p}
	}
	return nil
}

func firstExecutable(paths []string) string {
	for _, p := range paths {
		if executable(p) == nil {
			return p
		}
	}
	return ""
}

// hostProgram is the path of the host's binary name, "" when it has none.
func (t *tools) hostProgram(name string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.host[name]
	if !ok {
		var candidates []string
		for _, d := range hostBinDirs {
			candidates = append(candidates, filepath.Join(d, name))
		}
		p = firstExecutable(candidates)
		t.host[name] = p
	}
	return p
}

// executableFile is how one executable file of an image runs on the fake.
type executableFile struct {
	path string // the binary to start
	// env is added to the process's environment: imagebin's program.
	env string
	// missing, when not empty, is why the file cannot run here.
	missing string
}

// imageFiles are an image's executables by absolute path. The host's files
// show through everywhere else: a container has no root file system of its
// own.
type imageFiles map[string]executableFile

// files lists the executables of the image the reference ref names, as the
// catalogue describes them; a generic image has none.
func (t *tools) files(ref string) imageFiles {
	img, ok := catalog.Lookup(ref)
	if !ok {
		return nil
	}
	files := imageFiles{}
	if t.busybox != "" {
		for _, applet := range t.applets {
			p := "/" + applet
			if img.Busybox == catalog.BusyboxInBin {
				p = "/bin/" + path.Base(applet)
			}
			if img.Busybox != catalog.NoBusybox {
				files[p] = executableFile{path: t.busybox}
			}
		}
		// docker-library/busybox links env into /usr/bin as well.
		if img.Busybox == catalog.BusyboxInBin && files["/bin/env"].path != "" {
			files["/usr/bin/env"] = files["/bin/env"]
		}
	}
	for p, prog := range img.Files {
		switch prog.Kind {
		case catalog.Applet:
			if t.busybox != "" {
				files[p] = executableFile{path: t.busybox}
			}
		case catalog.ImageBin:
			f := executableFile{path: t.imagebin, env: imagebin.ProgramEnv + "=" + prog.Name}
			if t.imagebin == "" || !imagebin.Has(prog.Name) {
				f.missing = fmt.Sprintf("the fake runtime runs %s with imagebin (cmd/imagebin), which it cannot find", p)
			}
			files[p] = f
		case catalog.Host:
			// An image's copy of a host program the host lacks: the file
			// the image would otherwise have there (busybox's), if any.
			if hp := t.hostProgram(prog.Name); hp != "" {
				files[p] = executableFile{path: hp}
			}
		}
	}
	return files
}

// lookPath resolves file as runc does in the container, against the PATH of
// env and relative to dir, on the image's files laid over the host's: each
// directory of PATH is searched in the image first, then the whole PATH
// again on the host. It returns the binary to start and what to add to the
// environment. A binary that cannot be found answers runc's (Go's)
// wording: `exec: "x": executable file not found in $PATH`.
func lookPath(file string, env []string, dir string, files imageFiles) (string, string, error) {
	if strings.Contains(file, "/") {
		p := file
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if f, ok := files[filepath.Clean(p)]; ok {
			return f.run(file)
		}
		if err := executable(p); err != nil {
			return "", "", &exec.Error{Name: file, Err: err}
		}
		return file, "", nil
	}
	pathEnv := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	dirs := filepath.SplitList(pathEnv)
	for _, d := range dirs {
		if f, ok := files[filepath.Join("/", d, file)]; ok && filepath.IsAbs(d) {
			return f.run(file)
		}
	}
	for _, d := range dirs {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, file)
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if executable(p) == nil {
			return p, "", nil
		}
	}
	return "", "", &exec.Error{Name: file, Err: exec.ErrNotFound}
}

func (f executableFile) run(name string) (string, string, error) {
	if f.missing != "" {
		return "", "", &exec.Error{Name: name, Err: fmt.Errorf("%s: %w", f.missing, fs.ErrNotExist)}
	}
	return f.path, f.env, nil
}

func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fs.ErrPermission
	}
	return nil
}
