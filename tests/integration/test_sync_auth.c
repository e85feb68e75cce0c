/*
** tests/integration/test_sync_auth.c: the sync server refuses bad tokens at
** HELLO, through a real server (tests/sync_fixture.h).
**
** Forged, expired, not-yet-valid, wrong-audience and `alg: none` tokens each
** get an ERROR frame (auth or token_expired) and the session is closed; a
** node syncing with one gets CF_AUTH and nothing of its outbox reaches the
** master.  A token of user A cannot act as user B: a HELLO naming B with A's
** token, and a replica of B synced with A's token, are refused (forbidden).
** Tokens are made here byte by byte (header.payload.signature, base64url,
** HMAC-SHA256 from core/crypto.h) so that every claim can be set.
*/
#include <inttypes.h>

#include "core/crypto.h"
#include "sync_fixture.h"

/* Appends base64url(text) to out (cap bytes in all). */
static void b64_append(char *out, size_t cap, const void *data, size_t n) {
  size_t len = strlen(out);
  CHECK(len + cf__base64url_encoded_len(n) + 1 <= cap);
  cf__base64url_encode(data, n, out + len);
  out[len + cf__base64url_encoded_len(n)] = '\0';
}

/*
** A compact JWS with header `header` and payload `payload` (JSON texts),
** signed HS256 with secret (NULL: an empty signature, as `alg: none`
** tokens have).  OUT: out[cap].
*/
static void craft_token(const char *header, const char *payload, const char *secret,
                        char *out, size_t cap) {
  out[0] = '\0';
  b64_append(out, cap, header, strlen(header));
  CHECK(strlen(out) + 2 < cap);
  strcat(out, ".");
  b64_append(out, cap, payload, strlen(payload));
  size_t signed_len = strlen(out);
  CHECK(signed_len + 2 < cap);
  strcat(out, ".");
  if (secret != NULL) {
    unsigned char mac[CF_HMAC_SHA256_LEN];
    CHECK_OK(cf__hmac_sha256(secret, strlen(secret), out, signed_len, mac));
    b64_append(out, cap, mac, sizeof mac);
  }
}

/* A payload for sub with exp/nbf relative to now (seconds; nbf 0: none). */
static void payload_for(const char *sub, const char *aud, int64_t exp_in, int64_t nbf_in,
                        char *out, size_t cap) {
  int64_t now = cf__now_ms() / 1000;
  char nbf[64] = "";
  if (nbf_in != 0) snprintf(nbf, sizeof nbf, ",\"nbf\":%" PRId64, now + nbf_in);
  snprintf(out, cap,
           "{\"sub\":\"%s\",\"aud\":\"%s\",\"role\":\"authenticated\",\"iat\":%" PRId64
           ",\"exp\":%" PRId64 "%s}",
           sub, aud, now, now + exp_in, nbf);
}

static const char hs256_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

typedef struct bad_token {
  const char *what;   /* for failure messages */
  char token[2048];   /* the token */
  unsigned wire_code; /* the ERROR code the server must answer */
} bad_token;

