package gateway

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/a1-go/a1"
	"github.com/a1-go/a1/api"
	"github.com/a1-go/a1/audit"
)

// MaxRequestIDLen bounds request_id (and X-Request-Id).
const MaxRequestIDLen = api.MaxRequestIDLen

// authorizeRequest is the body of POST /v1/authorize.
type authorizeRequest struct {
	Chain         json.RawMessage   `json:"chain"`
	IntentName    string            `json:"intent_name"`
	IntentParams  map[string]string `json:"intent_params"`
	ExecutorPKHex string            `json:"executor_pk_hex"`
	MerkleProof   json.RawMessage   `json:"merkle_proof"`
	ReturnToken   bool              `json:"return_token"`
	TokenAudience string            `json:"token_audience"`
	RequestID     string            `json:"request_id"`
	Proof         *a1.PoPJSON       `json:"proof"`
}

func (r *authorizeRequest) setChain(raw []byte) { r.Chain = raw }
func (r *batchRequest) setChain(raw []byte)     { r.Chain = raw }

// intentOf validates the intent: name rules, and parameter keys must not
// collide after normalization (two keys that normalize alike would make the
// intent hash depend on which one wins).
func intentOf(name string, params map[string]string) (a1.IntentHash, *apiError) {
	if len(params) > a1.MaxParams {
		return a1.IntentHash{}, toAPIError(mustErr(a1.NewIntent(name, params)))
	}
	if len(params) > 1 {
		seen := make(map[string]string, len(params))
		for k := range params {
			n := a1.NormalizeParam(k)
			if other, dup := seen[n]; dup {
				a, b := other, k
				if a > b {
					a, b = b, a
				}
				return a1.IntentHash{}, &apiError{Status: http.StatusBadRequest, Code: CodeParamCollision,
					Msg:  "intent_params keys " + quoteShort(a) + " and " + quoteShort(b) + " collide after normalization",
					Hint: "parameter keys are trimmed and lower-cased; send each key once"}
			}
			seen[n] = k
		}
	}
	in, err := a1.NewIntent(name, params)
	if err != nil {
		return a1.IntentHash{}, toAPIError(err)
	}
	return in.Hash(), nil
}

func mustErr(_ a1.Intent, err error) error {
	if err == nil {
		return errors.New("too many parameters")
	}
	return err
}

func quoteShort(s string) string {
	if len(s) > 32 {
		s = s[:32] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// parsed is a decoded authorize request.
type parsed struct {
	chain    *a1.SignedChain
	executor a1.PublicKey
	intent   a1.IntentHash
	proof    *a1.MerkleProof
	pop      *a1.PoP
	token    *tokenRequest
}

func (s *Server) parseChain(raw json.RawMessage) (*a1.SignedChain, *apiError) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, badRequest("missing field `chain`")
	}
	sc, err := s.chains.decode(raw)
	if err != nil {
		return nil, toAPIError(err)
	}
	return sc, nil
}

func parseExecutor(h string) (a1.PublicKey, *apiError) {
	if h == "" {
		return a1.PublicKey{}, badRequest("missing field `executor_pk_hex`")
	}
	pk, err := a1.ParsePublicKeyHex(h)
	if err != nil {
		return pk, badRequest("executor_pk_hex must be 64 hex characters (32 bytes)")
	}
	return pk, nil
}

func parseMerkleProof(raw json.RawMessage) (*a1.MerkleProof, *apiError) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var p a1.MerkleProof
	if err := p.UnmarshalJSON(raw); err != nil {
		return nil, toAPIError(err)
	}
	return &p, nil
}

func parsePoP(j *a1.PoPJSON) (*a1.PoP, *apiError) {
	if j == nil {
		return nil, nil
	}
	p, err := j.Parse()
	if err != nil {
		return nil, toAPIError(err)
	}
	return p, nil
}

// authzEvent carries what an audit event and the metrics need.
type authzEvent struct {
	route, requestID, intent string
	p                        *parsed
	res                      *a1.Result
	err                      error
	batch                    int
	start                    time.Time
	// Hex forms already computed for the response, reused by the audit
	// event (each is computed once per request).
	fpHex, intentHex, executorHex string
}

