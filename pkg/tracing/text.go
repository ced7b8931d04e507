package tracing

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// laneWidth is the width of one hop's column in the text diagram.
const laneWidth = 11

// WriteText draws steps as a text sequence diagram: one column per hop, a
// row per step with its time since the start, an arrow between the hops of
// a message or a dot at the hop of a note, and the step's label.
//
//	   time  client     apiserver  kubelet    runtime    streaming
//	0.00 ms       │─────────▶│          │          │          │    POST /api/v1/…/exec
func WriteText(w io.Writer, steps []Step) error {
	width := center(len(Hops)-1) + 1
	header := []rune(strings.Repeat(" ", width+laneWidth))
	for i, h := range Hops {
		start := i*laneWidth + laneWidth/2 - len(h)/2
		copy(header[max(start, 0):], []rune(h))
	}
	if _, err := fmt.Fprintf(w, "%10s  %s\n", "time ", strings.TrimRight(string(header), " ")); err != nil {
		return err
	}
	for _, s := range steps {
		row := []rune(strings.Repeat(" ", width))
		for i := range Hops {
			row[center(i)] = '│'
		}
		from, to := slices.Index(Hops, s.From), slices.Index(Hops, s.To)
		switch {
		case from < 0:
			continue
		case to < 0 || to == from:
			row[center(from)] = '●'
		default:
			lo, hi := min(from, to), max(from, to)
			for c := center(lo) + 1; c < center(hi); c++ {
				row[c] = '─'
			}
			if to > from {
				row[center(to)-1] = '▶'
			} else {
				row[center(to)+1] = '◀'
			}
		}
		ms := float64(s.At.Microseconds()) / 1000
		if _, err := fmt.Fprintf(w, "%7.2f ms  %s  %s\n", ms, string(row), s.Label); err != nil {
			return err
		}
	}
	return nil
}

func center(lane int) int { return lane*laneWidth + laneWidth/2 }
