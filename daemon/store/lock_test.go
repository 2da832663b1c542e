package store

import (
	"errors"
	"strings"
	"testing"
)

// TestSecondOpenSaysTheStoreIsInUse: a second daemon on the same directory
// gets an error that says what to do, not Badger's lock message.
func TestSecondOpenSaysTheStoreIsInUse(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Open(Options{Dir: dir})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "store.dir") {
		t.Fatalf("second open: %v", err)
	}
}
