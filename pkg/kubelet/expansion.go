package kubelet

import "strings"

// The $(VAR) syntax of env values, command and args, as upstream
// third_party/forked/golang/expansion: "$$" escapes a "$", and a reference
// to an undefined variable stays as written.
const (
	expansionOperator = '$'
	referenceOpener   = '('
	referenceCloser   = ')'
)

// mappingFuncFor resolves names in vars, leaving unknown ones as $(NAME).
func mappingFuncFor(vars map[string]string) func(string) string {
	return func(name string) string {
		if v, ok := vars[name]; ok {
			return v
		}
		return "$(" + name + ")"
	}
}

// expand replaces the references in input using mapping.
func expand(input string, mapping func(string) string) string {
	var buf strings.Builder
	checkpoint := 0
	for cursor := 0; cursor < len(input); cursor++ {
		if input[cursor] == expansionOperator && cursor+1 < len(input) {
			buf.WriteString(input[checkpoint:cursor])
			read, isVar, advance := tryReadVariableName(input[cursor+1:])
			if isVar {
				buf.WriteString(mapping(read))
			} else {
				buf.WriteString(read)
			}
			cursor += advance
			checkpoint = cursor + 1
		}
	}
	return buf.String() + input[checkpoint:]
}

// tryReadVariableName reads what follows a "$": the name of a complete
// reference (isVar), or the text to copy through, and how far it read.
func tryReadVariableName(input string) (read string, isVar bool, advance int) {
	switch input[0] {
	case expansionOperator:
		return input[0:1], false, 1
	case referenceOpener:
		for i := 1; i < len(input); i++ {
			if input[i] == referenceCloser {
				return input[1:i], true, i + 1
			}
		}
		// An unterminated reference is copied through.
		return string(expansionOperator) + string(referenceOpener), false, 1
	default:
		// Upstream converts the byte with string(input[0]), which turns
		// the first byte of a multi-byte character into another character;
		// the byte is copied as it is here.
		return string(expansionOperator) + input[0:1], false, 1
	}
}