func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	route := r.URL.Path
	var req authorizeRequest
	ev := &authzEvent{route: route, start: start}
	defer s.recordDecisionOnExit(r, ev)

	body, e := decodePooled(w, r, s.cfg.MaxBodyBytes, &req)
	defer putBody(body) // req.Chain points into it: released when the handler returns
	if e != nil {
		ev.err = e
		writeError(w, e)
		return
	}
	ev.requestID, ev.intent = req.RequestID, req.IntentName
	p, e := s.parseAuthorize(&req)
	ev.p = p
	if e != nil {
		ev.err = e
		writeError(w, e)
		return
	}
	vr := &a1.Request{Chain: p.chain, Executor: p.executor, Intent: p.intent, Action: req.IntentName, Proof: p.proof, PoP: p.pop}
	res, err := s.verifier.Verify(vr)
	if err == nil {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.StorageTimeout)
		err = a1.Consume(ctx, s.st, s.cfg.Tenant, res)
		cancel()
	}
	if err != nil {
		ev.err = err
		writeError(w, toAPIError(err))
		return
	}
	ev.res = res
	resp, err := s.buildResponse(res, p.intent, p.token, req.RequestID)
	if err != nil {
		ev.err = err
		writeError(w, toAPIError(err))
		return
	}
	ev.fpHex, ev.intentHex = resp.ChainFingerprint, resp.IntentHashHex
	if len(req.ExecutorPKHex) == 2*len(p.executor) && isLowerHex(req.ExecutorPKHex) {
		ev.executorHex = req.ExecutorPKHex
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) parseAuthorize(req *authorizeRequest) (*parsed, *apiError) {
	if len(req.RequestID) > MaxRequestIDLen {
		return nil, badRequest("request_id longer than %d bytes", MaxRequestIDLen)
	}
	p := &parsed{}
	var e *apiError
	if p.chain, e = s.parseChain(req.Chain); e != nil {
		return nil, e
	}
	if p.executor, e = parseExecutor(req.ExecutorPKHex); e != nil {
		return p, e
	}
	if req.IntentName == "" {
		return p, badRequest("missing field `intent_name`")
	}
	if p.intent, e = intentOf(req.IntentName, req.IntentParams); e != nil {
		return p, e
	}
	if p.proof, e = parseMerkleProof(req.MerkleProof); e != nil {
		return p, e
	}
	if p.pop, e = parsePoP(req.Proof); e != nil {
		return p, e
	}
	if p.token, e = tokenOf(req.ReturnToken, req.TokenAudience, p.executor); e != nil {
		return p, e
	}
	return p, nil
}

// tokenRequest is the token an authorized answer carries: the reference's
// (audience "") or one bound to the audience and the executor
// (docs/spec.md §3.3). nil: no token.
type tokenRequest struct {
	audience string
	executor a1.PublicKey
}

// tokenOf checks return_token and token_audience before anything is
// consumed: an audience needs return_token and must be a valid audience.
func tokenOf(returnToken bool, audience string, executor a1.PublicKey) (*tokenRequest, *apiError) {
	if audience != "" {
		if !returnToken {
			return nil, &apiError{Status: http.StatusBadRequest, Code: CodeMalformed,
				Msg: "token_audience without return_token", Hint: "set return_token to true to receive a token bound to token_audience"}
		}
		if err := a1.ValidateAudience(audience); err != nil {
			return nil, badRequest("token_audience: %v", err)
		}
	}
	if !returnToken {
		return nil, nil
	}
	return &tokenRequest{audience: audience, executor: executor}, nil
}

func (s *Server) buildResponse(res *a1.Result, intent a1.IntentHash, token *tokenRequest, requestID string) (*api.AuthorizeResponse, error) {
	sig, err := a1.SignReceipt(s.receiptKey, &res.Receipt)
	if err != nil {
		return nil, err
	}
	fp := hexString(res.ChainFingerprint[:])
	commit := res.Mask.Commitment()
	resp := &api.AuthorizeResponse{
		Authorized:       true,
		ChainDepth:       res.Depth,
		ChainFingerprint: fp,
		VerifiedAtUnix:   res.Receipt.VerifiedAtUnix,
		Receipt: api.Receipt{
			ChainDepth:             res.Depth,
			FingerprintHex:         fp,
			VerifiedAtUnix:         res.Receipt.VerifiedAtUnix,
			PassportNamespace:      res.PassportNamespace,
			CapabilityMaskHex:      hexString(res.Mask[:]),
			NarrowingCommitmentHex: hexString(commit[:]),
		},
		ReceiptSignatureHex: hexString(sig),
		IntentHashHex:       hexString(intent[:]),
		RequestID:           requestID,
	}
	if token != nil {
		var t a1.VerifiedToken
		if token.audience == "" {
			t = a1.NewVerifiedToken(res.Receipt, s.macKey)
		} else if t, err = a1.NewBoundToken(res.Receipt, a1.TokenBinding{Audience: token.audience, Executor: token.executor}, s.macKey); err != nil {
			return nil, err
		}
		resp.Token = &t
	}
	return resp, nil
}

