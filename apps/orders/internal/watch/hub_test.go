package watch

import (
	"io"
	"log/slog"
	"testing"
)

func TestWakeSignalsOnlyThatKeyAndCoalesces(t *testing.T) {
	h := New("orders_changed", nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a, b := h.Subscribe("a"), h.Subscribe("b")
	h.wake("a", false)
	h.wake("a", false) // a second signal before the first is read adds nothing
	if len(a.C) != 1 || len(b.C) != 0 {
		t.Fatalf("pending signals a=%d b=%d, want 1 and 0", len(a.C), len(b.C))
	}
	h.wake("", true)
	if len(b.C) != 1 {
		t.Errorf("wake-all left b with %d signals, want 1", len(b.C))
	}
	h.Unsubscribe(b)
	if _, open := <-a.C; !open {
		t.Fatal("a's channel closed early")
	}
	h.Close()
	if _, open := <-a.C; open {
		t.Error("Close left a subscription open")
	}
	if _, open := <-h.Subscribe("late").C; open {
		t.Error("a subscription made after Close is open")
	}
}