static int make_bad_tokens(bad_token *t) {
  char p[512];
  int n = 0;
  /* forged: signed with another secret */
  t[n].what = "forged";
  payload_for(DEMO_REP, "authenticated", 3600, 0, p, sizeof p);
  craft_token(hs256_header, p, "not-the-server-secret-0123456789abcdef", t[n].token,
              sizeof t[n].token);
  t[n++].wire_code = CF_WIRE_AUTH;
  /* forged: a valid token whose payload was edited to another user */
  t[n].what = "payload swapped";
  {
    char good[2048], evil[2048];
    payload_for(DEMO_REP, "authenticated", 3600, 0, p, sizeof p);
    craft_token(hs256_header, p, SFX_SECRET, good, sizeof good);
    payload_for(DEMO_OWNER, "authenticated", 3600, 0, p, sizeof p);
    craft_token(hs256_header, p, SFX_SECRET, evil, sizeof evil);
    const char *sig = strrchr(good, '.');
    char *evil_sig = strrchr(evil, '.');
    snprintf(evil_sig, sizeof evil - (size_t)(evil_sig - evil), "%s", sig);
    snprintf(t[n].token, sizeof t[n].token, "%s", evil);
  }
  t[n++].wire_code = CF_WIRE_AUTH;
  /* expired an hour ago (far beyond the leeway) */
  t[n].what = "expired";
  payload_for(DEMO_REP, "authenticated", -3600, 0, p, sizeof p);
  craft_token(hs256_header, p, SFX_SECRET, t[n].token, sizeof t[n].token);
  t[n++].wire_code = CF_WIRE_TOKEN_EXPIRED;
  /* not valid before an hour from now */
  t[n].what = "not yet valid";
  payload_for(DEMO_REP, "authenticated", 7200, 3600, p, sizeof p);
  craft_token(hs256_header, p, SFX_SECRET, t[n].token, sizeof t[n].token);
  t[n++].wire_code = CF_WIRE_TOKEN_EXPIRED;
  /* for another audience */
  t[n].what = "wrong audience";
  payload_for(DEMO_REP, "some-other-service", 3600, 0, p, sizeof p);
  craft_token(hs256_header, p, SFX_SECRET, t[n].token, sizeof t[n].token);
  t[n++].wire_code = CF_WIRE_AUTH;
  /* alg none, no signature */
  t[n].what = "alg none";
  payload_for(DEMO_REP, "authenticated", 3600, 0, p, sizeof p);
  craft_token("{\"alg\":\"none\",\"typ\":\"JWT\"}", p, NULL, t[n].token,
              sizeof t[n].token);
  t[n++].wire_code = CF_WIRE_AUTH;
  /* alg none spelled otherwise, with the real signature appended */
  t[n].what = "alg None with signature";
  payload_for(DEMO_REP, "authenticated", 3600, 0, p, sizeof p);
  craft_token("{\"alg\":\"None\",\"typ\":\"JWT\"}", p, SFX_SECRET, t[n].token,
              sizeof t[n].token);
  t[n++].wire_code = CF_WIRE_AUTH;
  /* not a JWT at all */
  t[n].what = "garbage";
  snprintf(t[n].token, sizeof t[n].token, "%s", "not.a.token");
  t[n++].wire_code = CF_WIRE_AUTH;
  return n;
}

CF_TEST(test_sync_hello_refuses_forged_expired_early_wrong_audience_and_alg_none_tokens) {
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *n = sfx_node("rep", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, n);
  sfx_node_exec(
      n, "UPDATE contacts SET phone = '+1-bad' WHERE id = '" DEMO_CONTACT("06") "'");

  /* The crafting itself is right: a well-formed token is accepted. */
  char p[512], good[2048];
  payload_for(DEMO_REP, "authenticated", 3600, 0, p, sizeof p);
  craft_token(hs256_header, p, SFX_SECRET, good, sizeof good);
  raw_client ok;
  raw_connect_welcomed(&ok, &f, good, DEMO_ORG);
  raw_free(&ok);

  static bad_token bad[16];
  int nbad = make_bad_tokens(bad);
  for (int i = 0; i < nbad; i++) {
    /* The wire: an ERROR frame, then the server closes the session. */
    raw_client c;
    raw_connect(&c, &f, 0);
    raw_hello(&c, bad[i].token, DEMO_ORG, NULL);
    cf_frame e;
    raw_expect_frame(&c, &e);
    CHECK_MSG(e.type == CF_FRAME_ERROR, "%s: got %s", bad[i].what,
              cf__frame_type_name(e.type));
    CHECK_MSG(e.u.error.code == bad[i].wire_code, "%s: ERROR %s (%.*s)", bad[i].what,
              cf__wire_error_name(e.u.error.code), (int)e.u.error.message.n,
              e.u.error.message.p);
    cf__frame_free(&e);
    CHECK_MSG(raw_run_until(&c, raw_is_closed), "%s: session not closed", bad[i].what);
    CHECK_EQ(c.close_code, CF_WS_CLOSE_POLICY);
    raw_free(&c);
    /* A node: CF_AUTH, and its change stays in the outbox. */
    sfx_sync_result r = sfx_sync_with(&f, n, bad[i].token);
    CHECK_MSG(r.rc == CF_AUTH, "%s: cf_sync_run gave %s: %s", bad[i].what,
              cf_strerror(r.rc), r.errmsg);
    CHECK_EQ(r.count[CF_SYNC_PUSHED], 0);
    CHECK_EQ(sfx_outbox(n), 1);
  }
  char phone[64];
  sfx_sql_text(&f, "SELECT phone FROM contacts WHERE id = '" DEMO_CONTACT("06") "'",
               phone, sizeof phone);
  CHECK_STR(phone, "+1-555-0106");
  /* The server is unharmed: a good token syncs. */
  sfx_sync_result r = sfx_sync_ok(&f, n);
  CHECK_EQ(r.count[CF_SYNC_APPLIED], 1);
  cf_node_close(n);
  sfx_close(&f);
}

