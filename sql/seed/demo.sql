-- seed/demo.sql: the demo data of `clientflow seed` (the seed's `prisma db seed`).
--
-- Idempotent: fixed UUIDv7-shaped ids and ON CONFLICT DO NOTHING everywhere,
-- so a second run inserts nothing, changes nothing and raises no error.  Rows
-- are written once and then left alone: dates relative to "now" (future
-- appointments, the last seven days of metrics) are those of the first run.
-- It runs as the migrating role (superuser or BYPASSRLS: RLS is forced on
-- every table) inside one transaction that the caller opens.
--
-- Two organizations, so isolation can be tested and shown:
--   "ClientFlow Demo" (clientflow-demo): exactly the seed's data -- owner
--     demo@clientflow.test, 10 tagged contacts, 5 deals (one per stage),
--     5 future appointments, 2 automations, 3 activities (call, email, note),
--     7 daily metrics -- plus a second member, rep@clientflow.test, so two
--     reps of one org can sync against each other.
--   "Northwind Field Sales" (northwind): owner owner@northwind.test, member
--     rep@northwind.test, and data of its own in every tenant table.
--
-- Fixed ids (also in docs/seed.md; code and tests refer to them).  Shape:
--   01936b2a-KKKK-7000-8000-ONNNNNNNNNNN   KKKK = kind, O = org (1 demo,
--   2 northwind, 0 global), N = sequence number.
--   kind 0000 organizations   demo      01936b2a-0000-7000-8000-100000000001
--                              northwind 01936b2a-0000-7000-8000-200000000001
--   kind 0001 users           demo@clientflow.test  01936b2a-0001-7000-8000-000000000001
--                              rep@clientflow.test   01936b2a-0001-7000-8000-000000000002
--                              owner@northwind.test  01936b2a-0001-7000-8000-000000000003
--                              rep@northwind.test    01936b2a-0001-7000-8000-000000000004
--   kind 0002 memberships     O NNN..001 owner, ..002 member
--   kind 0003 contacts        demo ..001-..010, northwind ..001-..004
--   kind 0004 deals           demo ..001-..005 (lead, qualified, proposal,
--                              won, lost), northwind ..001-..003
--   kind 0005 activities      demo ..001-..003 (call, email, note), northwind ..001-..002
--   kind 0006 appointments    demo ..001-..005, northwind ..001-..002
--   kind 0007 messages        northwind ..001-..002
--   kind 0008 automations     demo ..001 booking confirmation, ..002 follow-up
--                              reminder; northwind ..001
--   kind 0009 daily_metrics   demo ..001-..007 (..001 = 6 days ago, ..007 = today),
--                              northwind ..001-..003

-- Organizations ---------------------------------------------------------------
INSERT INTO public.organizations (id, name, slug, settings) VALUES
  ('01936b2a-0000-7000-8000-100000000001', 'ClientFlow Demo', 'clientflow-demo',
   '{"timezone": "UTC", "currency": "USD"}'),
  ('01936b2a-0000-7000-8000-200000000001', 'Northwind Field Sales', 'northwind',
   '{"timezone": "Europe/London", "currency": "GBP"}')
ON CONFLICT DO NOTHING;

-- Users -----------------------------------------------------------------------
INSERT INTO public.users (id, email, full_name) VALUES
  ('01936b2a-0001-7000-8000-000000000001', 'demo@clientflow.test', 'Demo Owner'),
  ('01936b2a-0001-7000-8000-000000000002', 'rep@clientflow.test', 'Riley Rep'),
  ('01936b2a-0001-7000-8000-000000000003', 'owner@northwind.test', 'Nora Northwind'),
  ('01936b2a-0001-7000-8000-000000000004', 'rep@northwind.test', 'Sam Field')
ON CONFLICT DO NOTHING;

-- Memberships -----------------------------------------------------------------
INSERT INTO public.memberships (org_id, id, user_id, role) VALUES
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0002-7000-8000-100000000001',
   '01936b2a-0001-7000-8000-000000000001', 'owner'),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0002-7000-8000-100000000002',
   '01936b2a-0001-7000-8000-000000000002', 'member'),
  ('01936b2a-0000-7000-8000-200000000001', '01936b2a-0002-7000-8000-200000000001',
   '01936b2a-0001-7000-8000-000000000003', 'owner'),
  ('01936b2a-0000-7000-8000-200000000001', '01936b2a-0002-7000-8000-200000000002',
   '01936b2a-0001-7000-8000-000000000004', 'member')
