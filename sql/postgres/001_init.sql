-- 001_init.sql: the ClientFlow CRM master schema (PostgreSQL 15).
--
-- Ten tables.  organizations and users are global; the eight tenant tables
-- carry org_id, are keyed (org_id, id) and reference each other through
-- composite foreign keys (org_id, x_id), so no row can point into another
-- organization, and every tenant table can be distributed by org_id (Citus).
-- Deleting an organization cascades to everything it owns.  Unique
-- constraints are per organization, never global (except users.email).
-- Ids are UUIDv7, generated where the row is created (offline devices create
-- rows), so the defaults below only serve direct SQL.
--
-- docs/schema.md describes every column; the replica's copy of this schema
-- is sql/sqlite/ and the shared column list is core/schema.c.

CREATE FUNCTION public.set_updated_at() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
  -- Keep updated_at moving on every update, unless the writer set it
  -- explicitly (replicated rows carry the time of the original write).
  IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END $$;

CREATE TABLE public.organizations (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.users (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email       text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
  full_name   text,
  avatar_url  text,
  metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON public.users (lower(email));

CREATE TABLE public.memberships (
  org_id      uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  user_id     uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
  role        text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  CONSTRAINT memberships_org_user_key UNIQUE (org_id, user_id)
);
CREATE INDEX memberships_user_idx ON public.memberships (user_id, org_id);

CREATE TABLE public.contacts (
  org_id      uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  first_name  text NOT NULL CHECK (char_length(first_name) BETWEEN 1 AND 200),
  last_name   text,
  email       text CHECK (email IS NULL OR email ~ '^[^@\s]+@[^@\s]+$'),
  phone       text,
  company     text,
  tags        text[] NOT NULL DEFAULT '{}',
  metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  CONSTRAINT contacts_org_email_key UNIQUE (org_id, email)
);
CREATE INDEX contacts_org_created_idx ON public.contacts (org_id, created_at DESC, id);
CREATE INDEX contacts_tags_idx ON public.contacts USING gin (tags);

CREATE TABLE public.deals (
  org_id          uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
  id              uuid NOT NULL DEFAULT gen_random_uuid(),
  contact_id      uuid,
  title           text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 300),
  stage           text NOT NULL DEFAULT 'lead'
                  CHECK (stage IN ('lead', 'qualified', 'proposal', 'won', 'lost')),
  value           numeric(14, 2) NOT NULL DEFAULT 0 CHECK (value >= 0),
  currency        text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
  expected_close  date,
  closed_at       timestamptz,
  metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, contact_id) REFERENCES public.contacts (org_id, id)
    ON DELETE SET NULL (contact_id)
);
CREATE INDEX deals_org_stage_idx ON public.deals (org_id, stage, created_at DESC);
CREATE INDEX deals_org_contact_idx ON public.deals (org_id, contact_id);

CREATE TABLE public.activities (
  org_id        uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
  id            uuid NOT NULL DEFAULT gen_random_uuid(),
  kind          text NOT NULL CHECK (kind IN ('call', 'email', 'note', 'task')),
  subject       text NOT NULL CHECK (char_length(subject) BETWEEN 1 AND 300),
  body          text,
  contact_id    uuid,
  deal_id       uuid,
  user_id       uuid REFERENCES public.users (id) ON DELETE SET NULL,
  occurred_at   timestamptz NOT NULL DEFAULT now(),
  due_at        timestamptz,
  completed_at  timestamptz,
  metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, contact_id) REFERENCES public.contacts (org_id, id)
    ON DELETE CASCADE,
  FOREIGN KEY (org_id, deal_id) REFERENCES public.deals (org_id, id)
    ON DELETE CASCADE
);
CREATE INDEX activities_org_time_idx ON public.activities (org_id, occurred_at DESC);
CREATE INDEX activities_org_contact_idx ON public.activities (org_id, contact_id, occurred_at DESC);

CREATE TABLE public.appointments (
  org_id      uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  contact_id  uuid,
  title       text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 300),
  starts_at   timestamptz NOT NULL,
  ends_at     timestamptz NOT NULL,
  location    text,
  status      text NOT NULL DEFAULT 'scheduled'
              CHECK (status IN ('scheduled', 'confirmed', 'completed', 'cancelled', 'no_show')),
  notes       text,
  metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  CONSTRAINT appointments_time_order CHECK (ends_at > starts_at),
  FOREIGN KEY (org_id, contact_id) REFERENCES public.contacts (org_id, id)
    ON DELETE SET NULL (contact_id)
);
CREATE INDEX appointments_org_starts_idx ON public.appointments (org_id, starts_at);

CREATE TABLE public.messages (
  org_id      uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  contact_id  uuid,
  channel     text NOT NULL CHECK (channel IN ('email', 'sms', 'whatsapp', 'chat')),
  direction   text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  subject     text,
  body        text NOT NULL,
  status      text NOT NULL DEFAULT 'sent'
              CHECK (status IN ('queued', 'sent', 'delivered', 'read', 'failed')),
  sent_at     timestamptz NOT NULL DEFAULT now(),
  metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, contact_id) REFERENCES public.contacts (org_id, id)
    ON DELETE CASCADE
);
CREATE INDEX messages_org_sent_idx ON public.messages (org_id, sent_at DESC);
CREATE INDEX messages_org_contact_idx ON public.messages (org_id, contact_id, sent_at DESC);

CREATE TABLE public.automations (
  org_id      uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  trigger     text NOT NULL CHECK (trigger IN ('appointment_booked', 'appointment_reminder',
                'deal_stage_changed', 'contact_created', 'message_received')),
  action      text NOT NULL CHECK (action IN ('send_email', 'send_sms', 'create_task', 'webhook')),
  config      jsonb NOT NULL DEFAULT '{}'::jsonb,
  enabled     boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  CONSTRAINT automations_org_name_key UNIQUE (org_id, name)
);

CREATE TABLE public.daily_metrics (
  org_id               uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
  id                   uuid NOT NULL DEFAULT gen_random_uuid(),
  day                  date NOT NULL,
  new_contacts         integer NOT NULL DEFAULT 0 CHECK (new_contacts >= 0),
  deals_won            integer NOT NULL DEFAULT 0 CHECK (deals_won >= 0),
  revenue              numeric(14, 2) NOT NULL DEFAULT 0,
  appointments_booked  integer NOT NULL DEFAULT 0 CHECK (appointments_booked >= 0),
  messages_sent        integer NOT NULL DEFAULT 0 CHECK (messages_sent >= 0),
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  CONSTRAINT daily_metrics_org_day_key UNIQUE (org_id, day)
);
CREATE INDEX daily_metrics_org_day_idx ON public.daily_metrics (org_id, day DESC);

-- updated_at on every table.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['organizations', 'users', 'memberships', 'contacts', 'deals',
                           'activities', 'appointments', 'messages', 'automations',
                           'daily_metrics'] LOOP
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON public.%I '
                   'FOR EACH ROW EXECUTE FUNCTION public.set_updated_at()',
                   t || '_set_updated_at', t);
  END LOOP;
END $$;