CF_TEST(test_sync_token_of_user_a_cannot_act_as_user_b) {
  sync_fx f;
  sfx_open(&f, 1);
  char *owner_token = sfx_token(DEMO_OWNER, 3600);
  /* HELLO naming the rep, with the owner's token. */
  raw_client c;
  raw_connect(&c, &f, 0);
  raw_hello(&c, owner_token, DEMO_ORG, DEMO_REP);
  raw_expect_error_and_close(&c, CF_WIRE_FORBIDDEN);
  raw_free(&c);
  /* A replica of the rep synced with the owner's token. */
  cf_node *n = sfx_node("rep", DEMO_ORG, DEMO_REP);
  sfx_node_exec(n, "INSERT INTO contacts (first_name) VALUES ('Impostor')");
  sfx_sync_result r = sfx_sync_with(&f, n, owner_token);
  CHECK_MSG(r.rc == CF_PERMISSION || r.rc == CF_AUTH, "cf_sync_run gave %s: %s",
            cf_strerror(r.rc), r.errmsg);
  CHECK_EQ(r.count[CF_SYNC_PUSHED], 0);
  CHECK_EQ(sfx_outbox(n), 1);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE first_name = 'Impostor'"),
           0);
  /* A user of another org cannot open this org at all. */
  char *nw_token = sfx_token(NW_REP, 3600);
  raw_connect(&c, &f, 0);
  raw_hello(&c, nw_token, DEMO_ORG, NULL);
  cf_frame e;
  raw_expect_frame(&c, &e);
  CHECK_MSG(e.type == CF_FRAME_ERROR || e.type == CF_FRAME_ACCESS_REVOKED, "got %s",
            cf__frame_type_name(e.type));
  if (e.type == CF_FRAME_ERROR) CHECK_EQ(e.u.error.code, CF_WIRE_FORBIDDEN);
  cf__frame_free(&e);
  CHECK(raw_run_until(&c, raw_is_closed));
  raw_free(&c);
  /* With its own token the rep's replica syncs. */
  r = sfx_sync_ok(&f, n);
  CHECK_EQ(r.count[CF_SYNC_APPLIED], 1);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE first_name = 'Impostor'"),
           1);
  cf_token_free(owner_token);
  cf_token_free(nw_token);
  cf_node_close(n);
  sfx_close(&f);
}

/* Sends AUTH with token on c. */
static void raw_auth(raw_client *c, const char *token) {
  cf_auth_frame a = {{token, strlen(token)}};
  cf_buf b;
  cf__buf_init(&b, CF_CODEC_MAX_FRAME);
  CHECK_OK(cf__encode_auth(&a, &b));
  raw_send(c, b.p, b.len);
  cf__buf_free(&b);
}

/* Runs c's loop for ms milliseconds (to show that nothing closes it). */
static void raw_run_for(raw_client *c, int64_t ms) {
  int64_t until = sfx_monotonic_ms() + ms;
  while (!c->closed && sfx_monotonic_ms() < until)
    CHECK_OK(cf__ws_client_run_once(c->cli, 50));
}

