package directory

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
)

// Stream management sessions can be resumed on another node (XEP-0198
// behind a load balancer: the client comes back wherever the balancer
// sends it). The node where the client resumes asks on resumeSubject; the
// node that holds the session hands it over (its state, what the client
// has not acknowledged) and lets it go; the others stay silent.

const resumeSubject = "parley.resume"

// resumeWait bounds the wait for the holder's answer; no answer means no
// node holds the session (it expired, or never existed).
const resumeWait = 1500 * time.Millisecond

type resumeReq struct {
	Node string `json:"node"` // the asking node, which does not answer itself
	ID   string `json:"id"`
	User string `json:"user"`
	H    uint32 `json:"h"`
}

type resumeResp struct {
	State json.RawMessage `json:"state,omitempty"`
	Error string          `json:"error,omitempty"` // the holder refused (e.g. a bad h)
	// NotHere: the run asked directly does not hold the session
	// (takeover.go; asked on resumeSubject, such nodes stay silent).
	NotHere bool `json:"nothere,omitempty"`
}

// ErrNoSession: no node answered for the session.
var ErrNoSession = errors.New("directory: no node holds that session")

// RefusedError is the holder's refusal, its text.
type RefusedError string

func (e RefusedError) Error() string { return string(e) }

// OnResume answers other nodes' resumption requests with handOver, which
// returns the session's state (JSON) if this node holds it, an error to
// send back if it refuses, or errNotHere (any error for which notHere
// is true) to stay silent.
func (d *Directory) OnResume(handOver func(id, user string, h uint32) ([]byte, error), notHere func(error) bool) error {
	if err := d.subscribe(resumeRunPrefix+d.run, d.onResumeRun(handOver, notHere)); err != nil {
		return err
	}
	return d.subscribe(resumeSubject, func(msg *nats.Msg) {
		var req resumeReq
		if json.Unmarshal(msg.Data, &req) != nil || req.Node == d.name {
			return
		}
		state, err := handOver(req.ID, req.User, req.H)
		if err != nil && notHere(err) {
			return
		}
		resp := resumeResp{State: state}
		if err != nil {
			resp.Error = err.Error()
		}
		b, _ := json.Marshal(resp)
		if err := msg.Respond(b); err != nil {
			d.log.Warn("directory: answering a resumption failed", "err", err)
		}
	})
}

// Resume asks the other nodes for the session id of user, for a client
// that acknowledged h stanzas; it returns the session's state (JSON).
func (d *Directory) Resume(id, user string, h uint32) ([]byte, error) {
	b, _ := json.Marshal(resumeReq{Node: d.name, ID: id, User: user, H: h})
	msg, err := d.nc.Request(resumeSubject, b, resumeWait)
	if err != nil {
		if errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) {
			return nil, ErrNoSession
		}
		return nil, err
	}
	var resp resumeResp
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, err
	}
	if resp.Error != "" {
		return nil, RefusedError(resp.Error)
	}
	return resp.State, nil
}