ON CONFLICT DO NOTHING;

-- Contacts --------------------------------------------------------------------
INSERT INTO public.contacts (org_id, id, first_name, last_name, email, phone, company, tags) VALUES
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0003-7000-8000-100000000001',
   'Ava', 'Martinez', 'ava.martinez@example.com', '+1-555-0101', 'Brightside Dental', '{lead,dental}'),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0003-7000-8000-100000000002',
   'Ben', 'Okafor', 'ben.okafor@example.com', '+1-555-0102', 'Okafor Fitness', '{customer,fitness}'),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0003-7000-8000-100000000003',
   'Chloe', 'Nguyen', 'chloe.nguyen@example.com', '+1-555-0103', 'Nguyen Law', '{prospect,legal}'),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0003-7000-8000-100000000004',
   'Daniel', 'Schmidt', 'daniel.schmidt@example.com', '+1-555-0104', 'Schmidt Auto', '{customer,vip}'),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0003-7000-8000-100000000005',
   'Emma', 'Rossi', 'emma.rossi@example.com', '+1-555-0105', 'Rossi Salon', '{lead,beauty}'),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0003-7000-8000-100000000006',
   'Farah', 'Haddad', 'farah.haddad@example.com', '+1-555-0106', 'Haddad Realty', '{prospect,real-estate}'),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0003-7000-8000-100000000007',
   'George', 'Kim', 'george.kim@example.com', '+1-555-0107', 'Kim Consulting', '{customer}'),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0003-7000-8000-100000000008',
   'Hana', 'Sato', 'hana.sato@example.com', '+1-555-0108', 'Sato Yoga', '{lead,fitness}'),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0003-7000-8000-100000000009',
   'Ivan', 'Petrov', 'ivan.petrov@example.com', '+1-555-0109', 'Petrov Plumbing', '{churned}'),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0003-7000-8000-100000000010',
   'Julia', 'Costa', 'julia.costa@example.com', '+1-555-0110', 'Costa Cafe', '{customer,vip,food}'),
  ('01936b2a-0000-7000-8000-200000000001', '01936b2a-0003-7000-8000-200000000001',
   'Oliver', 'Hughes', 'oliver.hughes@example.co.uk', '+44-20-7946-0001', 'Hughes Hardware', '{lead,retail}'),
  ('01936b2a-0000-7000-8000-200000000001', '01936b2a-0003-7000-8000-200000000002',
   'Priya', 'Shah', 'priya.shah@example.co.uk', '+44-20-7946-0002', 'Shah Pharmacy', '{customer}'),
  ('01936b2a-0000-7000-8000-200000000001', '01936b2a-0003-7000-8000-200000000003',
   'Tom', 'Evans', 'tom.evans@example.co.uk', '+44-20-7946-0003', 'Evans Builders', '{prospect}'),
  ('01936b2a-0000-7000-8000-200000000001', '01936b2a-0003-7000-8000-200000000004',
   'Ava', 'Martinez', 'ava.martinez@example.com', '+44-20-7946-0004', 'Martinez Imports', '{lead}')
ON CONFLICT DO NOTHING;
-- (The last Northwind contact shares an email with a ClientFlow Demo contact on
-- purpose: uniqueness is per organization.)

-- Deals: one per stage --------------------------------------------------------
INSERT INTO public.deals (org_id, id, contact_id, title, stage, value, currency, expected_close, closed_at) VALUES
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0004-7000-8000-100000000001',
   '01936b2a-0003-7000-8000-100000000001', 'Brightside Dental website', 'lead', 2500.00, 'USD',
   current_date + 30, NULL),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0004-7000-8000-100000000002',
   '01936b2a-0003-7000-8000-100000000003', 'Nguyen Law booking system', 'qualified', 4800.00, 'USD',
   current_date + 21, NULL),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0004-7000-8000-100000000003',
   '01936b2a-0003-7000-8000-100000000006', 'Haddad Realty CRM rollout', 'proposal', 12000.00, 'USD',
   current_date + 14, NULL),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0004-7000-8000-100000000004',
   '01936b2a-0003-7000-8000-100000000004', 'Schmidt Auto annual plan', 'won', 9600.00, 'USD',
   current_date - 3, now() - interval '3 days'),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0004-7000-8000-100000000005',
   '01936b2a-0003-7000-8000-100000000009', 'Petrov Plumbing SMS bundle', 'lost', 1500.00, 'USD',
   current_date - 10, now() - interval '10 days'),
  ('01936b2a-0000-7000-8000-200000000001', '01936b2a-0004-7000-8000-200000000001',
   '01936b2a-0003-7000-8000-200000000001', 'Hughes Hardware restock', 'qualified', 3200.00, 'GBP',
   current_date + 20, NULL),
  ('01936b2a-0000-7000-8000-200000000001', '01936b2a-0004-7000-8000-200000000002',
   '01936b2a-0003-7000-8000-200000000002', 'Shah Pharmacy van fleet', 'won', 18500.00, 'GBP',
   current_date - 5, now() - interval '5 days'),
  ('01936b2a-0000-7000-8000-200000000001', '01936b2a-0004-7000-8000-200000000003',
   '01936b2a-0003-7000-8000-200000000003', 'Evans Builders site kit', 'proposal', 7400.00, 'GBP',
   current_date + 9, NULL)
