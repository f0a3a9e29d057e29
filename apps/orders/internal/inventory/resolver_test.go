package inventory

import "testing"

func TestParseStatic(t *testing.T) {
	endpoints, err := parseStatic("127.0.0.1:5001,127.0.0.2:5002")
	if err != nil {
		t.Fatalf("parseStatic: %v", err)
	}
	if len(endpoints) != 2 || endpoints[1].Addresses[0].Addr != "127.0.0.2:5002" {
		t.Errorf("endpoints = %v", endpoints)
	}
	for _, bad := range []string{"", "localhost:5001", "127.0.0.1", "127.0.0.1:5001,,"} {
		if _, err := parseStatic(bad); err == nil {
			t.Errorf("parseStatic(%q) accepted a bad list", bad)
		}
	}
}
