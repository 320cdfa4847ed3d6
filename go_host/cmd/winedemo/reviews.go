package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
)

// readDescriptions returns the "description" column of the first n rows of a wine reviews CSV.
func readDescriptions(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseDescriptions(f, path, n)
}

func parseDescriptions(r io.Reader, name string, n int) ([]string, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the header: %w", name, err)
	}
	column := -1
	for i, h := range header {
		if h == "description" {
			column = i
			break
		}
	}
	if column < 0 {
		return nil, fmt.Errorf("%s: not a wine reviews CSV (no description column)", name)
	}
	out := make([]string, 0, n)
	for len(out) < n {
		record, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, record[column])
	}
	return out, nil
}
