-- 0001: revocations, consumed nonces, trusted roots, rate-limit buckets and
-- the single-statement authorization function.
--
-- Tenant ids are always bound parameters. Fingerprints, nonce keys and
-- public keys are 32 raw bytes.

CREATE TABLE a1_revocation (
    tenant      text        NOT NULL,
    fingerprint bytea       NOT NULL CHECK (length(fingerprint) = 32),
    reason      text        NOT NULL DEFAULT '',
    actor       text        NOT NULL DEFAULT '',
    revoked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, fingerprint)
);

-- A consumed nonce is kept until its own expiry (the cert's expiry plus
-- drift), never for a fixed period; expired rows count as unconsumed and
-- are swept through the expires_at index.
CREATE TABLE a1_nonce (
    tenant     text        NOT NULL,
    nonce      bytea       NOT NULL CHECK (length(nonce) = 32),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, nonce)
);
CREATE INDEX a1_nonce_expires_at ON a1_nonce (expires_at);

CREATE TABLE a1_root (
    tenant     text        NOT NULL,
    public_key bytea       NOT NULL CHECK (length(public_key) = 32),
    label      text        NOT NULL DEFAULT '',
    added_by   text        NOT NULL DEFAULT '',
    added_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, public_key)
);

-- GCRA state: tat is the theoretical arrival time in microseconds since the
-- epoch (server clock). A row whose tat has passed carries no information
-- and is swept.
CREATE TABLE a1_ratelimit (
    key text   PRIMARY KEY,
    tat bigint NOT NULL
);
CREATE INDEX a1_ratelimit_tat ON a1_ratelimit (tat);

-- a1_authorize is the whole storage step of an authorization, one
-- statement: it returns 0 when every nonce was consumed, i (1-based) when
-- p_fps[i] is the lowest revoked fingerprint, and -i when p_nonces[i] is
-- the lowest already-consumed (unexpired) or repeated nonce. On a non-zero
-- answer nothing was written. Expiry uses the server clock.
CREATE FUNCTION a1_authorize(p_tenant text, p_fps bytea[], p_nonces bytea[], p_expires timestamptz[])
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    idx  integer;
    dup  integer;
    live integer;
    got  bytea[];
BEGIN
    IF coalesce(cardinality(p_fps), 0) > 0 THEN
        SELECT min(f.i) INTO idx
          FROM unnest(p_fps) WITH ORDINALITY AS f(fp, i)
          JOIN a1_revocation r ON r.tenant = p_tenant AND r.fingerprint = f.fp;
        IF idx IS NOT NULL THEN
            RETURN idx;
        END IF;
    END IF;
    IF coalesce(cardinality(p_nonces), 0) = 0 THEN
        RETURN 0;
    END IF;
    IF cardinality(p_nonces) IS DISTINCT FROM cardinality(p_expires) THEN
        RAISE EXCEPTION 'a1_authorize: % nonces, % expiries', cardinality(p_nonces), cardinality(p_expires);
    END IF;

    -- A nonce repeated inside the request replays its first occurrence.
    SELECT min(d.i) INTO dup FROM (
        SELECT x.i, row_number() OVER (PARTITION BY x.nc ORDER BY x.i) AS rn
          FROM unnest(p_nonces) WITH ORDINALITY AS x(nc, i)) d
     WHERE d.rn > 1;
    SELECT min(x.i) INTO idx
      FROM unnest(p_nonces) WITH ORDINALITY AS x(nc, i)
      JOIN a1_nonce s ON s.tenant = p_tenant AND s.nonce = x.nc AND s.expires_at > now();
    IF idx IS NOT NULL OR dup IS NOT NULL THEN
        RETURN -least(idx, dup);
    END IF;

    -- Consume. A concurrent transaction may consume one of these nonces
    -- between the check above and this insert: ON CONFLICT then waits for
    -- it and leaves its row alone, so fewer rows come back; we undo ours.
    SELECT count(*) INTO live FROM unnest(p_expires) AS e(at) WHERE e.at > now();
    WITH ins AS (
        INSERT INTO a1_nonce AS s (tenant, nonce, expires_at)
        SELECT p_tenant, x.nc, x.at FROM unnest(p_nonces, p_expires) AS x(nc, at) WHERE x.at > now()
         ORDER BY x.nc  -- one lock order for every caller: no deadlocks
        ON CONFLICT (tenant, nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at
            WHERE s.expires_at <= now()
        RETURNING s.nonce)
    SELECT array_agg(ins.nonce) INTO got FROM ins;
    IF coalesce(cardinality(got), 0) < live THEN
        DELETE FROM a1_nonce WHERE tenant = p_tenant AND nonce = ANY (got);
        SELECT min(x.i) INTO idx
          FROM unnest(p_nonces) WITH ORDINALITY AS x(nc, i)
          JOIN a1_nonce s ON s.tenant = p_tenant AND s.nonce = x.nc AND s.expires_at > now();
        RETURN -coalesce(idx, 1);
    END IF;
    RETURN 0;
END;
$$;

-- Revocations written by the reference implementation (a1_revocations,
-- tenant_id) are imported once, so an upgrade never un-revokes a cert.
DO $$
BEGIN
    IF to_regclass('a1_revocations') IS NOT NULL THEN
        INSERT INTO a1_revocation (tenant, fingerprint, revoked_at)
        SELECT tenant_id, fingerprint, revoked_at FROM a1_revocations
         WHERE length(fingerprint) = 32
        ON CONFLICT DO NOTHING;
    END IF;
END;
$$;
