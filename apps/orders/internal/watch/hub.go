// Package watch wakes WatchOrder streams when their order changes.
//
// One LISTEN connection per process hears every change committed by any replica (PostgreSQL
// NOTIFY) and wakes the streams that follow that order. A wake-up carries no data: the stream reads
// the order again, so a burst of changes collapses into one read and no stale state is sent.
package watch

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Connect opens the connection to LISTEN on.
type Connect func(ctx context.Context) (*pgx.Conn, error)

// The wait before listening again after the connection broke, doubling up to retryMax.
const (
	retryFirst = 200 * time.Millisecond
	retryMax   = 5 * time.Second
)

// Subscription is one stream's interest in one key.
type Subscription struct {
	// C receives a value when the key may have changed; it is closed when the hub shuts down.
	C   chan struct{}
	key string
}

// Hub fans notifications on one channel out to subscriptions by payload.
type Hub struct {
	channel string
	connect Connect
	log     *slog.Logger

	mu     sync.Mutex
	subs   map[string]map[*Subscription]struct{}
	closed bool
}

// New returns a hub for the LISTEN channel; call Run to start listening.
func New(channel string, connect Connect, log *slog.Logger) *Hub {
	return &Hub{channel: channel, connect: connect, log: log, subs: map[string]map[*Subscription]struct{}{}}
}

// Subscribe follows key until Unsubscribe (or the hub's shutdown).
func (h *Hub) Subscribe(key string) *Subscription {
	s := &Subscription{C: make(chan struct{}, 1), key: key}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(s.C)
		return s
	}
	if h.subs[key] == nil {
		h.subs[key] = map[*Subscription]struct{}{}
	}
	h.subs[key][s] = struct{}{}
	return s
}

// Unsubscribe stops following.
func (h *Hub) Unsubscribe(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if set := h.subs[s.key]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(h.subs, s.key)
		}
	}
}

// Close ends every subscription: streams return, so shutdown need not wait for watchers.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for _, set := range h.subs {
		for s := range set {
			close(s.C)
		}
	}
	h.subs = map[string]map[*Subscription]struct{}{}
}

// wake signals the key's subscribers, or everyone when all is true. The channel has room for one
// signal: one pending wake-up is as good as many.
func (h *Hub) wake(key string, all bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, set := range h.subs {
		if !all && k != key {
			continue
		}
		for s := range set {
			select {
			case s.C <- struct{}{}:
			default:
			}
		}
	}
}

// Run listens until ctx ends, reconnecting after failures. ready is closed once the first LISTEN
// is in place.
func (h *Hub) Run(ctx context.Context, ready chan<- struct{}) {
	delay := retryFirst
	listenedBefore := false
	for ctx.Err() == nil {
		err := h.listen(ctx, func() {
			if listenedBefore {
				// Changes made while the connection was down were not heard: re-read everything.
				h.wake("", true)
			} else {
				close(ready)
			}
			listenedBefore = true
			delay = retryFirst
		})
		if ctx.Err() != nil {
			return
		}
		h.log.Warn("order listener lost its connection; listening again", "error", err.Error(), "retry_in_s", delay.Seconds())
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, retryMax)
	}
}

func (h *Hub) listen(ctx context.Context, listening func()) error {
	conn, err := h.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{h.channel}.Sanitize()); err != nil {
		return err
	}
	listening()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		h.wake(n.Payload, false)
	}
}
