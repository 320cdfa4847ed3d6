package metacall

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// Result tapes that the shim does not produce today but the decoder must handle.

func TestResultOfAnUnsupportedTypeNamesIt(t *testing.T) {
	tape := binary.NativeEndian.AppendUint64([]byte{'a'}, 2)
	tape = append(tape, 'n', 'u', 13) // [None, <FUNCTION>]
	_, err := decodeResult("f", tape)
	var resErr *ResultError
	if !errors.As(err, &resErr) || resErr.Path != "[1]" || !strings.Contains(resErr.Reason, "FUNCTION") {
		t.Fatalf("got %v, want a ResultError at [1] naming FUNCTION", err)
	}
}

func TestTruncatedResultIsAnErrorNotAPanic(t *testing.T) {
	full := binary.NativeEndian.AppendUint64([]byte{'s'}, 5)
	full = append(full, "hello"...)
	for n := 0; n < len(full); n++ {
		if _, err := decodeResult("f", full[:n]); err == nil {
			t.Fatalf("a tape cut at %d bytes decoded without error", n)
		}
	}
	if got, err := decodeResult("f", full); err != nil || got != "hello" {
		t.Fatalf("the whole tape: (%v, %v)", got, err)
	}
}

func TestHugeCountInTapeIsAnErrorNotAnAllocation(t *testing.T) {
	tape := binary.NativeEndian.AppendUint64([]byte{'a'}, 1<<60)
	if _, err := decodeResult("f", tape); err == nil {
		t.Fatal("want an error")
	}
}

func TestTruncatedErrorPathIsPerCall(t *testing.T) {
	// An array whose one element is cut short: the path must name that element only, however
	// often (and from however many goroutines) such a tape is decoded.
	tape := binary.NativeEndian.AppendUint64([]byte{'a'}, 1)
	tape = append(tape, 'l', 1, 2)
	for i := 0; i < 3; i++ {
		_, err := decodeResult("f", tape)
		var resErr *ResultError
		if !errors.As(err, &resErr) || resErr.Path != "[0]" || !strings.Contains(resErr.Reason, "truncated") {
			t.Fatalf("decode %d: got %v, want a truncated-tape ResultError at [0]", i, err)
		}
	}
}