CF_TEST(test_sync_session_closes_when_its_token_expires_and_auth_extends_it) {
  sync_fx f;
  sfx_open(&f, 1);
  /* A session whose token expires within 2 s is closed then: ERROR
  ** token_expired and close code 1008, not at once. */
  char *short_a = sfx_token(DEMO_OWNER, 2);
  raw_client a;
  raw_connect_welcomed(&a, &f, short_a, DEMO_ORG);
  int64_t welcomed = sfx_monotonic_ms();
  raw_expect_error_and_close(&a, CF_WIRE_TOKEN_EXPIRED);
  CHECK_MSG(sfx_monotonic_ms() - welcomed >= 300, "closed %lld ms after WELCOME",
            (long long)(sfx_monotonic_ms() - welcomed));
  CHECK_EQ(a.close_code, CF_WS_CLOSE_POLICY);
  raw_free(&a);

  /* A fresh token presented on the open socket moves the deadline. */
  char *short_b = sfx_token(DEMO_OWNER, 2);
  char *fresh = sfx_token(DEMO_OWNER, 3600);
  raw_client b;
  raw_connect_welcomed(&b, &f, short_b, DEMO_ORG);
  raw_auth(&b, fresh);
  cf_frame ok;
  raw_expect_frame(&b, &ok);
  CHECK_MSG(ok.type == CF_FRAME_AUTH_OK, "expected AUTH_OK, got %s",
            cf__frame_type_name(ok.type));
  CHECK(ok.u.auth_ok.token_exp > (int64_t)(cf__now_ms() / 1000) + 3000);
  cf__frame_free(&ok);
  raw_run_for(&b, 3000); /* past the first token's expiry */
  CHECK_MSG(!b.closed, "the session closed (code %d) although AUTH renewed its token",
            b.close_code);
  cf_buf ping;
  cf__buf_init(&ping, 64);
  CHECK_OK(cf__encode_seq(CF_FRAME_PING, 77, &ping));
  raw_send(&b, ping.p, ping.len);
  cf__buf_free(&ping);
  cf_frame pong;
  raw_expect_frame(&b, &pong);
  CHECK(pong.type == CF_FRAME_PONG && pong.u.ping.nonce == 77);
  cf__frame_free(&pong);

  /* A token of another user on the same socket is refused and closes it. */
  char *other = sfx_token(DEMO_REP, 3600);
  raw_auth(&b, other);
  raw_expect_error_and_close(&b, CF_WIRE_FORBIDDEN);
  raw_free(&b);
  cf_token_free(short_a);
  cf_token_free(short_b);
  cf_token_free(fresh);
  cf_token_free(other);
  sfx_close(&f);
}

typedef struct watch_ctx {
  cf_sync *s; /* the live sync */
  int rc;     /* cf_sync_watch's result */
} watch_ctx;

static void *watch_main(void *arg) {
  watch_ctx *w = arg;
  w->rc = cf_sync_watch(w->s);
  return NULL;
}

CF_TEST(test_sync_watch_keeps_its_socket_past_expiry_after_set_token) {
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *n = sfx_node("watcher", DEMO_ORG, DEMO_OWNER);
  sfx_sync_ok(&f, n);
  char *short_tok = sfx_token(DEMO_OWNER, 2);
  char *fresh = sfx_token(DEMO_OWNER, 3600);
  /* The replica is opened a second time for the watcher thread: a node is
  ** used by one thread at a time. */
  cf_node *wn = sfx_node("watcher", DEMO_ORG, DEMO_OWNER);
  watch_ctx w = {NULL, -1};
  CHECK_OK(cf_sync_new(wn, f.ws_url, short_tok, &w.s));
  pthread_t t;
  CHECK(pthread_create(&t, NULL, watch_main, &w) == 0);
  CHECK_OK(cf_sync_set_token(w.s, fresh));
  /* Past the first token's expiry, a direct write on the master still
  ** reaches the replica live: the socket was kept (or, had it dropped, the
  ** reconnect would use the new token). */
  int64_t until = sfx_monotonic_ms() + 3000;
  while (sfx_monotonic_ms() < until)
    cf__sleep_ms(50); /* let the old token expire */
  sfx_sql(&f, "UPDATE contacts SET phone = '+1-555-4242' WHERE id = '" DEMO_CONTACT(
                  "03") "'");
  int64_t deadline = sfx_monotonic_ms() + 15000;
  char phone[64] = "";
  while (sfx_monotonic_ms() < deadline) {
    sfx_node_text(n, "SELECT phone FROM contacts WHERE id = '" DEMO_CONTACT("03") "'",
                  phone, sizeof phone);
    if (strcmp(phone, "+1-555-4242") == 0) break;
    cf__sleep_ms(20);
  }
  cf_sync_stop(w.s);
  pthread_join(t, NULL);
  CHECK_STR(phone, "+1-555-4242");
  CHECK_EQ(w.rc, CF_OK);
  cf_sync_free(w.s);
  cf_node_close(wn);
  cf_node_close(n);
  cf_token_free(short_tok);
  cf_token_free(fresh);
  sfx_close(&f);
}
