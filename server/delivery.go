package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/slipway-ci/slipway/server/store"
)

// deliveryMemory is how long a webhook's delivery id is remembered: a
// forge redelivers by hand or retries within hours, GitHub keeps
// deliveries for three days.
const deliveryMemory = 7 * 24 * time.Hour

// maxDeliveryID bounds the delivery header (the forges send UUIDs).
const maxDeliveryID = 200

// buildDelivery builds a push webhook once per delivery id: a redelivery
// answers 200 with the build the first delivery made (202 while it is
// being made). A delivery whose build could not be made is forgotten, so
// that the forge's retry builds.
func (s *Server) buildDelivery(w http.ResponseWriter, r *http.Request, repo store.Repo, p pushPayload, src hookSource) {
	id := r.Header.Get(src.deliveryHeader)
	if id == "" {
		b, err := s.buildHook(r, repo, p, src.name)
		s.answerBuild(w, r, http.StatusCreated, b, err)
		return
	}
	if len(id) > maxDeliveryID {
		httpError(w, errorf(http.StatusBadRequest, "%s has %d characters, at most %d", src.deliveryHeader, len(id), maxDeliveryID))
		return
	}
	claimed, number, err := s.st.ClaimDelivery(r.Context(), repo.ID, id, time.Now())
	switch {
	case err != nil:
		httpError(w, err)
		return
	case !claimed && number == 0:
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "%s %s: its build is being made (a redelivery builds nothing)\n", src.deliveryHeader, id)
		return
	case !claimed:
		b, err := s.st.Build(r.Context(), repo.ID, number)
		s.answerBuild(w, r, http.StatusOK, b, err)
		return
	}
	b, err := s.buildHook(r, repo, p, src.name)
	// The client's going must not leave the delivery claimed forever.
	ctx := context.WithoutCancel(r.Context())
	if err != nil {
		if rerr := s.st.ReleaseDelivery(ctx, repo.ID, id); rerr != nil {
			fmt.Fprintf(s.opts.Log, "slipway server: %s: forget webhook delivery %s: %v\n", repo.Slug(), id, rerr)
		}
	} else if serr := s.st.SetDeliveryBuild(ctx, repo.ID, id, b.Number); serr != nil {
		// The build is made: its answer is still 201, a redelivery 202.
		fmt.Fprintf(s.opts.Log, "slipway server: %s: build %d: remember webhook delivery %s: %v\n", repo.Slug(), b.Number, id, serr)
	}
	s.answerBuild(w, r, http.StatusCreated, b, err)
}
