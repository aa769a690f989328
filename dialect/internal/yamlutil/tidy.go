package yamlutil

import (
	"cmp"
	"errors"
	"slices"

	"github.com/slipway-ci/slipway/pipeline"
)

// Beyond these counts a file is not worth reading problem by problem.
const (
	MaxErrors   = 50
	MaxWarnings = 100
)

// Tidy is how both dialects hand back their problems: ordered by
// position (then message, so the order never depends on the walk), each
// repeat dropped (a template or anchor merged in several places is
// checked in each), and at most max of them, the last saying how many
// more there are, at the position of the first left out. what names them
// ("errors", "warnings").
func Tidy(in []*pipeline.Error, max int, what string) []*pipeline.Error {
	out := slices.Clone(in)
	slices.SortFunc(out, func(a, b *pipeline.Error) int {
		return cmp.Or(cmp.Compare(a.Pos.File, b.Pos.File), cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Column, b.Pos.Column), cmp.Compare(a.Msg, b.Msg))
	})
	out = slices.CompactFunc(out, func(a, b *pipeline.Error) bool {
		return a.Pos == b.Pos && a.Msg == b.Msg
	})
	if len(out) <= max {
		return out
	}
	more := pipeline.Errorf(out[max].Pos, "too many %s: %d more not shown", what, len(out)-max)
	return append(out[:max:max], more)
}

// Join is errs as one error, nil when there are none.
func Join(errs []*pipeline.Error) error {
	if len(errs) == 0 {
		return nil
	}
	joined := make([]error, len(errs))
	for i, e := range errs {
		joined[i] = e
	}
	return errors.Join(joined...)
}
