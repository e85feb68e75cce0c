-- sql/server/rest.sql: the statements of the REST API (sync/rest.c;
-- docs/rest-api.md).  Each starts at a "-- @name NAME" line.
--
-- Every request runs in its own transaction:
--   begin                        (this file: BEGIN READ ONLY)
--   as_user                      (this file: the role authenticated, the
--                                 claims, UTC, the statement timeout, all
--                                 transaction-local)
--   one of the list statements   (this file)
--   COMMIT
-- so Row Level Security decides what each statement sees, and nothing
-- outlives the transaction (safe behind PgBouncer in transaction mode).
-- The four are sent together, in one round trip (libpq pipeline mode), and
-- as_user and the list statements are prepared once per connection
-- (sync/server/rest.c; docs/rest-api.md, "Cost of a request").
--
-- Every list statement answers ONE row:
--   column 0  found   boolean: the organization is visible to the user (a
--                     member's org); false for one that does not exist and
--                     for one the user is not in alike (both answer 404)
--   column 1  body    the whole JSON response, built here, never in C
-- Columns are named one by one: the sync columns cf_versions and cf_seq
-- never leave the database.
--
-- Pagination is keyset: $limit + 1 rows are read, $limit returned, and
-- nextCursor (NULL on the last page) encodes the sort key and id of the last
-- returned row in the byte layout of sync/rest.h:
--   base64url( 01 | list | 00 | int64 BE microseconds | uuid bytes )
-- Sort keys come back from a cursor as microseconds ($key_us) and are turned
-- into a timestamptz exactly (seconds and microseconds apart, so no double
-- rounding).  Orders are total (the id breaks ties), so a walk with cursors
-- returns every row exactly once.

-- @name begin
-- A read-only transaction (its statement timeout is set by as_user).
BEGIN READ ONLY

-- @name as_user
-- $1 claims JSON.  master_sync.sql's as_user, plus a statement timeout so
-- that no statement runs away with a worker.
SELECT set_config('role', 'authenticated', true),
       set_config('request.jwt.claims', $1, true),
       set_config('TimeZone', 'UTC', true),
       set_config('DateStyle', 'ISO, YMD', true),
       set_config('bytea_output', 'hex', true),
       set_config('statement_timeout', '5s', true)

-- @name organizations
-- $1 cursor key_us (NULL: first page), $2 cursor id, $3 limit.
-- The caller's organizations with their role, newest first.
WITH k AS (
  SELECT timestamptz 'epoch' + ($1::bigint / 1000000) * interval '1 second'
                             + ($1::bigint % 1000000) * interval '1 microsecond' AS ts
), page AS (
  SELECT o.id, o.name, o.slug, o.settings, m.role, o.created_at, o.updated_at
  FROM public.organizations AS o
  JOIN public.memberships AS m ON m.org_id = o.id AND m.user_id = (SELECT auth.uid())
  CROSS JOIN k
  WHERE k.ts IS NULL OR o.created_at < k.ts OR (o.created_at = k.ts AND o.id > $2::uuid)
  ORDER BY o.created_at DESC, o.id
  LIMIT $3::integer + 1
), numbered AS (
  SELECT p.*, row_number() OVER (ORDER BY p.created_at DESC, p.id) AS n FROM page AS p
)
SELECT true,
  json_build_object(
    'data', coalesce((
      SELECT json_agg(json_build_object(
               'id', r.id, 'name', r.name, 'slug', r.slug, 'settings', r.settings,
               'role', r.role, 'createdAt', r.created_at, 'updatedAt', r.updated_at)
             ORDER BY r.n)
      FROM numbered AS r WHERE r.n <= $3::integer), '[]'::json),
    'nextCursor', (
      SELECT translate(encode(decode(
               '010100' || lpad(to_hex((extract(epoch FROM r.created_at) * 1000000)::bigint), 16, '0')
               || replace(r.id::text, '-', ''), 'hex'), 'base64'), '+/', '-_')
      FROM numbered AS r
      WHERE r.n = $3::integer AND EXISTS (SELECT 1 FROM numbered AS x WHERE x.n > $3::integer)))::text

-- @name contacts
-- $1 org, $2 cursor key_us (NULL: first page), $3 cursor id, $4 limit.
-- Newest first (the index contacts_org_created_idx has this order).
WITH k AS (
  SELECT timestamptz 'epoch' + ($2::bigint / 1000000) * interval '1 second'
                             + ($2::bigint % 1000000) * interval '1 microsecond' AS ts
), page AS (
  SELECT c.id, c.org_id, c.first_name, c.last_name, c.email, c.phone, c.company, c.tags,
         c.metadata, c.created_at, c.updated_at
  FROM public.contacts AS c CROSS JOIN k
  WHERE c.org_id = $1::uuid
    AND (k.ts IS NULL OR c.created_at < k.ts OR (c.created_at = k.ts AND c.id > $3::uuid))
  ORDER BY c.created_at DESC, c.id
  LIMIT $4::integer + 1
), numbered AS (
  SELECT p.*, row_number() OVER (ORDER BY p.created_at DESC, p.id) AS n FROM page AS p
)
SELECT EXISTS (SELECT 1 FROM public.organizations AS o WHERE o.id = $1::uuid),
  json_build_object(
    'data', coalesce((
      SELECT json_agg(json_build_object(
               'id', r.id, 'orgId', r.org_id, 'firstName', r.first_name,
               'lastName', r.last_name, 'email', r.email, 'phone', r.phone,
               'company', r.company, 'tags', r.tags, 'metadata', r.metadata,
               'createdAt', r.created_at, 'updatedAt', r.updated_at)
             ORDER BY r.n)
      FROM numbered AS r WHERE r.n <= $4::integer), '[]'::json),
    'nextCursor', (
      SELECT translate(encode(decode(
               '010200' || lpad(to_hex((extract(epoch FROM r.created_at) * 1000000)::bigint), 16, '0')
               || replace(r.id::text, '-', ''), 'hex'), 'base64'), '+/', '-_')
      FROM numbered AS r
      WHERE r.n = $4::integer AND EXISTS (SELECT 1 FROM numbered AS x WHERE x.n > $4::integer)))::text

-- @name deals
-- $1 org, $2 cursor key_us, $3 cursor id, $4 limit, $5 stage (NULL: all).
-- Newest first.  value is a string: numeric(14,2) exactly, as Prisma's
-- Decimal serialises.
WITH k AS (
  SELECT timestamptz 'epoch' + ($2::bigint / 1000000) * interval '1 second'
                             + ($2::bigint % 1000000) * interval '1 microsecond' AS ts
), page AS (
  SELECT d.id, d.org_id, d.contact_id, d.title, d.stage, d.value, d.currency,
         d.expected_close, d.closed_at, d.metadata, d.created_at, d.updated_at
  FROM public.deals AS d CROSS JOIN k
  WHERE d.org_id = $1::uuid
    AND ($5::text IS NULL OR d.stage = $5::text)
    AND (k.ts IS NULL OR d.created_at < k.ts OR (d.created_at = k.ts AND d.id > $3::uuid))
  ORDER BY d.created_at DESC, d.id
  LIMIT $4::integer + 1
), numbered AS (
  SELECT p.*, row_number() OVER (ORDER BY p.created_at DESC, p.id) AS n FROM page AS p
)
SELECT EXISTS (SELECT 1 FROM public.organizations AS o WHERE o.id = $1::uuid),
  json_build_object(
    'data', coalesce((
      SELECT json_agg(json_build_object(
               'id', r.id, 'orgId', r.org_id, 'contactId', r.contact_id, 'title', r.title,
               'stage', r.stage, 'value', r.value::text, 'currency', r.currency,
               'expectedClose', r.expected_close, 'closedAt', r.closed_at,
               'metadata', r.metadata, 'createdAt', r.created_at, 'updatedAt', r.updated_at)
             ORDER BY r.n)
      FROM numbered AS r WHERE r.n <= $4::integer), '[]'::json),
    'nextCursor', (
      SELECT translate(encode(decode(
               '010300' || lpad(to_hex((extract(epoch FROM r.created_at) * 1000000)::bigint), 16, '0')
               || replace(r.id::text, '-', ''), 'hex'), 'base64'), '+/', '-_')
      FROM numbered AS r
      WHERE r.n = $4::integer AND EXISTS (SELECT 1 FROM numbered AS x WHERE x.n > $4::integer)))::text

-- @name appointments
-- $1 org, $2 cursor key_us, $3 cursor id, $4 limit, $5 from (NULL: now),
-- $6 to (NULL: no end).  Soonest first; starts_at in [from, to).
WITH k AS (
  SELECT timestamptz 'epoch' + ($2::bigint / 1000000) * interval '1 second'
                             + ($2::bigint % 1000000) * interval '1 microsecond' AS ts
), page AS (
  SELECT a.id, a.org_id, a.contact_id, a.title, a.starts_at, a.ends_at, a.location,
         a.status, a.notes, a.metadata, a.created_at, a.updated_at
  FROM public.appointments AS a CROSS JOIN k
  WHERE a.org_id = $1::uuid
    AND a.starts_at >= coalesce($5::timestamptz, now())
    AND ($6::timestamptz IS NULL OR a.starts_at < $6::timestamptz)
    AND (k.ts IS NULL OR (a.starts_at, a.id) > (k.ts, $3::uuid))
  ORDER BY a.starts_at, a.id
  LIMIT $4::integer + 1
), numbered AS (
  SELECT p.*, row_number() OVER (ORDER BY p.starts_at, p.id) AS n FROM page AS p
)
SELECT EXISTS (SELECT 1 FROM public.organizations AS o WHERE o.id = $1::uuid),
  json_build_object(
    'data', coalesce((
      SELECT json_agg(json_build_object(
               'id', r.id, 'orgId', r.org_id, 'contactId', r.contact_id, 'title', r.title,
               'startsAt', r.starts_at, 'endsAt', r.ends_at, 'location', r.location,
               'status', r.status, 'notes', r.notes, 'metadata', r.metadata,
               'createdAt', r.created_at, 'updatedAt', r.updated_at)
             ORDER BY r.n)
      FROM numbered AS r WHERE r.n <= $4::integer), '[]'::json),
    'nextCursor', (
      SELECT translate(encode(decode(
               '010400' || lpad(to_hex((extract(epoch FROM r.starts_at) * 1000000)::bigint), 16, '0')
               || replace(r.id::text, '-', ''), 'hex'), 'base64'), '+/', '-_')
      FROM numbered AS r
      WHERE r.n = $4::integer AND EXISTS (SELECT 1 FROM numbered AS x WHERE x.n > $4::integer)))::text

-- @name metrics
-- $1 org, $2 days (1..365).  One row per day, oldest first, from
-- current_date - (days - 1) to current_date (UTC); days without a
-- daily_metrics row show zeros.
SELECT EXISTS (SELECT 1 FROM public.organizations AS o WHERE o.id = $1::uuid),
  json_build_object(
    'data', (
      SELECT json_agg(json_build_object(
               'day', d.day,
               'newContacts', coalesce(m.new_contacts, 0),
               'dealsWon', coalesce(m.deals_won, 0),
               'revenue', coalesce(m.revenue, 0)::numeric(14, 2)::text,
               'appointmentsBooked', coalesce(m.appointments_booked, 0),
               'messagesSent', coalesce(m.messages_sent, 0))
             ORDER BY d.day)
      FROM (SELECT current_date - g AS day
            FROM generate_series(0, $2::integer - 1) AS g) AS d
      LEFT JOIN public.daily_metrics AS m ON m.org_id = $1::uuid AND m.day = d.day))::text
