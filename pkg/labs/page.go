package labs

import (
	"bufio"
	"fmt"
	"regexp"
	"strings"
)

// Page is a markdown page's runnable content.
type Page struct {
	// Path is where the page was read from, for messages.
	Path string
	// Needs are what the page needs beyond the default stack, such as
	// "containerd".
	Needs []string
	Steps []Step
}

// Step is one command and the output the page shows for it.
type Step struct {
	// Line is the command's line number in the page.
	Line    int
	Command string
	Output  []string
}

// Placeholders are the variable parts an output may contain, each with
// what it matches. Anything else in an output is matched exactly.
var Placeholders = map[string]string{
	"<any>":      `.*`,
	"<age>":      `[0-9]+(ms|s|m|h|d)([0-9]+(s|m|h))?`,
	"<n>":        `[0-9]+`,
	"<port>":     `[0-9]{2,5}`,
	"<pid>":      `[0-9]+`,
	"<time>":     `[0-9]+(\.[0-9]+)? ?(ns|µs|us|ms|s)`,
	"<date>":     `[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z?`,
	"<trace-id>": `[0-9a-f]{32}`,
	"<uid>":      `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`,
	"<id>":       `[0-9a-f]{6,64}`,
	"<token>":    `[A-Za-z0-9_-]{8}`,
	"<base64>":   `[A-Za-z0-9+/=]+`,
}

var needsComment = regexp.MustCompile(`^<!--\s*lab:\s*needs=([a-z0-9,-]+)\s*-->$`)

// Parse reads a page: its ```console blocks and what it needs.
func Parse(path, text string) (*Page, error) {
	p := &Page{Path: path}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var (
		n       int
		inBlock bool
		fence   string
		step    *Step
	)
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if m := needsComment.FindStringSubmatch(trimmed); m != nil && !inBlock {
			p.Needs = append(p.Needs, strings.Split(m[1], ",")...)
			continue
		}
		if fence == "" {
			if strings.HasPrefix(trimmed, "```") {
				fence = "```"
				inBlock = strings.TrimSpace(strings.TrimPrefix(trimmed, "```")) == "console"
			}
			continue
		}
		if trimmed == fence {
			fence, inBlock, step = "", false, nil
			continue
		}
		if !inBlock {
			continue
		}
		switch {
		case step != nil && strings.HasSuffix(step.Command, "\\") && len(step.Output) == 0:
			// The backslash and newline stay: bash joins the lines, as
			// it does when the reader pastes them.
			step.Command += "\n" + line
		case strings.HasPrefix(line, "$ "):
			p.Steps = append(p.Steps, Step{Line: n, Command: strings.TrimPrefix(line, "$ ")})
			step = &p.Steps[len(p.Steps)-1]
		case step == nil:
			return nil, fmt.Errorf("%s:%d: output before any command in a console block", path, n)
		default:
			step.Output = append(step.Output, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if fence != "" {
		return nil, fmt.Errorf("%s: a code block is not closed", path)
	}
	for _, s := range p.Steps {
		if strings.HasSuffix(s.Command, "\\") {
			return nil, fmt.Errorf("%s:%d: the command's last line ends in a backslash", path, s.Line)
		}
		for _, o := range s.Output {
			if _, err := lineRegexp(o); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, s.Line, err)
			}
		}
	}
	return p, nil
}

// Runnable reports whether the page can run where have is available, and
// if not, what it lacks.
func (p *Page) Runnable(have ...string) (bool, string) {
	for _, n := range p.Needs {
		found := false
		for _, h := range have {
			found = found || h == n
		}
		if !found {
			return false, n
		}
	}
	return true, ""
}