ON CONFLICT DO NOTHING;

-- Activities: a call, an email, a note ------------------------------------------
INSERT INTO public.activities (org_id, id, kind, subject, body, contact_id, deal_id, user_id, occurred_at) VALUES
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0005-7000-8000-100000000001',
   'call', 'Discovery call with Ava', 'Wants online booking before the spring rush.',
   '01936b2a-0003-7000-8000-100000000001', '01936b2a-0004-7000-8000-100000000001',
   '01936b2a-0001-7000-8000-000000000001', now() - interval '2 days'),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0005-7000-8000-100000000002',
   'email', 'Proposal sent to Farah', 'Sent the rollout proposal and pricing.',
   '01936b2a-0003-7000-8000-100000000006', '01936b2a-0004-7000-8000-100000000003',
   '01936b2a-0001-7000-8000-000000000001', now() - interval '1 day'),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0005-7000-8000-100000000003',
   'note', 'Daniel renewed', 'Annual plan signed; ask for a referral next month.',
   '01936b2a-0003-7000-8000-100000000004', '01936b2a-0004-7000-8000-100000000004',
   '01936b2a-0001-7000-8000-000000000002', now() - interval '3 days'),
  ('01936b2a-0000-7000-8000-200000000001', '01936b2a-0005-7000-8000-200000000001',
   'call', 'Follow-up with Oliver', 'Needs a quote for the autumn range.',
   '01936b2a-0003-7000-8000-200000000001', '01936b2a-0004-7000-8000-200000000001',
   '01936b2a-0001-7000-8000-000000000004', now() - interval '1 day'),
  ('01936b2a-0000-7000-8000-200000000001', '01936b2a-0005-7000-8000-200000000002',
   'task', 'Send site kit samples to Tom', NULL,
   '01936b2a-0003-7000-8000-200000000003', '01936b2a-0004-7000-8000-200000000003',
   '01936b2a-0001-7000-8000-000000000004', now())
ON CONFLICT DO NOTHING;

-- Appointments: in the future -------------------------------------------------
INSERT INTO public.appointments (org_id, id, contact_id, title, starts_at, ends_at, location, status) VALUES
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0006-7000-8000-100000000001',
   '01936b2a-0003-7000-8000-100000000001', 'Website walkthrough',
   date_trunc('hour', now()) + interval '1 day 10 hours',
   date_trunc('hour', now()) + interval '1 day 11 hours', 'Zoom', 'confirmed'),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0006-7000-8000-100000000002',
   '01936b2a-0003-7000-8000-100000000003', 'Booking system demo',
   date_trunc('hour', now()) + interval '2 days 14 hours',
   date_trunc('hour', now()) + interval '2 days 15 hours', 'Nguyen Law office', 'scheduled'),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0006-7000-8000-100000000003',
   '01936b2a-0003-7000-8000-100000000006', 'Proposal review',
   date_trunc('hour', now()) + interval '3 days 9 hours',
   date_trunc('hour', now()) + interval '3 days 10 hours', 'Phone', 'scheduled'),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0006-7000-8000-100000000004',
   '01936b2a-0003-7000-8000-100000000005', 'Salon consultation',
   date_trunc('hour', now()) + interval '5 days 16 hours',
   date_trunc('hour', now()) + interval '5 days 16 hours 30 minutes', 'Rossi Salon', 'scheduled'),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0006-7000-8000-100000000005',
   '01936b2a-0003-7000-8000-100000000010', 'Quarterly check-in',
   date_trunc('hour', now()) + interval '7 days 11 hours',
   date_trunc('hour', now()) + interval '7 days 12 hours', 'Costa Cafe', 'confirmed'),
  ('01936b2a-0000-7000-8000-200000000001', '01936b2a-0006-7000-8000-200000000001',
   '01936b2a-0003-7000-8000-200000000001', 'Store visit',
   date_trunc('hour', now()) + interval '1 day 13 hours',
   date_trunc('hour', now()) + interval '1 day 14 hours', 'Hughes Hardware, Leeds', 'scheduled'),
  ('01936b2a-0000-7000-8000-200000000001', '01936b2a-0006-7000-8000-200000000002',
   '01936b2a-0003-7000-8000-200000000003', 'Site survey',
   date_trunc('hour', now()) + interval '4 days 8 hours',
   date_trunc('hour', now()) + interval '4 days 10 hours', 'Evans Builders yard', 'confirmed')
