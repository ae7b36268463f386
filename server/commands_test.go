package main

import (
	"testing"
	"time"
)

func TestParseDays(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"825d", 825 * 24 * time.Hour, true},
		{"2160h", 2160 * time.Hour, true},
		{"0d", 0, false},
		{"-1d", 0, false},
		{"xd", 0, false},
		{"-5h", 0, false},
		{"soon", 0, false},
	}
	for _, tc := range cases {
		got, err := parseDays(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseDays(%q) = %v, %v", tc.in, got, err)
		}
	}
}
