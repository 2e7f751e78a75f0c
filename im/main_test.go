package im_test

import (
	"flag"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The integration tests spend their time waiting on loopback
	// connections (and on quiet periods that prove absence), not on the
	// CPU: run more of them at once than -parallel's default of
	// GOMAXPROCS, unless the caller chose.
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		if err := flag.Set("test.parallel", "8"); err != nil {
			os.Exit(2)
		}
	}
	goleak.VerifyTestMain(m)
}