// recordDecisionOnExit, deferred by an authorize handler, records its
// decision however the handler ends: a panic (answered 500 by the
// recoverer) is recorded as an INTERNAL error, never as the allow an
// event without an error would say, and then goes on to the recoverer.
func (s *Server) recordDecisionOnExit(r *http.Request, ev *authzEvent) {
	if v := recover(); v != nil {
		// http.ErrAbortHandler too: an aborted response is no allow.
		ev.err = &apiError{Status: http.StatusInternalServerError, Code: CodeInternal, Msg: "internal error"}
		s.recordDecision(r, ev)
		panic(v)
	}
	s.recordDecision(r, ev)
}

// recordDecision updates metrics and emits the audit event of one decision.
func (s *Server) recordDecision(r *http.Request, ev *authzEvent) {
	elapsed := time.Since(ev.start)
	result, code := audit.DecisionAllow, ""
	var hop *int
	if ev.err != nil {
		ae := toAPIError(ev.err)
		code, hop = ae.Code, ae.Hop
		result = audit.DecisionDeny
		if ae.Status >= 500 {
			result = audit.DecisionError
			s.metrics.storageErrs.WithLabelValues("authorize").Inc()
		}
		if code == "NONCE_REPLAY" {
			s.metrics.replays.Inc()
		}
	}
	s.metrics.decision(ev.route, result, code, elapsed.Seconds())
	kind := audit.KindAuthorize
	if ev.batch > 0 {
		kind = audit.KindAuthorizeBatch
	}
	e := audit.Event{
		Kind: kind, Action: ev.route, Decision: result, ErrorCode: code, Hop: hop,
		Intent: ev.intent, RequestID: cmp.Or(ev.requestID, headerRequestID(r)), Tenant: s.cfg.Tenant,
		ClientIP:  clientIP(r, s.cfg.ProxyMode, s.cfg.TrustedProxies).String(),
		BatchSize: ev.batch, LatencyUS: elapsed.Microseconds(),
	}
	if ev.p != nil {
		if ev.p.chain != nil {
			e.Principal = hexString(ev.p.chain.PrincipalPK[:])
		}
		switch {
		case ev.executorHex != "":
			e.Executor = ev.executorHex
		case ev.p.executor != (a1.PublicKey{}):
			e.Executor = hexString(ev.p.executor[:])
		}
		switch {
		case ev.intentHex != "":
			e.IntentHash = ev.intentHex
		case ev.p.intent != (a1.IntentHash{}):
			e.IntentHash = hexString(ev.p.intent[:])
		}
	}
	if ev.res != nil {
		e.ChainFingerprint = ev.fpHex
		if e.ChainFingerprint == "" {
			e.ChainFingerprint = hexString(ev.res.ChainFingerprint[:])
		}
		e.Namespace = ev.res.PassportNamespace
	}
	if s.tp != nil {
		traceDecision(r, &e)
	}
	s.emitter.Emit(e)
}

// batchIntent is one intent of a batch.
type batchIntent struct {
	Name        string            `json:"name"`
	Params      map[string]string `json:"params"`
	MerkleProof json.RawMessage   `json:"merkle_proof"`
}

type batchRequest struct {
	Chain         json.RawMessage `json:"chain"`
	ExecutorPKHex string          `json:"executor_pk_hex"`
	Intents       []batchIntent   `json:"intents"`
	ReturnToken   bool            `json:"return_token"`
	TokenAudience string          `json:"token_audience"`
	RequestID     string          `json:"request_id"`
	Proof         *a1.PoPJSON     `json:"proof"`
}