ON CONFLICT DO NOTHING;

-- Messages (Northwind only: the seed's demo org has none) ------------------------
INSERT INTO public.messages (org_id, id, contact_id, channel, direction, subject, body, status, sent_at) VALUES
  ('01936b2a-0000-7000-8000-200000000001', '01936b2a-0007-7000-8000-200000000001',
   '01936b2a-0003-7000-8000-200000000001', 'email', 'outbound', 'Your autumn quote',
   'Hi Oliver, the quote is attached.', 'delivered', now() - interval '20 hours'),
  ('01936b2a-0000-7000-8000-200000000001', '01936b2a-0007-7000-8000-200000000002',
   '01936b2a-0003-7000-8000-200000000001', 'sms', 'inbound', NULL,
   'Thanks, will review tonight.', 'read', now() - interval '18 hours')
ON CONFLICT DO NOTHING;

-- Automations -------------------------------------------------------------------
INSERT INTO public.automations (org_id, id, name, trigger, action, config, enabled) VALUES
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0008-7000-8000-100000000001',
   'Booking confirmation', 'appointment_booked', 'send_email',
   '{"template": "booking_confirmation", "delay_minutes": 0}', true),
  ('01936b2a-0000-7000-8000-100000000001', '01936b2a-0008-7000-8000-100000000002',
   'Follow-up reminder', 'appointment_reminder', 'send_sms',
   '{"template": "appointment_reminder", "hours_before": 24}', true),
  ('01936b2a-0000-7000-8000-200000000001', '01936b2a-0008-7000-8000-200000000001',
   'Won deal hand-off', 'deal_stage_changed', 'create_task',
   '{"stage": "won", "assign_to": "owner"}', true)
ON CONFLICT DO NOTHING;

-- Daily metrics: the last seven days (today included) ---------------------------
INSERT INTO public.daily_metrics (org_id, id, day, new_contacts, deals_won, revenue,
                                  appointments_booked, messages_sent)
SELECT '01936b2a-0000-7000-8000-100000000001'::uuid,
       ('01936b2a-0009-7000-8000-10000000000' || (7 - d))::uuid,
       current_date - d,
       (ARRAY[3, 1, 4, 2, 5, 2, 3])[7 - d],
       (ARRAY[0, 1, 0, 1, 0, 0, 1])[7 - d],
       (ARRAY[0, 2400, 0, 9600, 0, 0, 1800])[7 - d]::numeric(14, 2),
       (ARRAY[2, 1, 3, 0, 2, 4, 1])[7 - d],
       (ARRAY[12, 8, 15, 6, 11, 14, 9])[7 - d]
FROM generate_series(0, 6) AS d
ON CONFLICT DO NOTHING;

INSERT INTO public.daily_metrics (org_id, id, day, new_contacts, deals_won, revenue,
                                  appointments_booked, messages_sent)
SELECT '01936b2a-0000-7000-8000-200000000001'::uuid,
       ('01936b2a-0009-7000-8000-20000000000' || (3 - d))::uuid,
       current_date - d,
       (ARRAY[1, 2, 1])[3 - d],
       (ARRAY[0, 1, 0])[3 - d],
       (ARRAY[0, 18500, 0])[3 - d]::numeric(14, 2),
       (ARRAY[1, 0, 1])[3 - d],
       (ARRAY[4, 2, 3])[3 - d]
FROM generate_series(0, 2) AS d
ON CONFLICT DO NOTHING;
