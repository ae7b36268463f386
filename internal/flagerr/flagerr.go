package flagerr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Describe turns pflag's "invalid argument "x" for "--n" flag:
// strconv.ParseInt: parsing "x": invalid syntax" into a message about the
// flag and its value, without the parser's internals.
func Describe(err error) error {
	var ive *pflag.InvalidValueError
	if !errors.As(err, &ive) {
		return err
	}
	name, v := "--"+ive.GetFlag().Name, ive.GetValue()
	var ne *strconv.NumError
	switch {
	case errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange):
		return fmt.Errorf("%s: %q is out of range", name, v)
	case errors.As(err, &ne) && ne.Func == "ParseBool":
		return fmt.Errorf("%s: %q is not true or false", name, v)
	case errors.As(err, &ne) && ne.Func == "ParseUint":
		return fmt.Errorf("%s: %q is not a whole number of 0 or more", name, v)
	case errors.As(err, &ne):
		return fmt.Errorf("%s: %q is not a whole number", name, v)
	case strings.HasPrefix(ive.Unwrap().Error(), "time: invalid duration"):
		return fmt.Errorf("%s: %q is not a duration (like 30s, 5m or 2h)", name, v)
	}
	// A flag type of ours: its message already names the value.
	return fmt.Errorf("%s: %w", name, ive.Unwrap())
}