// handleAuthorizeBatch verifies one chain against many intents. The chain
// (and the PoP, which covers the first intent) is checked with the first
// intent: a failure there is the answer for the whole request. Every other
// intent is checked against the same chain; then ONE storage call checks
// revocation and consumes the nonces of the first verification. Items that
// failed their own scope check are reported and do not stop the others.
func (s *Server) handleAuthorizeBatch(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req batchRequest
	ev := &authzEvent{route: r.URL.Path, start: start, batch: 1}
	defer s.recordDecisionOnExit(r, ev)
	body, e := decodePooled(w, r, s.cfg.MaxBodyBytes, &req)
	defer putBody(body) // req.Chain points into it: released when the handler returns
	if e != nil {
		ev.err = e
		writeError(w, e)
		return
	}
	ev.requestID = req.RequestID
	fail := func(e *apiError) { ev.err = e; writeError(w, e) }
	switch {
	case len(req.Intents) == 0:
		fail(&apiError{Status: http.StatusBadRequest, Code: CodeBatchEmpty, Msg: "intents must not be empty", Hint: "send at least one intent"})
		return
	case len(req.Intents) > s.cfg.MaxBatch:
		fail(&apiError{Status: http.StatusBadRequest, Code: CodeBatchTooLarge, Msg: "too many intents", Hint: "split the batch (limit in /.well-known/a1-configuration)"})
		return
	case len(req.RequestID) > MaxRequestIDLen:
		fail(badRequest("request_id longer than %d bytes", MaxRequestIDLen))
		return
	}
	ev.batch = len(req.Intents)
	p := &parsed{}
	ev.p = p
	if p.chain, e = s.parseChain(req.Chain); e != nil {
		fail(e)
		return
	}
	if p.executor, e = parseExecutor(req.ExecutorPKHex); e != nil {
		fail(e)
		return
	}
	if p.pop, e = parsePoP(req.Proof); e != nil {
		fail(e)
		return
	}
	if p.token, e = tokenOf(req.ReturnToken, req.TokenAudience, p.executor); e != nil {
		fail(e)
		return
	}
	type item struct {
		hash  a1.IntentHash
		proof *a1.MerkleProof
	}
	items := make([]item, len(req.Intents))
	for i, in := range req.Intents {
		if in.Name == "" {
			fail(badRequest("intents[%d]: missing field `name`", i))
			return
		}
		h, e := intentOf(in.Name, in.Params)
		if e != nil {
			e.Msg = "intents[" + itoa(i) + "]: " + e.Msg
			fail(e)
			return
		}
		pr, e := parseMerkleProof(in.MerkleProof)
		if e != nil {
			e.Msg = "intents[" + itoa(i) + "]: " + e.Msg
			fail(e)
			return
		}
		items[i] = item{h, pr}
	}
	p.intent = items[0].hash
	ev.intent = req.Intents[0].Name

	firstReq := &a1.Request{Chain: p.chain, Executor: p.executor, Intent: items[0].hash,
		Action: req.Intents[0].Name, Proof: items[0].proof, PoP: p.pop}
	if p.pop != nil {
		// The proof signs every intent of the batch (docs/spec.md §1).
		hashes := make([]a1.IntentHash, len(items))
		for i := range items {
			hashes[i] = items[i].hash
		}
		firstReq.PoPIntent = a1.BatchIntentHash(hashes)
	}
	first, err := s.verifier.Verify(firstReq)
	if err != nil {
		ev.err = err
		writeError(w, toAPIError(err))
		return
	}
	results := make([]*a1.Result, len(items))
	results[0] = first
	resp := api.BatchResponse{TotalCount: len(items), Results: make([]api.BatchResult, len(items)), RequestID: req.RequestID}
	for i := 1; i < len(items); i++ {
		// The proof (if any) covers the whole batch: with A1_REQUIRE_POP
		// the other items must not be asked for one of their own.
		res, err := s.verifier.VerifyBatchItem(first, &a1.Request{Chain: p.chain, Executor: p.executor, Intent: items[i].hash,
			Action: req.Intents[i].Name, Proof: items[i].proof})
		if err != nil {
			ae := toAPIError(err)
			resp.Results[i] = api.BatchResult{IntentName: req.Intents[i].Name, Error: ae.Msg, ErrorCode: ae.Code, Hop: ae.Hop}
			continue
		}
		results[i] = res
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.StorageTimeout)
	err = a1.Consume(ctx, s.st, s.cfg.Tenant, first)
	cancel()
	if err != nil {
		ev.err = err
		writeError(w, toAPIError(err))
		return
	}
	ev.res = first
	for i, res := range results {
		if res == nil {
			continue
		}
		br, err := s.buildResponse(res, items[i].hash, p.token, "")
		if err != nil {
			ev.err = err
			writeError(w, toAPIError(err))
			return
		}
		resp.Results[i] = api.BatchResult{IntentName: req.Intents[i].Name, Authorized: true, ChainFingerprint: br.ChainFingerprint,
			IntentHashHex: br.IntentHashHex, VerifiedAtUnix: br.VerifiedAtUnix, ReceiptSignatureHex: br.ReceiptSignatureHex, Token: br.Token}
		resp.AuthorizedCount++
	}
	resp.AllAuthorized = resp.AuthorizedCount == resp.TotalCount
	writeJSON(w, http.StatusOK, resp)
}

func itoa(i int) string { return strconv.Itoa(i) }

// hexString is hex.EncodeToString (lower case) with a single allocation,
// the string, for inputs of up to 64 bytes.
func hexString(b []byte) string {
	if len(b) > 64 {
		return hex.EncodeToString(b)
	}
	var buf [128]byte
	return string(buf[:hex.Encode(buf[:], b)])
}

// isLowerHex reports whether s is canonical (lower-case) hex, so that it
// can stand for the hex encoding of the bytes it parsed to.
func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
