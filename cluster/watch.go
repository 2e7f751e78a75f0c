package cluster

import "sync/atomic"

// watcher is one Watch registration.
type watcher struct {
	fn      func(Event)
	stopped atomic.Bool
}

// queued is an event waiting for the dispatcher; to is nil for every
// watcher, or the one watcher a replay is for.
type queued struct {
	ev Event
	to *watcher
}

// Watch calls fn for every membership change, from one goroutine, in the
// order the changes happened on this node. It first replays the current
// members (this node included) as Joined events, so a watcher misses
// nothing between reading the membership and being told of changes.
//
// fn must not block for long: later events wait for it. It must not call
// Shutdown. The returned stop ends the registration; a call of fn already
// under way when stop returns may still finish.
func (n *Node) Watch(fn func(Event)) (stop func()) {
	w := &watcher{fn: fn}
	self := n.selfMember()
	n.mu.Lock()
	if !n.closed {
		n.watchers = append(n.watchers, w)
		for _, m := range n.sortedLocked(self) {
			n.queue = append(n.queue, queued{Event{Kind: Joined, Member: m}, w})
		}
		n.wakeDispatcher()
	}
	n.mu.Unlock()
	return func() {
		w.stopped.Store(true)
		n.mu.Lock()
		defer n.mu.Unlock()
		for i, x := range n.watchers {
			if x == w {
				n.watchers = append(n.watchers[:i:i], n.watchers[i+1:]...)
				break
			}
		}
	}
}

// emitLocked queues ev for every watcher. n.mu is held. With no watchers
// the event is dropped: a later watcher gets the current state replayed.
func (n *Node) emitLocked(ev Event) {
	if len(n.watchers) == 0 || n.closed {
		return
	}
	n.queue = append(n.queue, queued{ev: ev})
	n.wakeDispatcher()
}

func (n *Node) wakeDispatcher() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// dispatch delivers queued events to watchers until Shutdown, then
// delivers what is still queued and returns. Watchers run without n.mu.
func (n *Node) dispatch() {
	defer close(n.dispatchDone)
	for {
		select {
		case <-n.wake:
			n.deliverQueued()
		case <-n.dispatchQuit:
			n.deliverQueued()
			return
		}
	}
}

func (n *Node) deliverQueued() {
	for {
		n.mu.Lock()
		if len(n.queue) == 0 {
			n.queue = nil // let a burst's backing array go
			n.mu.Unlock()
			return
		}
		q := n.queue[0]
		n.queue = n.queue[1:]
		targets := []*watcher{q.to}
		if q.to == nil {
			targets = append([]*watcher(nil), n.watchers...)
		}
		n.mu.Unlock()
		for _, w := range targets {
			if !w.stopped.Load() {
				w.fn(q.ev)
			}
		}
	}
}
